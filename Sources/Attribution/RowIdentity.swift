// The row identity (ATTRIBUTION.md §8): for every target, its value in the real forward pass
// equals the sum of its row plus what no node carries. The frozen model is affine in its sources,
// so that remainder is the target's value in the frozen model with every source set to zero
// (which collects b_dec terms, the BOS position's MLP outputs, the target's own b_enc, and any
// attention biases). When a budget left active features out of the graph, their writes are no
// node's either: they stay in that remainder, so the identity holds for budgeted graphs too.

import TensorCore
import LanguageModels
import Transcoders

struct FeatureKey: Hashable { var layer, position, feature: Int }

public struct RowIdentityReport: Codable, Sendable {
    /// Per row of the graph (features in node order, then logits): the real value, the row sum,
    /// and the part no node carries.
    public var values: [Float]
    public var rowSums: [Float]
    public var constants: [Float]

    /// max over rows of |value − (row sum + constant)| / max(|value|, 1).
    public var worstRelativeError: Float {
        zip(values, zip(rowSums, constants)).map { abs($0 - ($1.0 + $1.1)) / max(abs($0), 1) }.max() ?? 0
    }
}

extension Attribution {
    /// Checks every computed row of `graph` against the model.
    public static func rowIdentity(graph: AttributionGraph, model: TransformerModel, transcoders: TranscoderSet) throws -> RowIdentityReport {
        let r = try LocalReplacementModel.build(model: model, transcoders: transcoders, tokens: graph.tokens)
        let selected = Set(graph.features.map { FeatureKey(layer: $0.layer, position: $0.position, feature: $0.feature) })
        let leftOut = Set(r.activeFeatures.indices.filter {
            let f = r.activeFeatures[$0]
            return !selected.contains(FeatureKey(layer: f.layer, position: f.position, feature: f.feature))
        })
        let zeroed = try FrozenTape(r, length: r.positions, sources: leftOut.isEmpty ? .none : .features(leftOut))
        let d = r.configuration.width, n = graph.layout.count
        let layers = try (0..<transcoders.layers).map { try transcoders[$0] }
        var values = [Float](), sums = [Float](), constants = [Float]()
        func rowSum(_ t: Int) -> Float {
            graph.adjacency.scalars[(t * n)..<((t + 1) * n)].reduce(0, +)
        }
        for (i, f) in graph.features.enumerated() {
            let w = layers[f.layer].encoder.scalars[(f.feature * d)..<((f.feature + 1) * d)]
            let bias = layers[f.layer].encoderBias.scalars[f.feature]
            func z(_ x: Tensor) -> Float { zip(w, x.scalars[(f.position * d)..<((f.position + 1) * d)]).reduce(0) { $0 + $1.0 * $1.1 } }
            values.append(z(r.mlpInputs[f.layer]) + bias)
            constants.append(z(zeroed.mlpInputs[f.layer].value) + bias)
            sums.append(rowSum(graph.layout.feature(i)))
        }
        let last = r.positions - 1
        // Direction targets read the final output itself (the real one, from a tape with every source).
        let full = graph.logits.contains { $0.direction != nil } ? try FrozenTape(r, length: r.positions) : nil
        func dot(_ u: Tensor, _ tape: FrozenTape) -> Float {
            zip(u.scalars, tape.finalOutput.value.scalars[(last * d)..<((last + 1) * d)]).reduce(0) { $0 + $1.0 * $1.1 }
        }
        for (i, logit) in graph.logits.enumerated() {
            let u = try r.readVector(logit)
            values.append(r.value(logit) ?? dot(u, full!))
            constants.append(dot(u, zeroed))
            sums.append(rowSum(graph.layout.logit(i)))
        }
        return RowIdentityReport(values: values, rowSums: sums, constants: constants)
    }
}
