// Checking a finished graph against the model it describes (ATTRIBUTION.md §8), so a user can
// trust a graph without reading Circuitry's tests.
//
// For sampled edges t ← s, δ·a_s·W_dec[s] is added at source feature s's site in the real model
// with attention patterns, normalisation scales and every other MLP output frozen. In that frozen
// model the change of every target is linear, so each target t must move by exactly δ·A[t, s]: a
// feature target's pre-activation z = W_enc·x + b_enc, a logit target's demeaned logit. δ is
// chosen per source so the largest expected change is about 1 (between 1 and 10⁴), well above the
// rounding of comparing two forward passes. Tolerances are circuit-tracer's, on the change:
// 1e-3 absolute on pre-activations; 1e-5 absolute plus 1e-3 relative on demeaned logits.

import Foundation
import LanguageModels
import TensorCore
import Transcoders

public struct VerificationReport: Codable, Sendable {
    public struct Edge: Codable, Sendable {
        public var target: Int
        public var source: Int
        public var weight: Float
        /// The measured change divided by δ (in the units of the edge weight).
        public var measured: Float
        /// The tolerance divided by δ.
        public var tolerance: Float
        public var delta: Float
    }
    /// Every sampled edge with its measured effect.
    public var edges: [Edge]
    public var interventions: Int

    /// The largest |measured − weight| / max(|weight|, 1e-6): how closely effects match edges.
    public var worstRelativeError: Float { edges.map { abs($0.measured - $0.weight) / max(abs($0.weight), 1e-6) }.max() ?? 0 }
    /// The largest |measured − weight| / tolerance (≤ 1 passes).
    public var worstRatio: Float { edges.map { abs($0.measured - $0.weight) / $0.tolerance }.max() ?? 0 }
    public var worstAbsoluteError: Float { edges.map { abs($0.measured - $0.weight) }.max() ?? 0 }
    public var passed: Bool { worstRatio <= 1 }
}

public enum Verification {
    /// Measures up to `samples` edges whose source is a feature: those of the pruned graph first
    /// (randomly chosen sources), then the strongest of the full graph; each intervention checks
    /// several edges of one source at once, strongest first.
    public static func verify(graph: AttributionGraph, model: TransformerModel, transcoders: TranscoderSet,
                              samples: Int = 50, seed: UInt64 = 0) throws -> VerificationReport {
        let layout = graph.layout
        let n = layout.count
        // Edges whose source is a feature node, by source, strongest first.
        var bySource = [Int: [Int]]()
        var strength = [Int: Float]()
        for t in 0..<n {
            for s in 0..<layout.features where graph.edge(target: t, source: s) != 0 {
                bySource[s, default: []].append(t)
                strength[s] = max(strength[s] ?? 0, abs(graph.edge(target: t, source: s)))
            }
        }
        for s in bySource.keys { bySource[s]!.sort { abs(graph.edge(target: $0, source: s)) > abs(graph.edge(target: $1, source: s)) } }
        var random = SeededGenerator(seed: seed)
        var pruned = bySource.keys.filter { s in graph.pruning.nodes[s] && (0..<n).contains { graph.pruning.edges[$0 * n + s] } }.sorted()
        pruned.shuffle(using: &random)
        let prunedSet = Set(pruned)
        let rest = bySource.keys.filter { !prunedSet.contains($0) }.sorted { strength[$0]! > strength[$1]! }
        let sources = pruned + rest
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
            let targets = bySource[s]!.prefix(min(5, samples - edges.count))
            let largest = targets.map { abs(graph.edge(target: $0, source: s)) }.max() ?? 1
            let delta = min(max(1 / max(largest, 1e-12), 1), 1e4)
            let result = try Interventions.run(
                model: model, transcoders: transcoders, tokens: graph.tokens,
                interventions: [FeatureIntervention(layer: source.layer, position: source.position, feature: source.feature,
                                                    value: delta * source.activation, additive: true)],
                options: direct)
            interventions += 1
            for t in targets {
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
                    let node = graph.logits[t - layout.logitStart]
                    guard node.direction == nil else { continue }     // interventions report logits, not the final output
                    func value(_ logits: Tensor) -> Float {
                        logits.scalars[node.token] - (node.minus.map { logits.scalars[$0] } ?? logits.mean())
                    }
                    measured = value(result.linearLogits) - value(clean.linearLogits)
                    tolerance = 1e-5 + 1e-3 * abs(delta * weight)
                }
                edges.append(VerificationReport.Edge(target: t, source: s, weight: weight, measured: measured / delta,
                                                     tolerance: tolerance / delta, delta: delta))
            }
        }
        return VerificationReport(edges: edges, interventions: interventions)
    }
}
