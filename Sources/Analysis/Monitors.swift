// Monitors: score texts by named features' activations (or a probe's probability) and flag
// those above thresholds.
//
//   score(text, monitor) = max or mean over the text's tokens (BOS excluded) of the feature's
//                          activation; a probe monitor's score is its class probability
//   flag(text, monitor)  = score > threshold;   flag(text) = any monitor flags it
// `selectFeatures` chooses monitors from labelled texts: the features whose firing best
// separates the positive texts from the rest, each with the threshold that does so best.

import Foundation
import LanguageModels
import TensorCore
import Transcoders

/// One feature's activations per token of a text.
public struct FeatureTrace: Sendable {
    /// [tokens] activations of the feature (0 where it is not active).
    public var activations: [Float]
}

public enum MonitorReduction: String, Codable, Sendable { case max, mean }

/// The score of one text under one monitor, and the tokens where the feature passed the threshold.
public struct MonitorScore: Codable, Sendable {
    public var monitor: String
    public var score: Double
    public var flagged: Bool
    /// Positions whose activation exceeded the threshold.
    public var firedPositions: [Int]

    public init(monitor: String, score: Double, flagged: Bool, firedPositions: [Int]) {
        (self.monitor, self.score, self.flagged, self.firedPositions) = (monitor, score, flagged, firedPositions)
    }
}

public enum Monitoring {
    /// The reduced score of per-token activations (positions `from...`).
    public static func reduce(_ values: [Float], from first: Int, _ reduction: MonitorReduction) -> Double {
        let part = values.count > first ? Array(values[first...]) : values
        guard !part.isEmpty else { return 0 }
        switch reduction {
        case .max: return Double(part.max()!)
        case .mean: return Double(part.reduce(0, +)) / Double(part.count)
        }
    }

    public struct Candidate: Codable, Sendable {
        public var feature: Int
        public var threshold: Double
        /// Balanced accuracy of `score > threshold` as a detector on the texts it was chosen on.
        public var balancedAccuracy: Double
        public var positiveRate: Double
        public var negativeRate: Double
    }

    /// The `count` features (columns of `scores` [texts][features]) whose `score > threshold` best
    /// separates `positive` texts from the rest (balanced accuracy), each with its best threshold;
    /// features that never fire are skipped.
    public static func selectFeatures(scores: [[Double]], positive: [Bool], count: Int) throws -> [Candidate] {
        guard positive.contains(true), positive.contains(false) else {
            throw AnalysisError.invalid("choosing monitor features needs texts of both kinds (positive and not)")
        }
        guard let features = scores.first?.count, features > 0 else { throw AnalysisError.invalid("no features to choose from") }
        let pos = Double(positive.filter { $0 }.count), neg = Double(positive.filter { !$0 }.count)
        var candidates = [Candidate]()
        for f in 0..<features {
            let column = scores.indices.map { (scores[$0][f], positive[$0]) }
            guard column.contains(where: { $0.0 > 0 }) else { continue }
            // Thresholds between consecutive distinct values (and below all of them).
            let values = Array(Set(column.map(\.0))).sorted()
            var best: Candidate?
            for (i, v) in values.enumerated() {
                let threshold = i == 0 ? v - 1e-6 : (values[i - 1] + v) / 2
                var tp = 0.0, fp = 0.0
                for (s, p) in column where s > threshold { if p { tp += 1 } else { fp += 1 } }
                let balanced = 0.5 * (tp / pos + (neg - fp) / neg)
                if best == nil || balanced > best!.balancedAccuracy {
                    best = Candidate(feature: f, threshold: max(threshold, 0), balancedAccuracy: balanced, positiveRate: tp / pos, negativeRate: fp / neg)
                }
            }
            if let best { candidates.append(best) }
        }
        return Array(candidates.sorted { ($0.balancedAccuracy, -$0.negativeRate) > ($1.balancedAccuracy, -$1.negativeRate) }.prefix(count))
    }

    /// Precision, recall and F1 of `flagged` against `truth`.
    public static func precisionRecall(flagged: [Bool], truth: [Bool]) -> (precision: Double, recall: Double, f1: Double) {
        var tp = 0.0, fp = 0.0, fn = 0.0
        for (f, t) in zip(flagged, truth) {
            if f && t { tp += 1 } else if f { fp += 1 } else if t { fn += 1 }
        }
        let precision = tp + fp > 0 ? tp / (tp + fp) : 0, recall = tp + fn > 0 ? tp / (tp + fn) : 0
        return (precision, recall, precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0)
    }
}

/// A monitor definition file: named features (of SAEs or transcoders) or probes, with thresholds.
public struct MonitorFile: Codable, Sendable {
    public struct Monitor: Codable, Sendable {
        public var name: String
        /// An SAE (SAELens folder or params.npz) …
        public var sae: String?
        /// … or a transcoder set and its layer …
        public var transcoders: String?
        public var layer: Int?
        public var feature: Int?
        /// … or a probe saved by `circuitry probe --save` and the class it watches.
        public var probe: String?
        public var probeClass: String?
        public var threshold: Double
        public var reduce: MonitorReduction?

        public init(name: String, sae: String? = nil, transcoders: String? = nil, layer: Int? = nil, feature: Int? = nil, probe: String? = nil,
                    probeClass: String? = nil, threshold: Double, reduce: MonitorReduction? = nil) {
            self.name = name
            self.sae = sae
            self.transcoders = transcoders
            self.layer = layer
            self.feature = feature
            self.probe = probe
            self.probeClass = probeClass
            self.threshold = threshold
            self.reduce = reduce
        }

        enum CodingKeys: String, CodingKey {
            case name, sae, transcoders, layer, feature, probe, threshold, reduce
            case probeClass = "class"
        }
    }
    public var monitors: [Monitor]
    /// A text is flagged when at least this many monitors flag it (default 1: any).
    public var minimumFlags: Int?

    public init(monitors: [Monitor], minimumFlags: Int? = nil) { (self.monitors, self.minimumFlags) = (monitors, minimumFlags) }

    enum CodingKeys: String, CodingKey { case monitors; case minimumFlags = "minimum_flags" }

    public static func load(path: String) throws -> MonitorFile {
        guard let data = FileManager.default.contents(atPath: path) else { throw AnalysisError.invalid("cannot read the monitor file \(path)") }
        let file: MonitorFile
        do { file = try JSONDecoder().decode(MonitorFile.self, from: data) } catch {
            throw AnalysisError.invalid("\(path) is not a monitor file ({\"monitors\": [{\"name\", \"sae\" or \"transcoders\"+\"layer\" or \"probe\", \"feature\", \"threshold\"}]})")
        }
        guard !file.monitors.isEmpty else { throw AnalysisError.invalid("\(path) names no monitors") }
        for m in file.monitors {
            let sources = [m.sae != nil, m.transcoders != nil, m.probe != nil].filter { $0 }.count
            guard sources == 1 else { throw AnalysisError.invalid("monitor \(m.name): give exactly one of sae, transcoders (with layer) or probe") }
            if m.probe == nil, m.feature == nil { throw AnalysisError.invalid("monitor \(m.name): a feature monitor needs \"feature\"") }
            if m.transcoders != nil, m.layer == nil { throw AnalysisError.invalid("monitor \(m.name): a transcoder monitor needs \"layer\"") }
            guard m.threshold.isFinite else { throw AnalysisError.invalid("monitor \(m.name): the threshold must be a number") }
        }
        if let k = file.minimumFlags, k < 1 || k > file.monitors.count {
            throw AnalysisError.invalid("minimum_flags must be between 1 and the number of monitors (\(file.monitors.count))")
        }
        return file
    }

    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
