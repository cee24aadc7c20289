// Patching through the replacement model: a graph's features as the sites. Each feature of the
// clean prompt's graph is set, in the corrupted prompt's run of the replacement model (the
// transcoders spliced in, each layer's error term the corrupted run's own, later features
// recomputed, attention free unless frozen), to the activation it has on the clean prompt; the
// metric is read at the last position and scored as `patch` scores its sites:
//
//   score(f) = (m(corrupt with f at its clean activation) − m(corrupt)) / (m(clean) − m(corrupt))
//
// The runs are Attribution's interventions, one per feature.

import Attribution
import LanguageModels
import TensorCore
import Transcoders

/// A feature at a position (a node of a graph).
public struct FeatureSite: Sendable, Equatable {
    public var layer: Int, position: Int, feature: Int
    public init(layer: Int, position: Int, feature: Int) { (self.layer, self.position, self.feature) = (layer, position, feature) }
}

public struct FeaturePatchingScan: Sendable {
    public struct Cell: Sendable {
        public var site: FeatureSite
        public var cleanActivation: Float, corruptActivation: Float
        public var value: Double
    }
    public var metric: Metric
    public var clean: Double, corrupt: Double
    public var cells: [Cell]

    public func normalised(_ value: Double) -> Double? {
        let span = clean - corrupt
        return span == 0 || !span.isFinite ? nil : (value - corrupt) / span
    }
}

public enum FeaturePatching {
    public static func scan(model: TransformerModel, transcoders: TranscoderSet, clean: [Int], corrupt: [Int], metric: Metric,
                            sites: [FeatureSite], freezeAttention: Bool = false,
                            progress: ((Int, Int) -> Void)? = nil) throws -> FeaturePatchingScan {
        guard !clean.isEmpty, !corrupt.isEmpty else { throw AnalysisError.emptyPrompt }
        guard clean.count == corrupt.count else { throw AnalysisError.unequalLengths(clean: clean.count, corrupt: corrupt.count) }
        for id in metric.tokenIds where !(0..<model.configuration.vocabularySize).contains(id) {
            throw LanguageModelError.tokenOutOfRange(id: id, vocabularySize: model.configuration.vocabularySize)
        }
        var options = InterventionOptions()
        options.freezeAttention = freezeAttention
        let cleanRun = try Interventions.run(model: model, transcoders: transcoders, tokens: clean, interventions: [], options: options)
        let corruptRun = try Interventions.run(model: model, transcoders: transcoders, tokens: corrupt, interventions: [], options: options)
        func activation(_ run: InterventionResult, _ s: FeatureSite) -> Float {
            run.activations[s.layer].row(s.position).first { $0.feature == s.feature }?.value ?? 0
        }
        var scan = FeaturePatchingScan(metric: metric, clean: metric.values(cleanRun.cleanLogits)[0],
                                       corrupt: metric.values(corruptRun.cleanLogits)[0], cells: [])
        for (i, site) in sites.enumerated() {
            let (a, b) = (activation(cleanRun, site), activation(corruptRun, site))
            // A feature already at its clean value is the corrupted run itself.
            let value = a == b ? scan.corrupt : metric.values(try Interventions.run(
                model: model, transcoders: transcoders, tokens: corrupt,
                interventions: [FeatureIntervention(layer: site.layer, position: site.position, feature: site.feature, value: a)],
                options: options).logits)[0]
            scan.cells.append(.init(site: site, cleanActivation: a, corruptActivation: b, value: value))
            progress?(i + 1, sites.count)
        }
        return scan
    }
}
