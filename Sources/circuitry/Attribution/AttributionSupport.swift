import Attribution
import Foundation
import LanguageModels
import ModelIO
import Transcoders

/// Attribution options as command-line flags (names as ARCHITECTURE.md's `trace`).
struct AttributionFlags: ParsableArguments {
    @Option(name: .long, help: "At most this many feature nodes (default: every active feature).")
    var maxFeatureNodes: Int?

    @Option(name: .long, help: "At most this many logit nodes.")
    var maxLogits = 10

    @Option(name: .long, help: "Logit nodes are taken until their cumulative probability reaches this.")
    var logitProb = 0.95

    @Option(name: .long, help: "Target rows per backward pass.")
    var batchSize = 256

    @Option(name: .long, help: "Node pruning keeps this share of total influence.")
    var nodeThreshold = 0.8

    @Option(name: .long, help: "Edge pruning keeps this share of total edge score.")
    var edgeThreshold = 0.98

    func validate() throws {
        if let m = maxFeatureNodes, m < 1 { throw ValidationError("--max-feature-nodes must be at least 1 (got \(m))") }
        guard maxLogits >= 1 else { throw ValidationError("--max-logits must be at least 1 (got \(maxLogits))") }
        guard logitProb > 0 && logitProb <= 1 else { throw ValidationError("--logit-prob must be in (0, 1] (got \(logitProb))") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1 (got \(batchSize))") }
        for (name, value) in [("--node-threshold", nodeThreshold), ("--edge-threshold", edgeThreshold)] where !(value >= 0 && value <= 1) {
            throw ValidationError("\(name) must be between 0 and 1 (got \(value))")
        }
    }

    var options: AttributionOptions {
        var o = AttributionOptions()
        o.maxFeatureNodes = maxFeatureNodes
        o.maxLogits = maxLogits
        o.logitProbability = logitProb
        o.batchSize = batchSize
        o.nodeThreshold = nodeThreshold
        o.edgeThreshold = edgeThreshold
        return o
    }
}

extension LoadedModel {
    /// A content fingerprint of the model's files.
    func fingerprint() throws -> String {
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        return isDirectory.boolValue
            ? Fingerprint.combine(try TransformerModel.weightFiles(huggingFaceFolder: path).map { try Fingerprint.file($0) })
            : try Fingerprint.file(path)
    }
}

extension GraphProvenance {
    /// What reproduces a graph made from this model, set, prompt and options.
    static func make(model: LoadedModel, transcoders: TranscoderSet, prompt: String, tokens: [Int], options: AttributionOptions) throws -> GraphProvenance {
        GraphProvenance(modelPath: model.path, modelFingerprint: try model.fingerprint(),
                               transcoderSet: transcoders.folder ?? transcoders.name, transcoderFingerprint: try transcoders.fingerprint(),
                               prompt: prompt, tokens: tokens, options: options, engineVersion: Attribution.engineVersion)
    }
}

import ArgumentParser
