// The Llama-family transformer (SmolLM2, Llama 3, Qwen 2/3), forward pass with hook points.
//
//   x₀        = E[tokens]                                           hook_embed, resid_pre
//   per layer l:
//     a       = RMSNorm(x; w_attn)                                  ln1.hook_scale
//     q, k, v = a · W_qkvᵀ (+ b_qkv);  [Qwen 3: RMSNorm per head];  RoPE(q, k)
//     P_i     = softmax(q_i k_gᵀ / √e, causal)                      attn.hook_pattern
//     o       = concat_i(P_i v_g) · W_Oᵀ                            hook_attn_out
//     x_mid   = x + o                                               hook_resid_mid
//     u       = RMSNorm(x_mid; w_mlp)                               ln2.hook_scale, mlp.hook_in
//     y       = (silu(u · W_gateᵀ) ⊙ (u · W_upᵀ)) · W_downᵀ          hook_mlp_out
//     x       = x_mid + y                                           hook_resid_post
//   logits    = RMSNorm(x; w_final) · W_Uᵀ                          ln_final.hook_scale / hook_normalized
//
// Query, key and value projections are stored fused ([(h + 2g)·e, d]) and so are gate and up
// ([2m, d]), so each is one matrix product over all rows of all prompts.

import TensorCore

/// One transformer block's weights (PyTorch layout: [out, in]).
public struct LlamaLayerWeights: Sendable {
    /// [d] attn_norm / input_layernorm
    public var attentionNorm: Tensor
    /// [(h + 2g)·e, d] attn_q ‖ attn_k ‖ attn_v
    public var qkv: Tensor
    /// [(h + 2g)·e] when the model has attention biases
    public var qkvBias: Tensor?
    /// [e] each, when the model normalises query and key heads
    public var queryNorm: Tensor?
    public var keyNorm: Tensor?
    /// [d, h·e] attn_output / o_proj
    public var output: Tensor
    /// [d] ffn_norm / post_attention_layernorm
    public var mlpNorm: Tensor
    /// [2m, d] ffn_gate ‖ ffn_up
    public var gateUp: Tensor
    /// [d, m] ffn_down / down_proj
    public var down: Tensor
}

/// A loaded Llama-family model.
public final class LlamaModel: @unchecked Sendable {
    public let configuration: ModelConfiguration
    /// [v, d] token_embd / embed_tokens
    public let embedding: Tensor
    public let layers: [LlamaLayerWeights]
    /// [d] output_norm / model.norm
    public let finalNorm: Tensor
    /// [v, d] output / lm_head (the embedding when tied)
    public let unembedding: Tensor
    let rotary: RotaryTable

    public init(configuration: ModelConfiguration, embedding: Tensor, layers: [LlamaLayerWeights],
                finalNorm: Tensor, unembedding: Tensor?) throws {
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
        for (l, w) in layers.enumerated() {
            try check(w.attentionNorm, [c.width], "layer \(l) attention norm")
            try check(w.qkv, [c.qkvWidth, c.width], "layer \(l) qkv")
            if let b = w.qkvBias { try check(b, [c.qkvWidth], "layer \(l) qkv bias") }
            if let n = w.queryNorm { try check(n, [c.headDimension], "layer \(l) query norm") }
            if let n = w.keyNorm { try check(n, [c.headDimension], "layer \(l) key norm") }
            try check(w.output, [c.width, c.heads * c.headDimension], "layer \(l) output")
            try check(w.mlpNorm, [c.width], "layer \(l) MLP norm")
            try check(w.gateUp, [2 * c.mlpWidth, c.width], "layer \(l) gate/up")
            try check(w.down, [c.width, c.mlpWidth], "layer \(l) down")
        }
        if let unembedding { try check(unembedding, [c.vocabularySize, c.width], "unembedding") }
        self.configuration = configuration
        self.embedding = embedding
        self.layers = layers
        self.finalNorm = finalNorm
        self.unembedding = unembedding ?? embedding
        self.rotary = RotaryTable(inverseFrequencies: c.rope.inverseFrequencies, positions: c.contextLength)
    }

    /// The value projection of a layer, [g·e, d] (rows of the fused qkv weight).
    public func valueWeight(layer: Int) throws -> Tensor {
        let c = configuration
        return try layers[layer].qkv.slice(axis: 0, ((c.heads + c.keyValueHeads) * c.headDimension)..<c.qkvWidth)
    }

    /// The value bias of a layer, [g·e], when the model has attention biases.
    public func valueBias(layer: Int) throws -> Tensor? {
        let c = configuration
        return try layers[layer].qkvBias?.slice(axis: 0, ((c.heads + c.keyValueHeads) * c.headDimension)..<c.qkvWidth)
    }
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

extension LlamaModel {
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

    private func run(
        _ batch: [[Int]], cache selection: CacheSelection, hooks: [HookPoint: Hook],
        logits: LogitSelection, kvCache: UnsafeMutablePointer<KVCache>?
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
        var run = ForwardRun(selection: selection, hooks: hooks)

        var x = try embedding.gatherRows(Array(batch.joined())).reshaped([b, n, c.width])
        try run.visit(.embed, &x)
        for l in 0..<c.layers {
            let w = layers[l]
            try run.visit(.residPre(layer: l), &x)
            let normed = try run.normalize(x, weight: w.attentionNorm, epsilon: c.rmsEpsilon, scalePoint: .attnNormScale(layer: l))
            var attention = try attend(normed, layer: l, start: start, run: &run, kvCache: kvCache)
            try run.visit(.attnOut(layer: l), &attention)
            x = try x + attention
            try run.visit(.residMid(layer: l), &x)
            var mlpInput = try run.normalize(x, weight: w.mlpNorm, epsilon: c.rmsEpsilon, scalePoint: .mlpNormScale(layer: l))
            try run.visit(.mlpIn(layer: l), &mlpInput)
            var mlpOutput = try mlp(mlpInput, layer: l)
            try run.visit(.mlpOut(layer: l), &mlpOutput)
            x = try x + mlpOutput
            try run.visit(.residPost(layer: l), &x)
        }
        kvCache?.pointee.advance(by: n)
        var final = try run.normalize(x, weight: finalNorm, epsilon: c.rmsEpsilon, scalePoint: .finalNormScale)
        try run.visit(.finalNormalized, &final)

        let rows: Tensor
        switch logits {
        case .none: rows = try Tensor(zeros: [b, 0, c.width])
        case .last: rows = try final.slice(axis: 1, (n - 1)..<n)
        case .all: rows = final
        }
        return ForwardResult(logits: try Tensor.matmul(rows, unembedding, transposeB: true), cache: run.cache)
    }

    /// The gated MLP: (silu(u W_gateᵀ) ⊙ u W_upᵀ) W_downᵀ.
    func mlp(_ u: Tensor, layer l: Int) throws -> Tensor {
        let m = configuration.mlpWidth
        let gateUp = try Tensor.matmul(u, layers[l].gateUp, transposeB: true)      // [b, n, 2m]
        let rows = gateUp.count / (2 * m)
        let hidden = try Tensor(shape: Array(u.shape.dropLast()) + [m]) { out in
            gateUp.scalars.withUnsafeBufferPointer { gu in
                for r in 0..<rows {
                    let g = gu.baseAddress! + r * 2 * m, o = out.baseAddress! + r * m
                    for i in 0..<m {
                        let gate = g[i]
                        o[i] = gate / (1 + fastExp(-gate)) * g[m + i]
                    }
                }
            }
        }
        return try Tensor.matmul(hidden, layers[l].down, transposeB: true)
    }

    /// Self-attention of one layer over every prompt of the batch → [b, n, d].
    func attend(_ normed: Tensor, layer l: Int, start: Int, run: inout ForwardRun,
                kvCache: UnsafeMutablePointer<KVCache>?) throws -> Tensor {
        let c = configuration, w = layers[l]
        let (b, n) = (normed.shape[0], normed.shape[1])
        let (h, g, e) = (c.heads, c.keyValueHeads, c.headDimension)
        var qkv = try Tensor.matmul(normed, w.qkv, transposeB: true)                  // [b, n, (h+2g)e]
        if let bias = w.qkvBias { qkv = try qkv + bias }
        let split = try qkv.reshaped([b * n, c.qkvWidth])
        var q = try split.slice(axis: 1, 0..<(h * e)).reshaped([b, n, h, e])
        var k = try split.slice(axis: 1, (h * e)..<((h + g) * e)).reshaped([b, n, g, e])
        let v = try split.slice(axis: 1, ((h + g) * e)..<c.qkvWidth).reshaped([b, n, g, e])
        if let qn = w.queryNorm, let kn = w.keyNorm {
            q = try q.reshaped([b * n * h, e]).rmsNorm(weight: qn, epsilon: c.rmsEpsilon).output.reshaped([b, n, h, e])
            k = try k.reshaped([b * n * g, e]).rmsNorm(weight: kn, epsilon: c.rmsEpsilon).output.reshaped([b, n, g, e])
        }
        let scale = 1 / Float(e).squareRoot()
        var patterns = [Tensor](), mixed = [Tensor]()
        for j in 0..<b {
            let qj = try q.row(j).applyingRotary(rotary, style: c.rope.style, startPosition: start)
            var kj = try k.row(j).applyingRotary(rotary, style: c.rope.style, startPosition: start)
            var vj = try v.row(j)
            if let kvCache { (kj, vj) = try kvCache.pointee.append(layer: l, keys: kj, values: vj) }
            patterns.append(try Attention.pattern(queries: qj, keys: kj, scale: scale, queryOffset: start))
        }
        // One prompt needs no stacking: its pattern is the batch (saves two copies of [h, n, n]).
        var pattern = b == 1 ? try patterns[0].reshaped([1] + patterns[0].shape) : try Tensor.stack(patterns)
        try run.visit(.attnPattern(layer: l), &pattern)                                 // [b, h, n, n_k]
        for j in 0..<b {
            let vj = try kvCache.map { $0.pointee.values[l] } ?? v.row(j)
            let pj = b == 1 ? try pattern.reshaped(Array(pattern.shape.dropFirst())) : try pattern.row(j)
            mixed.append(try Attention.mix(pattern: pj, values: vj))
        }
        let z = b == 1 ? try mixed[0].reshaped([1, n, h * e]) : try Tensor.stack(mixed).reshaped([b, n, h * e])
        return try Tensor.matmul(z, w.output, transposeB: true)
    }
}

/// The hooks and cache of one forward pass.
struct ForwardRun {
    let selection: CacheSelection
    let hooks: [HookPoint: Hook]
    var cache = ActivationCache()

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
    }

    /// RMSNorm whose per-row scale ([b, n]) is a hook point; a replaced scale is applied as given.
    mutating func normalize(_ x: Tensor, weight: Tensor, epsilon: Float, scalePoint: HookPoint) throws -> Tensor {
        let (b, n) = (x.shape[0], x.shape[1])
        let (output, scales) = try x.rmsNorm(weight: weight, epsilon: epsilon)
        guard hooks[scalePoint] != nil || selection.includes(scalePoint) else { return output }
        var s = try scales.reshaped([b, n])
        try visit(scalePoint, &s)
        if s == (try scales.reshaped([b, n])) { return output }
        return try (x * s.reshaped([b, n, 1])) * weight
    }
}
