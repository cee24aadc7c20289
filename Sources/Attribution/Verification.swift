// Checking a finished graph against the model it describes (ATTRIBUTION.md §8), so a user can
// trust a graph without reading Circuitry's tests.
//
// For sampled edges t ← s of the pruned graph, source feature s is doubled (its decoder write
// a_s·W_dec[s] is added once more) in the real model with attention patterns, normalisation scales
// and every other MLP output frozen. In that frozen model the change of every target is linear,
// so each target t must move by exactly A[t, s]: a feature target's pre-activation
// z = W_enc·x + b_enc, a logit target's demeaned logit. Tolerances are circuit-tracer's: 1e-3
// absolute on pre-activations; 1e-5 absolute plus 1e-3 relative on demeaned logits.

import Foundation
import LanguageModels
import TensorCore
import Transcoders

public struct VerificationReport: Codable, Sendable {
    public struct Edge: Codable, Sendable {
        public var target: Int
        public var source: Int
        public var weight: Float
        public var measured: Float
        public var tolerance: Float
    }
    /// Every sampled edge with its measured effect.
    public var edges: [Edge]
    public var interventions: Int

    /// The largest |measured − weight| / tolerance (≤ 1 passes).
    public var worstRatio: Float { edges.map { abs($0.measured - $0.weight) / $0.tolerance }.max() ?? 0 }
    public var worstAbsoluteError: Float { edges.map { abs($0.measured - $0.weight) }.max() ?? 0 }
    public var passed: Bool { worstRatio <= 1 }
}

public enum Verification {
    /// Measures up to `samples` edges of the graph's pruned edges (the strongest ones of randomly
    /// chosen sources, so that each intervention checks several edges at once).
    public static func verify(graph: AttributionGraph, model: LlamaModel, transcoders: TranscoderSet,
                              samples: Int = 50, seed: UInt64 = 0) throws -> VerificationReport {
        let layout = graph.layout
        let n = layout.count
        // Pruned edges whose source is a feature node.
        var bySource = [Int: [Int]]()
        for t in 0..<n {
            for s in 0..<layout.features where graph.pruning.edges[t * n + s] && graph.edge(target: t, source: s) != 0 {
                bySource[s, default: []].append(t)
            }
        }
        var random = SeededGenerator(seed: seed)
        var sources = bySource.keys.sorted()
        sources.shuffle(using: &random)
        let encoders = try (0..<transcoders.layers).map { try transcoders[$0].encoder }
        var edges = [VerificationReport.Edge]()
        var interventions = 0
        let d = model.configuration.width
        var direct = InterventionOptions()
        direct.directOnly = true
        direct.freezeAttention = true
        let clean = try Interventions.run(model: model, transcoders: transcoders, tokens: graph.tokens, interventions: [], options: direct)
        for s in sources where edges.count < samples {
            let source = graph.features[s]
            let result = try Interventions.run(
                model: model, transcoders: transcoders, tokens: graph.tokens,
                interventions: [FeatureIntervention(layer: source.layer, position: source.position, feature: source.feature,
                                                    value: source.activation, additive: true)],
                options: direct)
            interventions += 1
            for t in bySource[s]!.prefix(samples - edges.count) {
                let weight = graph.edge(target: t, source: s)
                let measured: Float, tolerance: Float
                if layout.kind(of: t) == .feature {
                    let target = graph.features[t]
                    let w = encoders[target.layer].scalars[(target.feature * d)..<((target.feature + 1) * d)]
                    func z(_ x: Tensor) -> Float {
                        zip(w, x.scalars[(target.position * d)..<((target.position + 1) * d)]).reduce(0) { $0 + $1.0 * $1.1 }
                    }
                    measured = z(result.mlpInputs[target.layer]) - z(clean.mlpInputs[target.layer])
                    tolerance = 1e-3
                } else {
                    let v = graph.logits[t - layout.logitStart].token
                    func demeaned(_ logits: Tensor) -> Float { logits.scalars[v] - logits.mean() }
                    measured = demeaned(result.logits) - demeaned(clean.logits)
                    tolerance = 1e-5 + 1e-3 * abs(weight)
                }
                edges.append(VerificationReport.Edge(target: t, source: s, weight: weight, measured: measured, tolerance: tolerance))
            }
        }
        return VerificationReport(edges: edges, interventions: interventions)
    }
}
