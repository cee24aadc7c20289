// The local replacement model of one prompt (ATTRIBUTION.md §1–3), built from one forward pass.
//
// Every MLP output is split into sources and constants:
//   y[l, p] = Σ_i a_i · W_dec[i, l]  +  ε[l, p]  +  W_skip · x[l, p]  +  c[l, p]
//             feature nodes             error node   (linear, gradients flow)  no node
// with c = b_dec at positions ≥ 1. The features i are those at position p of every layer that
// writes to l: layer l itself for per-layer transcoders, layers 0…l for a cross-layer transcoder
// (W_dec[i, l] is then feature i's decoder vector for layer l). At position 0 (BOS) there are no feature nodes and the error
// is zero, so c[l, 0] = y[l, 0] − W_skip · x[l, 0]: the attention sink is not explained.
// Attention patterns and every normalisation scale are frozen at their values in this pass,
// which makes every path from a source to a target linear. "MLP input" and "MLP output" are the
// transcoder set's sites (mlp.hook_in → mlp.hook_out by default).

import LanguageModels
import TensorCore
import Transcoders

/// An active transcoder feature.
public struct ActiveFeature: Codable, Sendable, Hashable {
    public let layer: Int
    public let position: Int
    public let feature: Int
    public let activation: Float

    public init(layer: Int, position: Int, feature: Int, activation: Float) {
        self.layer = layer
        self.position = position
        self.feature = feature
        self.activation = activation
    }
}

public struct LocalReplacementModel: Sendable {
    public let tokens: [Int]
    /// The model whose blocks the frozen tape evaluates.
    let model: TransformerModel
    public var configuration: ModelConfiguration { model.configuration }
    /// Active features at positions ≥ 1, in (layer, position, feature) order.
    public let activeFeatures: [ActiveFeature]
    /// W_enc rows of the active features [F, d] (what a feature target reads).
    let encoderVectors: Tensor
    /// Per target layer t: a · W_dec[i, t] of the features i that write to t [count, d] (what a
    /// feature source writes there), in feature order from `writerRanges[t].lowerBound`.
    let writeVectors: [Tensor]
    /// Per target layer t: the active features writing to it, a contiguous range of indices
    /// (its own layer's for per-layer transcoders, layers 0…t's across layers).
    let writerRanges: [Range<Int>]
    /// Per target layer t: the layers whose features write to it.
    let writerLayers: [ClosedRange<Int>]
    /// b_enc of each active feature (a target's bias that no node carries).
    let encoderBiases: [Float]
    /// featureRanges[l][p]: the active features at layer l and position p.
    let featureRanges: [[Range<Int>]]
    /// ε [n, d] per layer (zero at position 0).
    public let errors: [Tensor]
    /// c [n, d] per layer: the part of each MLP output that no node carries.
    let constants: [Tensor]
    /// The residual stream's start for the prompt's tokens [n, d] (embedding rows, scaled).
    let embeddings: Tensor
    /// Frozen scales [n] of every norm, by its scale's hook point.
    let scales: [HookPoint: Tensor]
    /// Frozen attention patterns [h, n, n].
    let patterns: [Tensor]
    /// Where each layer's transcoder reads and writes.
    let inputPoints: [HookPoint], outputPoints: [HookPoint]
    /// The transcoder inputs x [n, d] of the forward pass (for checks).
    let mlpInputs: [Tensor]
    /// Each layer's value projection and bias (sliced once from the fused qkv weights).
    let valueWeights: [Tensor], valueBiases: [Tensor?]
    let skips: [Tensor?]
    let unembedding: Tensor
    /// mean_u W_U[u], [d].
    let meanUnembedding: Tensor
    /// Logits at the last position.
    public let lastLogits: Tensor
    /// The same before any final soft-cap: linear in the final norm's output, so what logit
    /// nodes and their rows are (equal to `lastLogits` for a model without a cap).
    public let linearLogits: Tensor

    public var positions: Int { tokens.count }
    public var layers: Int { configuration.layers }

    /// The hook points a frozen run fixes: every norm's scale and every attention pattern.
    static func frozenPoints(of model: TransformerModel) -> Set<HookPoint> {
        Set(model.hookPoints.filter { point in
            if case .attnPattern = point { return true }
            return point.isNormScale
        })
    }

    /// Runs the model once on `tokens` and freezes what attribution needs.
    public static func build(model: TransformerModel, transcoders: TranscoderSet, tokens: [Int]) throws -> LocalReplacementModel {
        let c = model.configuration
        guard !tokens.isEmpty else { throw AttributionError.emptyPrompt }
        guard tokens.count > 1 else { throw AttributionError.onlyBOS }
        try transcoders.validate(for: model)
        let (n, d, L) = (tokens.count, c.width, c.layers)
        let inputPoints = (0..<L).map(transcoders.inputPoint), outputPoints = (0..<L).map(transcoders.outputPoint)
        let frozen = frozenPoints(of: model)
        let run = try model.forward([tokens], cache: .points(frozen.union(inputPoints).union(outputPoints).union([.finalNormalized])), logits: .last)
        let finalRow = try run.cache[.finalNormalized]!.reshaped([n, d]).slice(axis: 0, (n - 1)..<n)

        var features = [ActiveFeature](), encoderRows = [Float](), biases = [Float]()
        var ranges = [[Range<Int>]](), inputs = [Tensor](), skips = [Tensor?](), affines = [Tensor](), outputs = [Tensor](), decoderBiases = [Tensor]()
        // What each layer's features write to each later layer they reach, a·W_dec rows by target.
        var writes = [[Float]](repeating: [], count: L), layerStarts = [Int]()
        for l in 0..<L {
            // One layer at a time: a lazily loaded set never holds more than one layer's weights,
            // and of a mapped decoder only the active features' rows are read.
            let t = try transcoders[l]
            skips.append(t.skip)
            let x = try run.cache[inputPoints[l]]!.reshaped([n, d])
            let y = try run.cache[outputPoints[l]]!.reshaped([n, d])
            let active = try t.encode(x)
            let ids = Array(Set(active.features[active.rowStarts[1]...].map(Int.init))).sorted()
            let slot = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
            let rows = try t.decoderWeights.rows(ids), span = t.decoderWeights.span
            var layerRanges = [0..<0]           // position 0 has no feature nodes
            layerStarts.append(features.count)
            for p in 1..<n {
                let start = features.count
                for (f, a) in active.row(p) {
                    features.append(ActiveFeature(layer: l, position: p, feature: f, activation: a))
                    encoderRows.append(contentsOf: t.encoder.scalars[(f * d)..<((f + 1) * d)])
                    biases.append(t.encoderBias.scalars[f])
                    let base = slot[f]! * span * d
                    for k in 0..<span { writes[l + k].append(contentsOf: rows[(base + k * d)..<(base + (k + 1) * d)].map { $0 * a }) }
                }
                layerRanges.append(start..<features.count)
            }
            ranges.append(layerRanges)
            affines.append(try t.affine(rows: n, input: x))
            decoderBiases.append(t.decoderBias)
            outputs.append(y)
            inputs.append(x)
        }
        guard !features.isEmpty else { throw AttributionError.noActiveFeatures }
        let writerLayers = (0..<L).map(transcoders.writers)
        let writerRanges = writerLayers.map { layers in
            layerStarts[layers.lowerBound]..<(layers.upperBound + 1 < L ? layerStarts[layers.upperBound + 1] : features.count)
        }
        let writeVectors = try (0..<L).map { try Tensor(shape: [writerRanges[$0].count, d], scalars: writes[$0]) }
        var errors = [Tensor](), constants = [Tensor]()
        for l in 0..<L {
            // ε = y − (what the features write + b_dec + skip); zero at position 0, where the
            // constant is the whole output but its skip term.
            var reconstruction = affines[l]
            addWrites(to: &reconstruction, layer: l, writeVectors: writeVectors, writerRanges: writerRanges,
                      writerLayers: writerLayers, featureRanges: ranges)
            let y = outputs[l]
            var error = try y - reconstruction
            var constant = try Tensor(zeros: [n, d])
            let bias = decoderBiases[l]
            for j in 0..<d {
                // The affine part is b_dec + skip, so the skip term at position 0 is affine − b_dec.
                error.scalars[j] = 0
                constant.scalars[j] = y.scalars[j] - (affines[l].scalars[j] - bias.scalars[j])
            }
            for p in 1..<n { for j in 0..<d { constant.scalars[p * d + j] = bias.scalars[j] } }
            errors.append(error)
            constants.append(constant)
        }
        var scales = [HookPoint: Tensor]()
        for point in frozen where point.isNormScale { scales[point] = try run.cache[point]!.reshaped([n]) }
        return LocalReplacementModel(
            tokens: tokens, model: model, activeFeatures: features,
            encoderVectors: try Tensor(shape: [features.count, d], scalars: encoderRows),
            writeVectors: writeVectors, writerRanges: writerRanges, writerLayers: writerLayers,
            encoderBiases: biases, featureRanges: ranges, errors: errors, constants: constants,
            embeddings: try model.embed(tokens), scales: scales,
            patterns: try (0..<L).map { try run.cache[.attnPattern(layer: $0)]!.reshaped([c.heads, n, n]) },
            inputPoints: inputPoints, outputPoints: outputPoints,
            mlpInputs: inputs,
            valueWeights: try (0..<L).map { try model.valueWeight(layer: $0) },
            valueBiases: try (0..<L).map { try model.valueBias(layer: $0) }, skips: skips,
            unembedding: model.unembedding, meanUnembedding: try model.unembedding.mean(axis: 0),
            lastLogits: try run.logits.reshaped([c.vocabularySize]),
            linearLogits: try model.linearLogits(of: finalRow, logits: run.logits).reshaped([c.vocabularySize]))
    }

    /// out[p] += what the features writing to layer l write at position p (only those of `only`,
    /// when given): the features' part of layer l's MLP output.
    static func addWrites(to out: inout Tensor, layer l: Int, writeVectors: [Tensor], writerRanges: [Range<Int>],
                          writerLayers: [ClosedRange<Int>], featureRanges: [[Range<Int>]], only: Set<Int>? = nil) {
        let d = out.shape.last ?? 0, first = writerRanges[l].lowerBound
        out.scalars.withUnsafeMutableBufferPointer { o in
            writeVectors[l].scalars.withUnsafeBufferPointer { w in
                for s in writerLayers[l] {
                    for (p, range) in featureRanges[s].enumerated() {
                        for i in range where only?.contains(i) ?? true {
                            let row = w.baseAddress! + (i - first) * d, target = o.baseAddress! + p * d
                            for j in 0..<d { target[j] += row[j] }
                        }
                    }
                }
            }
        }
    }

    /// The demeaned unembedding row of token v: W_U[v] − mean_u W_U[u] (ATTRIBUTION.md §3).
    public func logitVector(_ v: Int) throws -> Tensor {
        let d = configuration.width
        return try unembedding.row(v).reshaped([d]) - meanUnembedding
    }
}
