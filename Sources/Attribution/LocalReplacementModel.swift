// The local replacement model of one prompt (ATTRIBUTION.md §1–3), built from one forward pass.
//
// Every MLP output is split into sources and constants:
//   y[l, p] = Σ_i a_i · W_dec[i]  +  ε[l, p]  +  W_skip · x[l, p]  +  c[l, p]
//             feature nodes          error node   (linear, gradients flow)  no node
// with c = b_dec at positions ≥ 1. At position 0 (BOS) there are no feature nodes and the error
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
    /// a · W_dec rows of the active features [F, d] (what a feature source writes).
    let decoderVectors: Tensor
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

        var features = [ActiveFeature](), encoderRows = [Float](), decoderRows = [Float](), biases = [Float]()
        var ranges = [[Range<Int>]](), errors = [Tensor](), constants = [Tensor](), inputs = [Tensor](), skips = [Tensor?]()
        for l in 0..<L {
            // One layer at a time: a lazily loaded set never holds more than one layer's weights.
            let t = try transcoders[l]
            skips.append(t.skip)
            let x = try run.cache[inputPoints[l]]!.reshaped([n, d])
            let y = try run.cache[outputPoints[l]]!.reshaped([n, d])
            var active = try t.encode(x)
            // Position 0 has no feature nodes.
            let dropped = active.rowStarts[1]
            active = SparseActivations(rows: n, width: active.width, rowStarts: active.rowStarts.map { max($0 - dropped, 0) },
                                       features: Array(active.features[dropped...]), values: Array(active.values[dropped...]))
            var layerRanges = [Range<Int>]()
            for p in 0..<n {
                let start = features.count
                for (f, a) in active.row(p) {
                    features.append(ActiveFeature(layer: l, position: p, feature: f, activation: a))
                    encoderRows.append(contentsOf: t.encoder.scalars[(f * d)..<((f + 1) * d)])
                    decoderRows.append(contentsOf: t.decoder.scalars[(f * d)..<((f + 1) * d)].map { $0 * a })
                    biases.append(t.encoderBias.scalars[f])
                }
                layerRanges.append(start..<features.count)
            }
            ranges.append(layerRanges)
            let reconstruction = try t.decode(active, input: x)
            var error = try y - reconstruction
            var constant = try Tensor(zeros: [n, d])
            let skipped = try t.skip.map { try Tensor.matmul(x, $0, transposeB: true) }
            for j in 0..<d {
                error.scalars[j] = 0
                constant.scalars[j] = y.scalars[j] - (skipped?.scalars[j] ?? 0)
            }
            for p in 1..<n { for j in 0..<d { constant.scalars[p * d + j] = t.decoderBias.scalars[j] } }
            errors.append(error)
            constants.append(constant)
            inputs.append(x)
        }
        guard !features.isEmpty else { throw AttributionError.noActiveFeatures }
        var scales = [HookPoint: Tensor]()
        for point in frozen where point.isNormScale { scales[point] = try run.cache[point]!.reshaped([n]) }
        return LocalReplacementModel(
            tokens: tokens, model: model, activeFeatures: features,
            encoderVectors: try Tensor(shape: [features.count, d], scalars: encoderRows),
            decoderVectors: try Tensor(shape: [features.count, d], scalars: decoderRows),
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

    /// The demeaned unembedding row of token v: W_U[v] − mean_u W_U[u] (ATTRIBUTION.md §3).
    public func logitVector(_ v: Int) throws -> Tensor {
        let d = configuration.width
        return try unembedding.row(v).reshaped([d]) - meanUnembedding
    }
}
