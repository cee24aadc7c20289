// Interventions on the replacement model: set or add feature activations, ablate error terms,
// with attention (and normalisation scales) frozen or free, optionally constrained to direct
// effects. Runs the real model with hooks, so it is an independent check on the tape's rows.
//
// At every layer the MLP output becomes, at positions ≥ 1,
//   transcoder reconstruction from this run's MLP inputs (features recomputed; intervened ones
//   held at their set values; across layers, what every earlier layer's features write here)
//   +  the clean run's error (unless ablated)
// and at position 0 the clean MLP output (no node explains the BOS position). With `directOnly`,
// features are not recomputed: every MLP output is the clean one plus the change made by the
// intervention (and the skip connection's response to changed inputs), so effects reach other
// nodes only along the linear paths of the attribution graph.

import Foundation
import LanguageModels
import TensorCore
import Transcoders

/// One change to a feature's activation.
public struct FeatureIntervention: Codable, Sendable, Equatable {
    public var layer: Int
    public var position: Int
    public var feature: Int
    public var value: Float
    /// true: activation += value; false: activation = value.
    public var additive: Bool

    public init(layer: Int, position: Int, feature: Int, value: Float, additive: Bool = false) {
        self.layer = layer
        self.position = position
        self.feature = feature
        self.value = value
        self.additive = additive
    }
}

public struct InterventionOptions: Sendable {
    public var freezeAttention = true
    public var directOnly = false
    /// Layers whose error terms are set to zero.
    public var ablateErrors: Set<Int> = []
    public init() {}
}

public struct InterventionResult: Sendable {
    /// Logits at the last position [v].
    public var logits: Tensor
    /// The clean run's logits at the last position [v].
    public var cleanLogits: Tensor
    /// Both before any final soft-cap (linear in the final norm's output, as logit nodes are).
    public var linearLogits: Tensor, cleanLinearLogits: Tensor
    /// Per layer, the MLP input of the intervened run [n, d].
    public var mlpInputs: [Tensor]
    /// Per layer, feature activations in the intervened run (positions ≥ 1; empty with `directOnly`).
    public var activations: [SparseActivations]
}

public enum Interventions {
    public static func run(model: TransformerModel, transcoders: TranscoderSet, tokens: [Int], interventions: [FeatureIntervention],
                           options: InterventionOptions) throws -> InterventionResult {
        let c = model.configuration
        try transcoders.validate(for: model)
        guard tokens.count > 1 else { throw AttributionError.onlyBOS }
        let n = tokens.count
        for i in interventions {
            guard (0..<c.layers).contains(i.layer) else { throw AttributionError.invalidOption("intervention layer \(i.layer) is outside 0..<\(c.layers)") }
            guard (1..<n).contains(i.position) else { throw AttributionError.invalidOption("intervention position \(i.position) is outside 1..<\(n) (position 0 has no features)") }
            guard (0..<transcoders.features).contains(i.feature) else { throw AttributionError.invalidOption("feature \(i.feature) is outside 0..<\(transcoders.features)") }
        }
        let frozen = LocalReplacementModel.frozenPoints(of: model)
        let inputPoints = (0..<c.layers).map(transcoders.inputPoint), outputPoints = (0..<c.layers).map(transcoders.outputPoint)
        let clean = try model.forward([tokens], cache: .points(frozen.union(inputPoints).union(outputPoints).union([.finalNormalized])))
        let d = c.width
        let state = InterventionState(layers: c.layers)
        var hooks = [HookPoint: Hook]()
        if options.freezeAttention {
            for point in frozen { hooks[point] = Hooks.patch(from: clean.cache) }
        }
        let layers = try (0..<c.layers).map { try transcoders[$0] }
        let cleanX = try inputPoints.map { try clean.cache[$0]!.reshaped([n, d]) }
        let cleanY = try outputPoints.map { try clean.cache[$0]!.reshaped([n, d]) }
        let cleanActive = try (0..<c.layers).map { try layers[$0].encode(cleanX[$0]) }
        let cleanReconstruction = try transcoders.reconstruct(activations: cleanActive, inputs: cleanX)
        for l in 0..<c.layers {
            let t = layers[l]
            var error = try cleanY[l] - cleanReconstruction[l]
            if options.ablateErrors.contains(l) { error = try Tensor(zeros: [n, d]) }
            // The interventions whose features write to this layer, with their decoder vector here.
            let reaching = try interventions.filter { transcoders.writers(of: l).contains($0.layer) }.map { i in
                let k = l - i.layer, row = try layers[i.layer].decoderWeights.rows([i.feature])
                return (i, Array(row[(k * d)..<((k + 1) * d)]))
            }
            let here = interventions.filter { $0.layer == l }
            hooks[inputPoints[l]] = { _, value in state.inputs[l] = try value.reshaped([n, d]) }
            hooks[outputPoints[l]] = { _, value in
                let x = state.inputs[l]!
                var output: Tensor
                if options.directOnly {
                    // Clean output, the skip connection's response, and the intervention's change.
                    output = cleanY[l]
                    if let skip = t.skip { try output.add(try Tensor.matmul(try x - cleanX[l], skip, transposeB: true)) }
                    for (i, vector) in reaching {
                        let a = cleanActive[i.layer].row(i.position).first { $0.feature == i.feature }?.value ?? 0
                        let change = (i.additive ? i.value : i.value - a)
                        for j in 0..<d { output.scalars[i.position * d + j] += change * vector[j] }
                    }
                    if options.ablateErrors.contains(l) {
                        for p in 1..<n { for j in 0..<d { output.scalars[p * d + j] -= (cleanY[l].scalars[p * d + j] - cleanReconstruction[l].scalars[p * d + j]) } }
                    }
                } else {
                    var active = try t.encode(x)
                    active = applying(here, to: active)
                    state.activations[l] = active
                    state.writes[l] = try t.writes(active)
                    output = try t.affine(rows: n, input: x) + error
                    for s in transcoders.writers(of: l) { try output.add(state.writes[s]![l - s]) }
                    for j in 0..<d { output.scalars[j] = cleanY[l].scalars[j] }       // position 0 as in the clean run
                }
                value = try output.reshaped(value.shape)
            }
        }
        let result = try model.forward([tokens], cache: .points([.finalNormalized]), hooks: hooks)
        func linear(_ run: ForwardResult) throws -> Tensor {
            try model.linearLogits(of: run.cache[.finalNormalized]!.reshaped([n, d]).slice(axis: 0, (n - 1)..<n), logits: run.logits)
                .reshaped([c.vocabularySize])
        }
        return InterventionResult(logits: try result.logits.reshaped([c.vocabularySize]),
                                  cleanLogits: try clean.logits.reshaped([c.vocabularySize]),
                                  linearLogits: try linear(result), cleanLinearLogits: try linear(clean),
                                  mlpInputs: try (0..<c.layers).map { try state.inputs[$0]!.reshaped([n, d]) },
                                  activations: (0..<c.layers).map { state.activations[$0] ?? SparseActivations(rows: n, width: transcoders.features, rowStarts: [Int](repeating: 0, count: n + 1), features: [], values: []) })
    }

    /// Activations with interventions applied (position 0 stays empty).
    static func applying(_ interventions: [FeatureIntervention], to a: SparseActivations) -> SparseActivations {
        var rows = (0..<a.rows).map { r in Dictionary(uniqueKeysWithValues: a.row(r).map { ($0.feature, $0.value) }) }
        rows[0] = [:]
        for i in interventions {
            let current = rows[i.position][i.feature] ?? 0
            rows[i.position][i.feature] = i.additive ? current + i.value : i.value
        }
        var starts = [0], features = [Int32](), values = [Float]()
        for row in rows {
            for (f, v) in row.sorted(by: { $0.key < $1.key }) where v != 0 { features.append(Int32(f)); values.append(v) }
            starts.append(features.count)
        }
        return SparseActivations(rows: a.rows, width: a.width, rowStarts: starts, features: features, values: values)
    }
}

/// Values handed between the hooks of one intervened run.
final class InterventionState: @unchecked Sendable {
    var inputs: [Tensor?]
    var activations: [SparseActivations?]
    /// Per layer, what its features write to each layer they reach.
    var writes: [[Tensor]?]
    init(layers: Int) {
        writes = Array(repeating: nil, count: layers)
        inputs = Array(repeating: nil, count: layers)
        activations = Array(repeating: nil, count: layers)
    }
}
