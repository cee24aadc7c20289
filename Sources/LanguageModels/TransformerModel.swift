// A decoder-only transformer of any registered architecture, and its forward pass with hook
// points. The block is the architecture's (`Architecture.block`); this file evaluates it on
// activations:
//
//   x₀        = E[tokens] (· √d for Gemma)                          hook_embed
//   per layer l: the architecture's block (see Architectures/), whose pieces are
//     norm    x · s · w, s = 1 / rms(x)                              ln*.hook_scale
//     attention: q, k, v = a · W_qkvᵀ (+ b_qkv); [q/k norms]; RoPE(q, k) (local or global base);
//             P_i = softmax(cap(q_i k_gᵀ · scale), causal, [window]) attn.hook_pattern
//             o = concat_i(P_i v_g) · W_Oᵀ
//     MLP     (act(u · W_gateᵀ) ⊙ (u · W_upᵀ)) · W_downᵀ             mlp.hook_out
//   logits    = cap(norm(x; w_final) · W_Uᵀ)                         ln_final.hook_scale / hook_normalized
//
// Query, key and value projections are stored fused ([(h + 2g)·e, d]) and so are gate and up
// ([2m, d]), so each is one matrix product over all rows of all prompts.

import Foundation
import TensorCore

/// One transformer block's weights (PyTorch layout: [out, in]). Norm weights are the factor the
/// normalised value is multiplied by (Gemma's 1 + w already added).
public struct LayerWeights: Sendable {
    /// [d] the norm before attention
    public var attentionNorm: Tensor
    /// [(h + 2g)·e, d] query ‖ key ‖ value
    public var qkv: Tensor
    /// [(h + 2g)·e] when the model has attention biases
    public var qkvBias: Tensor?
    /// [e] each, when the model normalises query and key heads
    public var queryNorm: Tensor?
    public var keyNorm: Tensor?
    /// [d, h·e] attention output
    public var output: Tensor
    /// [d] the norm after attention (Gemma)
    public var postAttentionNorm: Tensor?
    /// [d] the norm before the MLP
    public var mlpNorm: Tensor
    /// [2m, d] gate ‖ up
    public var gateUp: Tensor
    /// [d, m] down
    public var down: Tensor
    // (an ungated MLP, GPT-2's, has only `up` in `gateUp`: [m, d])
    /// [d] the norm after the MLP (Gemma)
    public var postMLPNorm: Tensor?
    /// Biases of LayerNorm models (GPT-2): [d] each norm's, [d] the output projection's, [m] the
    /// MLP's first and [d] its second projection's.
    public var attentionNormBias: Tensor?, mlpNormBias: Tensor?, outputBias: Tensor?, upBias: Tensor?, downBias: Tensor?

    public init(attentionNorm: Tensor, qkv: Tensor, qkvBias: Tensor? = nil, queryNorm: Tensor? = nil, keyNorm: Tensor? = nil,
                output: Tensor, postAttentionNorm: Tensor? = nil, mlpNorm: Tensor, gateUp: Tensor, down: Tensor,
                postMLPNorm: Tensor? = nil, attentionNormBias: Tensor? = nil, mlpNormBias: Tensor? = nil, outputBias: Tensor? = nil,
                upBias: Tensor? = nil, downBias: Tensor? = nil) {
        self.attentionNormBias = attentionNormBias
        self.mlpNormBias = mlpNormBias
        self.outputBias = outputBias
        self.upBias = upBias
        self.downBias = downBias
        self.attentionNorm = attentionNorm
        self.qkv = qkv
        self.qkvBias = qkvBias
        self.queryNorm = queryNorm
        self.keyNorm = keyNorm
        self.output = output
        self.postAttentionNorm = postAttentionNorm
        self.mlpNorm = mlpNorm
        self.gateUp = gateUp
        self.down = down
        self.postMLPNorm = postMLPNorm
    }
}

/// A loaded model: configuration, weights and architecture.
public final class TransformerModel: @unchecked Sendable {
    public let configuration: ModelConfiguration
    public let architecture: any Architecture.Type
    /// [v, d] token embedding (unscaled)
    public let embedding: Tensor
    public let layers: [LayerWeights]
    /// [d] the final norm
    public let finalNorm: Tensor
    /// [v, d] the unembedding (the embedding when tied)
    public let unembedding: Tensor
    /// [d] the final norm's bias (LayerNorm models)
    public let finalNormBias: Tensor?
    /// [context, d] learned position embeddings (GPT-2)
    public let positionEmbedding: Tensor?
    let rotary: RotaryTable
    /// Sliding layers' table, when their RoPE differs.
    let localRotary: RotaryTable?

    public init(configuration: ModelConfiguration, architecture: any Architecture.Type, embedding: Tensor,
                layers: [LayerWeights], finalNorm: Tensor, unembedding: Tensor?, finalNormBias: Tensor? = nil,
                positionEmbedding: Tensor? = nil) throws {
        try configuration.validate(source: configuration.architecture)
        let c = configuration
        func check(_ t: Tensor, _ shape: [Int], _ name: String) throws {
            guard t.shape == shape else {
                throw LanguageModelError.invalidConfiguration(source: c.architecture, reason: "\(name) has shape \(t.shape), expected \(shape)")
            }
        }
        try check(embedding, [c.vocabularySize, c.width], "embedding")
        try check(finalNorm, [c.width], "final norm")
        guard layers.count == c.layers else {
            throw LanguageModelError.invalidConfiguration(source: c.architecture, reason: "\(layers.count) layers given, configuration says \(c.layers)")
        }
        let required = architecture.requiredTensors
        for (l, w) in layers.enumerated() {
            try check(w.attentionNorm, [c.width], "layer \(l) attention norm")
            try check(w.qkv, [c.qkvWidth, c.width], "layer \(l) qkv")
            if let b = w.qkvBias { try check(b, [c.qkvWidth], "layer \(l) qkv bias") }
            guard (w.queryNorm == nil) == (w.keyNorm == nil) else {
                throw LanguageModelError.invalidConfiguration(source: c.architecture, reason: "layer \(l) has a query norm or a key norm without the other")
            }
            if let n = w.queryNorm { try check(n, [c.headDimension], "layer \(l) query norm") }
            if let n = w.keyNorm { try check(n, [c.headDimension], "layer \(l) key norm") }
            try check(w.output, [c.width, c.heads * c.headDimension], "layer \(l) output")
            try check(w.mlpNorm, [c.width], "layer \(l) MLP norm")
            try check(w.gateUp, [(c.gatedMLP ? 2 : 1) * c.mlpWidth, c.width], c.gatedMLP ? "layer \(l) gate/up" : "layer \(l) up")
            try check(w.down, [c.width, c.mlpWidth], "layer \(l) down")
            for (name, bias, size) in [("attention norm bias", w.attentionNormBias, c.width), ("MLP norm bias", w.mlpNormBias, c.width),
                                       ("output bias", w.outputBias, c.width), ("up bias", w.upBias, c.mlpWidth), ("down bias", w.downBias, c.width)] {
                if let bias { try check(bias, [size], "layer \(l) \(name)") }
            }
            for (tensor, value) in [(LayerTensor.postAttentionNorm, w.postAttentionNorm), (.postMLPNorm, w.postMLPNorm)] {
                if let value { try check(value, [c.width], "layer \(l) \(tensor)") }
                else if required.contains(tensor) {
                    throw LanguageModelError.invalidConfiguration(source: c.architecture, reason: "layer \(l) has no \(tensor), which \(architecture.ggufNames[0]) needs")
                }
            }
        }
        if let unembedding { try check(unembedding, [c.vocabularySize, c.width], "unembedding") }
        if let finalNormBias { try check(finalNormBias, [c.width], "final norm bias") }
        if c.learnedPositions {
            guard let positionEmbedding else {
                throw LanguageModelError.invalidConfiguration(source: c.architecture, reason: "learned positions need a position embedding")
            }
            try check(positionEmbedding, [c.contextLength, c.width], "position embedding")
        }
        self.finalNormBias = finalNormBias
        self.positionEmbedding = positionEmbedding
        self.configuration = configuration
        self.architecture = architecture
        self.embedding = embedding
        self.layers = layers
        self.finalNorm = finalNorm
        self.unembedding = unembedding ?? embedding
        self.rotary = RotaryTable(inverseFrequencies: c.rope.inverseFrequencies, positions: c.contextLength)
        self.localRotary = c.localRope.flatMap { local in
            local == c.rope ? nil : RotaryTable(inverseFrequencies: local.inverseFrequencies, positions: c.contextLength)
        }
    }

    /// Every weight, counted once (a tied unembedding is the embedding).
    public var parameterCount: Int {
        var n = embedding.count + finalNorm.count + (finalNormBias?.count ?? 0) + (positionEmbedding?.count ?? 0)
        if !configuration.tiedEmbeddings { n += unembedding.count }
        for w in layers {
            let optional = [w.qkvBias, w.queryNorm, w.keyNorm, w.postAttentionNorm, w.postMLPNorm, w.attentionNormBias, w.mlpNormBias,
                            w.outputBias, w.upBias, w.downBias]
            n += w.attentionNorm.count + w.qkv.count + w.output.count + w.mlpNorm.count + w.gateUp.count + w.down.count
            n += optional.reduce(0) { $0 + ($1?.count ?? 0) }
        }
        return n
    }

    /// Floating-point operations (a multiply-add counts two) of the products in one forward pass of
    /// an `n`-token prompt that yields the last position's logits, as `forward` runs it: every
    /// layer's weight products on every row, except the last layer, whose queries, keys and
    /// values are computed on every row but whose output projection and MLP run on the last row
    /// only; attention scores and mixing over the keys each query sees (causal, and within the
    /// window on sliding layers); the unembedding of one row. Norms, activations and rotary
    /// embeddings are left out (a few per cent); a benchmark divides this by a machine's
    /// matrix-product rate for the fastest such a pass can run there.
    public func productFloatOps(tokens n: Int) -> Double {
        let c = configuration
        var total = 2.0 * Double(c.vocabularySize) * Double(c.width)
        for (l, w) in layers.enumerated() {
            let last = l == c.layers - 1, rows = Double(last ? 1 : n)
            total += 2 * Double(n) * Double(w.qkv.count) + 2 * rows * Double(w.output.count + w.gateUp.count + w.down.count)
            let window = c.window(layer: l) ?? n
            let keys = ((last ? n - 1 : 0)..<n).reduce(0) { $0 + min($1 + 1, window) }
            total += 4 * Double(c.heads * c.headDimension) * Double(keys)
        }
        return total
    }

    /// Whether prompts start with the BOS token.
    public var startsWithBOS: Bool { architecture.startsWithBOS }

    /// Every hook point of the model, in forward order.
    public var hookPoints: [HookPoint] {
        [.embed] + (0..<configuration.layers).flatMap { architecture.points(layer: $0) } + [.finalNormScale, .finalNormalized]
    }

    /// The hook point a TransformerLens name (`blocks.6.hook_resid_post`, `hook_embed`) names on
    /// this model; throws naming the problem when the name is unknown or the layer out of range.
    public func hookPoint(named name: String) throws -> HookPoint {
        if let point = hookPoints.first(where: { $0.description == name }) { return point }
        let parts = name.split(separator: ".", maxSplits: 2)
        if parts.count == 3, parts[0] == "blocks", let l = Int(parts[1]), l < 0 || l >= configuration.layers {
            throw LanguageModelError.invalidLayer(layer: l, layers: configuration.layers)
        }
        let examples = ["hook_embed", "blocks.0.hook_resid_pre", "blocks.0.hook_resid_post", "blocks.0.hook_mlp_out"]
        throw LanguageModelError.unknownHook(name: name, examples: examples)
    }

    /// The width of a hook point's rows ([b, n, width]); nil for attention patterns and norm scales.
    public func width(of point: HookPoint) -> Int? {
        let c = configuration
        switch point {
        case .attnPattern, .attnNormScale, .attnPostNormScale, .mlpNormScale, .mlpPostNormScale, .finalNormScale: return nil
        case .attnQ, .attnZ: return c.heads * c.headDimension
        case .attnK, .attnV: return c.keyValueHeads * c.headDimension
        default: return c.width
        }
    }

    /// The residual stream's start for tokens: embedding rows, times the embedding scale [n, d].
    public func embed(_ tokens: [Int]) throws -> Tensor {
        let rows = try embedding.gatherRows(tokens)
        guard let scale = configuration.embeddingScale else { return rows }
        return rows.scaled(by: scale)
    }

    /// Evaluates the whole model after the embedding: every block, then the final norm.
    public func evaluate<E: BlockEvaluator>(_ embedded: E.Value, _ e: inout E) throws -> E.Value {
        var x = embedded
        try e.visit(.embed, &x)
        if configuration.learnedPositions { x = try e.addPositions(x) }
        return try evaluate(stream: x, fromLayer: 0, &e)
    }

    /// Evaluates the blocks from `first` on, given the stream entering that layer, then the final norm.
    func evaluate<E: BlockEvaluator>(stream: E.Value, fromLayer first: Int, _ e: inout E) throws -> E.Value {
        var x = stream
        for l in first..<configuration.layers { x = try architecture.block(x, layer: l, weights: layers[l], &e) }
        var final = try e.normalize(x, weight: finalNorm, bias: finalNormBias, scale: .finalNormScale, normalized: nil)
        try e.visit(.finalNormalized, &final)
        return final
    }

    /// Logits of final-norm rows: rows · W_Uᵀ, soft-capped when the model caps them.
    public func logits(of rows: Tensor) throws -> Tensor {
        let raw = try linearLogits(of: rows)
        guard let cap = configuration.finalSoftcap else { return raw }
        return raw.map { cap * Foundation.tanh($0 / cap) }
    }

    /// Logits before any soft-cap: rows · W_Uᵀ, linear in the final norm's output (what
    /// attribution's logit nodes are; the same as `logits(of:)` for a model without a cap).
    public func linearLogits(of rows: Tensor) throws -> Tensor { try Tensor.matmul(rows, unembedding, transposeB: true) }

    /// The same for rows whose logits are already computed: those logits themselves when the
    /// model has no cap (no second product with the unembedding).
    public func linearLogits(of rows: Tensor, logits: Tensor) throws -> Tensor {
        configuration.finalSoftcap == nil ? logits : try linearLogits(of: rows)
    }

    private var valueRows: Range<Int> {
        let c = configuration
        return ((c.heads + c.keyValueHeads) * c.headDimension)..<c.qkvWidth
    }

    /// The value projection of a layer, [g·e, d] (rows of the fused qkv weight).
    public func valueWeight(layer: Int) throws -> Tensor { try layers[layer].qkv.slice(axis: 0, valueRows) }

    /// The value bias of a layer, [g·e], when the model has attention biases.
    public func valueBias(layer: Int) throws -> Tensor? { try layers[layer].qkvBias?.slice(axis: 0, valueRows) }
}

// MARK: - Forward pass

/// What a forward pass returns.
public struct ForwardResult: Sendable {
    /// [b, p, v] for the requested positions (p = 1 for `.last`, n for `.all`, 0 for `.none`).
    public var logits: Tensor
    public var cache: ActivationCache
}

/// Which positions get logits.
public enum LogitSelection: Sendable { case none, last, all }

/// Keys and values of earlier positions, for decoding one token at a time (one prompt).
public struct KVCache: Sendable {
    /// [length, g, e] per layer
    var keys: [Tensor]
    var values: [Tensor]
    public private(set) var length: Int = 0

    public init(layers: Int) {
        keys = Array(repeating: Tensor(scalar: 0), count: layers)
        values = keys
    }

    mutating func append(layer: Int, keys k: Tensor, values v: Tensor) throws -> (Tensor, Tensor) {
        if length == 0 {
            keys[layer] = k
            values[layer] = v
        } else {
            keys[layer] = try Tensor.concatenate([keys[layer], k], axis: 0)
            values[layer] = try Tensor.concatenate([values[layer], v], axis: 0)
        }
        return (keys[layer], values[layer])
    }

    mutating func advance(by n: Int) { length += n }
}

extension TransformerModel {
    /// Runs prompts of equal length. `hooks` may read or replace activations; `cache` chooses
    /// what is recorded.
    public func forward(
        _ batch: [[Int]], cache selection: CacheSelection = .none, hooks: [HookPoint: Hook] = [:],
        logits: LogitSelection = .last
    ) throws -> ForwardResult {
        try run(batch, cache: selection, hooks: hooks, logits: logits, kvCache: nil)
    }

    /// Runs one prompt's next tokens after those held in `kvCache`, and extends the cache.
    public func forward(
        _ tokens: [Int], continuing kvCache: inout KVCache, cache selection: CacheSelection = .none,
        hooks: [HookPoint: Hook] = [:], logits: LogitSelection = .last
    ) throws -> ForwardResult {
        try withUnsafeMutablePointer(to: &kvCache) { pointer in
            try run([tokens], cache: selection, hooks: hooks, logits: logits, kvCache: pointer)
        }
    }

    /// Runs the blocks from `first` on, given the residual stream entering that layer ([b, n, d],
    /// what `blocks.first.hook_resid_pre` holds), then the final norm and the logits. The layers
    /// before `first` are not run: an analysis that changes nothing before `first` (a patch at
    /// that layer, say) reuses one earlier run's residual instead of repeating them.
    public func forward(
        residual: Tensor, fromLayer first: Int, cache selection: CacheSelection = .none, hooks: [HookPoint: Hook] = [:],
        logits: LogitSelection = .last
    ) throws -> ForwardResult {
        let c = configuration
        guard (0...c.layers).contains(first) else { throw LanguageModelError.invalidLayer(layer: first, layers: c.layers) }
        guard residual.rank == 3, residual.shape[2] == c.width, residual.shape[1] > 0 else {
            throw LanguageModelError.hookShape(hook: HookPoint.residPre(layer: first).description, expected: [1, 1, c.width], found: residual.shape)
        }
        guard residual.shape[1] <= c.contextLength else { throw LanguageModelError.promptTooLong(tokens: residual.shape[1], context: c.contextLength) }
        var e = ForwardEvaluator(model: self, run: ForwardRun(selection: selection, hooks: hooks), start: 0, kvCache: nil)
        let final = try evaluate(stream: residual, fromLayer: first, &e)
        return try result(final, logits: logits, cache: e.run.cache)
    }

    /// A forward pass's answer: the logits `selection` asks for, from the final norm's output [b, n, d].
    private func result(_ final: Tensor, logits selection: LogitSelection, cache: ActivationCache) throws -> ForwardResult {
        let (b, n) = (final.shape[0], final.shape[1])
        let rows: Tensor
        switch selection {
        case .none: rows = try Tensor(zeros: [b, 0, configuration.width])
        case .last: rows = try final.slice(axis: 1, (n - 1)..<n)
        case .all: rows = final
        }
        return ForwardResult(logits: try self.logits(of: rows), cache: cache)
    }

    /// The final norm of residual-stream rows ([..., d]) with each row's own scale (the logit lens).
    public func finalNormalized(_ rows: Tensor) throws -> Tensor {
        switch configuration.normKind {
        case .rms: try rows.rmsNorm(weight: finalNorm, epsilon: configuration.rmsEpsilon).output
        case .layer: try rows.layerNorm(weight: finalNorm, bias: finalNormBias, epsilon: configuration.rmsEpsilon).output
        }
    }

    /// Runs prompts of equal length only as far as `points` (the layers after the last of them
    /// are not run, no logits) and returns their activations.
    public func activations(_ batch: [[Int]], at points: Set<HookPoint>, hooks: [HookPoint: Hook] = [:]) throws -> ActivationCache {
        guard !points.isEmpty else { return ActivationCache() }
        return try run(batch, cache: .points(points), hooks: hooks, logits: .none, kvCache: nil, stopAfter: points).cache
    }

    private func run(
        _ batch: [[Int]], cache selection: CacheSelection, hooks: [HookPoint: Hook],
        logits: LogitSelection, kvCache: UnsafeMutablePointer<KVCache>?, stopAfter: Set<HookPoint>? = nil
    ) throws -> ForwardResult {
        let c = configuration
        guard let n = batch.first?.count, n > 0 else { throw LanguageModelError.emptyPrompt }
        guard batch.allSatisfy({ $0.count == n }) else { throw LanguageModelError.unequalBatch(lengths: batch.map(\.count)) }
        let start = kvCache?.pointee.length ?? 0
        guard kvCache == nil || batch.count == 1 else { throw LanguageModelError.unequalBatch(lengths: batch.map(\.count)) }
        guard start + n <= c.contextLength else { throw LanguageModelError.promptTooLong(tokens: start + n, context: c.contextLength) }
        for id in batch.joined() where id < 0 || id >= c.vocabularySize {
            throw LanguageModelError.tokenOutOfRange(id: id, vocabularySize: c.vocabularySize)
        }
        let b = batch.count
        var evaluator = ForwardEvaluator(model: self, run: ForwardRun(selection: selection, hooks: hooks, remaining: stopAfter), start: start, kvCache: kvCache)
        // Only the last position's logits, and nothing reads an activation: after the last layer's
        // keys and values, only the last row reaches the logits (causality zeroes the rest).
        if case .last = logits, case .none = selection, hooks.isEmpty, stopAfter == nil { evaluator.lastRowOnlyLayer = c.layers - 1 }
        let embedded = try embed(Array(batch.joined())).reshaped([b, n, c.width])
        if stopAfter != nil {
            do { _ = try evaluate(embedded, &evaluator) } catch is ForwardRun.Stopped {}
            return ForwardResult(logits: try Tensor(zeros: [b, 0, c.vocabularySize]), cache: evaluator.run.cache)
        }
        let final = try evaluate(embedded, &evaluator)
        kvCache?.pointee.advance(by: n)
        return try result(final, logits: logits, cache: evaluator.run.cache)
    }
}

/// A block evaluated on activations [b, n, d]: real norms, attention and MLPs, with hooks.
struct ForwardEvaluator: BlockEvaluator {
    let model: TransformerModel
    var run: ForwardRun
    /// Position of the first token (the KV cache's length).
    let start: Int
    let kvCache: UnsafeMutablePointer<KVCache>?
    /// The layer whose attention computes only the last position's output (every position's keys
    /// and values still): from there on the stream is that one row. Set only when nothing reads
    /// an activation and only the last position's logits are asked for.
    var lastRowOnlyLayer: Int? = nil

    mutating func visit(_ point: HookPoint, _ value: inout Tensor) throws { try run.visit(point, &value) }

    /// a + b; where attention returned only the last row, the other operand (the stream) is cut
    /// to its last row first.
    func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard lastRowOnlyLayer != nil, a.rank == 3, b.rank == 3, a.shape[1] != b.shape[1] else { return try a + b }
        func last(_ t: Tensor) throws -> Tensor { try t.slice(axis: 1, (t.shape[1] - 1)..<t.shape[1]) }
        return a.shape[1] == 1 ? try a + last(b) : try last(a) + b
    }

    mutating func normalize(_ x: Tensor, weight: Tensor, bias: Tensor?, scale: HookPoint, normalized: HookPoint?) throws -> Tensor {
        try run.normalize(x, weight: weight, bias: bias, kind: model.configuration.normKind, epsilon: model.configuration.rmsEpsilon,
                          scalePoint: scale, normalizedPoint: normalized)
    }

    /// Adds the position embeddings of positions start..<start + n to every prompt.
    func addPositions(_ x: Tensor) throws -> Tensor {
        let (b, n, d) = (x.shape[0], x.shape[1], x.shape[2])
        let rows = try model.positionEmbedding!.slice(axis: 0, start..<(start + n))
        var out = x
        for j in 0..<b { for i in 0..<(n * d) { out.scalars[j * n * d + i] += rows.scalars[i] } }
        return out
    }

    /// The gated MLP, (act(u W_gateᵀ) ⊙ u W_upᵀ) W_downᵀ, or the plain one, act(u W_upᵀ + b) W_downᵀ + b.
    func mlp(_ u: Tensor, layer l: Int) throws -> Tensor {
        let m = model.configuration.mlpWidth
        let weights = model.layers[l]
        guard model.configuration.gatedMLP else {
            var hidden = try Tensor.matmul(u, weights.gateUp, transposeB: true)      // [b, n, m]
            if let bias = weights.upBias { hidden = try hidden + bias }
            var out = try Tensor.matmul(hidden.geluTanh(), weights.down, transposeB: true)
            if let bias = weights.downBias { out = try out + bias }
            return out
        }
        let gateUp = try Tensor.matmul(u, weights.gateUp, transposeB: true)      // [b, n, 2m]
        let rows = gateUp.count / (2 * m)
        let activation = model.configuration.mlpActivation
        let hidden = try Tensor(shape: Array(u.shape.dropLast()) + [m]) { out in
            gateUp.scalars.withUnsafeBufferPointer { gu in
                guard let gb = gu.baseAddress, let ob = out.baseAddress else { return }
                let (source, target) = (SharedPointer(gb), SharedPointer(ob))
                // Rows split over the cores, a few at least to each (one row is a few microseconds).
                Parallel.forChunks(rows, minimum: 16) { chunk in
                    for r in chunk {
                        let g = source.floats + r * 2 * m, o = target.floats + r * m
                        switch activation {
                        case .silu:
                            for i in 0..<m {
                                let gate = g[i]
                                o[i] = gate / (1 + fastExp(-gate)) * g[m + i]
                            }
                        case .geluTanh:
                            for i in 0..<m {
                                let x = g[i]
                                o[i] = 0.5 * x * (1 + fastTanh(0.797_884_56 * (x + 0.044_715 * x * x * x))) * g[m + i]
                            }
                        }
                    }
                }
            }
        }
        return try Tensor.matmul(hidden, weights.down, transposeB: true)
    }

    /// Self-attention of one layer over every prompt of the batch → [b, n, d].
    mutating func attention(_ normed: Tensor, layer l: Int) throws -> Tensor {
        let c = model.configuration, w = model.layers[l]
        let (b, n) = (normed.shape[0], normed.shape[1])
        let (h, g, e) = (c.heads, c.keyValueHeads, c.headDimension)
        var qkv = try Tensor.matmul(normed, w.qkv, transposeB: true)                  // [b, n, (h+2g)e]
        if let bias = w.qkvBias { qkv = try qkv + bias }
        let split = try qkv.reshaped([b * n, c.qkvWidth])
        var q = try split.slice(axis: 1, 0..<(h * e)).reshaped([b, n, h * e])
        var k = try split.slice(axis: 1, (h * e)..<((h + g) * e)).reshaped([b, n, g * e])
        var v = try split.slice(axis: 1, ((h + g) * e)..<c.qkvWidth).reshaped([b, n, g * e])
        try run.visit(.attnQ(layer: l), &q)
        try run.visit(.attnK(layer: l), &k)
        try run.visit(.attnV(layer: l), &v)
        q = try q.reshaped([b, n, h, e])
        k = try k.reshaped([b, n, g, e])
        v = try v.reshaped([b, n, g, e])
        if let qn = w.queryNorm, let kn = w.keyNorm {
            q = try q.reshaped([b * n * h, e]).rmsNorm(weight: qn, epsilon: c.rmsEpsilon).output.reshaped([b, n, h, e])
            k = try k.reshaped([b * n * g, e]).rmsNorm(weight: kn, epsilon: c.rmsEpsilon).output.reshaped([b, n, g, e])
        }
        let sliding = c.span(layer: l) == .sliding
        let table = sliding ? model.localRotary ?? model.rotary : model.rotary
        let style = (sliding ? c.localRope?.style : nil) ?? c.rope.style
        // On the last-row layer, one query row (the last position) against every key.
        let lastRowOnly = lastRowOnlyLayer == l
        let queryRows = lastRowOnly ? (n - 1)..<n : 0..<n
        var patterns = [Tensor](), mixed = [Tensor]()
        for j in 0..<b {
            let qj = try (lastRowOnly ? q.row(j).slice(axis: 0, queryRows) : q.row(j))
                .applyingRotary(table, style: style, startPosition: start + queryRows.lowerBound)
            var kj = try k.row(j).applyingRotary(table, style: style, startPosition: start)
            var vj = try v.row(j)
            if let kvCache { (kj, vj) = try kvCache.pointee.append(layer: l, keys: kj, values: vj) }
            patterns.append(try Attention.pattern(queries: qj, keys: kj, scale: c.attentionScale, queryOffset: start + queryRows.lowerBound,
                                                  window: c.window(layer: l), softcap: c.attentionSoftcap))
        }
        // One prompt needs no stacking: its pattern is the batch (saves two copies of [h, n, n]).
        var pattern = b == 1 ? try patterns[0].reshaped([1] + patterns[0].shape) : try Tensor.stack(patterns)
        try run.visit(.attnPattern(layer: l), &pattern)                                 // [b, h, n, n_k]
        for j in 0..<b {
            let vj = try kvCache.map { $0.pointee.values[l] } ?? v.row(j)
            let pj = b == 1 ? try pattern.reshaped(Array(pattern.shape.dropFirst())) : try pattern.row(j)
            mixed.append(try Attention.mix(pattern: pj, values: vj))
        }
        let rows = queryRows.count
        var z = b == 1 ? try mixed[0].reshaped([1, rows, h * e]) : try Tensor.stack(mixed).reshaped([b, rows, h * e])
        try run.visit(.attnZ(layer: l), &z)                                             // [b, n, h·e]
        let o = try Tensor.matmul(z, w.output, transposeB: true)
        return try w.outputBias.map { try o + $0 } ?? o
    }
}

/// The hooks and cache of one forward pass.
struct ForwardRun {
    let selection: CacheSelection
    let hooks: [HookPoint: Hook]
    var cache = ActivationCache()
    /// Points still to record before the run may stop (nil: run to the end).
    var remaining: Set<HookPoint>? = nil

    /// Thrown once every point in `remaining` is recorded, to end the run early.
    struct Stopped: Error {}

    /// Whether anything reads or replaces the point.
    func watches(_ point: HookPoint) -> Bool { hooks[point] != nil || selection.includes(point) }

    /// Applies the hook at `point` (keeping the shape), then records the value if selected.
    mutating func visit(_ point: HookPoint, _ value: inout Tensor) throws {
        if let hook = hooks[point] {
            let shape = value.shape
            try hook(point, &value)
            guard value.shape == shape else {
                throw LanguageModelError.hookShape(hook: point.description, expected: shape, found: value.shape)
            }
        }
        if selection.includes(point) { cache[point] = value }
        if remaining != nil, remaining!.remove(point) != nil, remaining!.isEmpty { throw Stopped() }
    }

    /// A norm (RMSNorm, or LayerNorm with its bias) whose per-row scale ([b, n]) is a hook point,
    /// as is the normalised value before the weight when `normalizedPoint` is given; replaced
    /// values are used as given.
    mutating func normalize(_ x: Tensor, weight: Tensor, bias: Tensor?, kind: NormKind, epsilon: Float,
                            scalePoint: HookPoint, normalizedPoint: HookPoint?) throws -> Tensor {
        let (b, n) = (x.shape[0], x.shape[1])
        let watchNormalized = normalizedPoint.map(watches) ?? false
        guard watches(scalePoint) || watchNormalized else {
            switch kind {
            case .rms: return try x.rmsNorm(weight: weight, epsilon: epsilon).output
            case .layer: return try x.layerNorm(weight: weight, bias: bias, epsilon: epsilon).output
            }
        }
        let (normalizedRows, scales) = switch kind {
        case .rms: try x.rmsNorm(weight: nil, epsilon: epsilon)
        case .layer: try x.layerNorm(weight: nil, bias: nil, epsilon: epsilon)
        }
        var s = try scales.reshaped([b, n])
        try visit(scalePoint, &s)
        var normalized = normalizedRows
        if s != (try scales.reshaped([b, n])) {
            let centred = kind == .layer ? try x - x.mean(axis: -1, keepingAxis: true) : x
            normalized = try centred * s.reshaped([b, n, 1])
        }
        if let normalizedPoint { try visit(normalizedPoint, &normalized) }
        let weighted = try normalized * weight
        return try bias.map { try weighted + $0 } ?? weighted
    }
}
