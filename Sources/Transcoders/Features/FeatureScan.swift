// The feature-page scan: one pass of the model over held-out corpus text, recording for every
// feature of every layer what it reads (statistics and strongest contexts), then the logit-lens
// view of what it writes.
//
//   1. Take held-out sequences (BOS + 127 tokens) in batches; one forward pass per batch caches
//      `mlp.hook_in` of every layer.
//   2. Per layer (layers run in parallel): encode the batch with the layer's transcoder, and for
//      each sequence update the layer's reservoir (firing counts, activation sums and maxima,
//      strongest context per sequence). Position 0 (BOS) is left out, as in graphs.
//   3. Every few minutes, checkpoint the reservoirs; a new scan of the same set, corpus and
//      options continues from the checkpoint.
//   4. At the end, push every decoder row through the logit lens and assemble the evidence.

import Foundation
import LanguageModels
import ModelIO
import TensorCore

/// Options of a feature scan (`circuitry features build`).
public struct FeatureScanOptions: Codable, Sendable, Equatable {
    /// Tokens to scan (rounded up to whole sequences); nil scans every held-out sequence.
    public var tokens: Int? = nil
    public var sequencesPerBatch = 16
    /// Strongest contexts kept per feature, and the tokens shown before and after each peak.
    public var contextsPerFeature = 8
    public var before = 8
    public var after = 3
    /// Promoted and suppressed tokens kept per feature.
    public var logitTokens = 8
    /// Seconds between checkpoints (0: none).
    public var checkpointSeconds = 120.0

    public init() {}

    public func validate() throws {
        if let tokens, tokens < 1 { throw TranscoderError.invalidOptions("--tokens must be at least 1") }
        guard sequencesPerBatch > 0, contextsPerFeature > 0, before >= 0, after >= 0, logitTokens > 0 else {
            throw TranscoderError.invalidOptions("feature scan sizes must be positive")
        }
    }
}

/// A progress report from a running scan.
public struct FeatureScanProgress: Sendable {
    public var sequences: Int
    public var totalSequences: Int
    public var tokens: Int
    public var elapsed: Double
    public var tokensPerSecond: Double { elapsed > 0 ? Double(tokens) / elapsed : 0 }
}

public final class FeatureScan: @unchecked Sendable {
    public let options: FeatureScanOptions
    let model: TransformerModel
    let transcoders: [Transcoder]
    /// Where each layer's transcoder reads.
    let inputPoints: [HookPoint]
    /// The layer each dictionary's pages are filed under.
    let layerNumbers: [Int]
    let corpus: TokenCorpus
    let reservoirs: [FeatureReservoir]
    /// Held-out sequences to scan, and how many are done.
    public let sequenceCount: Int
    public internal(set) var sequencesDone = 0
    /// Seconds in model forward passes and in encoding plus bookkeeping.
    public internal(set) var forwardSeconds = 0.0
    public internal(set) var encodeSeconds = 0.0
    var elapsedBefore = 0.0
    let checkpointFolder: String?
    /// Identifies what the scan is of, so a checkpoint is only resumed by the same scan.
    let identity: String

    /// A scan of `set` (every layer loaded into memory) over the held-out part of `corpus`.
    /// With a checkpoint folder, a matching checkpoint there is resumed.
    public convenience init(model: TransformerModel, set: TranscoderSet, corpus: TokenCorpus, options: FeatureScanOptions = FeatureScanOptions(),
                            setFingerprint: String, checkpointFolder: String? = nil) throws {
        try set.validate(for: model)
        try self.init(model: model, dictionaries: try (0..<set.layers).map { (layer: $0, dictionary: try set[$0], point: set.inputPoint(layer: $0)) },
                      corpus: corpus, options: options, setFingerprint: setFingerprint, checkpointFolder: checkpointFolder)
    }

    /// A scan of the SAE's features (its pages go under the hook's layer).
    public convenience init(model: TransformerModel, sae: SparseAutoencoder, corpus: TokenCorpus, options: FeatureScanOptions = FeatureScanOptions(),
                            setFingerprint: String, checkpointFolder: String? = nil) throws {
        let point = try sae.validate(for: model)
        try self.init(model: model, dictionaries: [(layer: point.layer ?? 0, dictionary: try sae.scanDictionary(), point: point)],
                      corpus: corpus, options: options, setFingerprint: setFingerprint, checkpointFolder: checkpointFolder)
    }

    /// A scan of dictionaries each reading one hook point; `layer` is where its pages are filed.
    public init(model: TransformerModel, dictionaries: [(layer: Int, dictionary: Transcoder, point: HookPoint)], corpus: TokenCorpus,
                options: FeatureScanOptions = FeatureScanOptions(), setFingerprint: String, checkpointFolder: String? = nil) throws {
        try options.validate()
        guard !dictionaries.isEmpty else { throw TranscoderError.invalidOptions("nothing to scan") }
        self.inputPoints = dictionaries.map(\.point)
        self.layerNumbers = dictionaries.map(\.layer)
        self.model = model
        self.options = options
        self.corpus = corpus
        self.transcoders = dictionaries.map(\.dictionary)
        let features = transcoders[0].features
        let available = corpus.heldOutSequences
        let wanted = options.tokens.map { ($0 + corpus.sequenceLength - 1) / corpus.sequenceLength } ?? available
        sequenceCount = min(wanted, available)
        guard sequenceCount > 0 else { throw TranscoderError.corpus("the corpus has no held-out sequences to scan") }
        reservoirs = transcoders.map { _ in
            FeatureReservoir(features: features, capacity: options.contextsPerFeature, before: options.before, after: options.after)
        }
        self.checkpointFolder = checkpointFolder
        var scanned = options
        scanned.checkpointSeconds = 0
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys    // the same text for the same options, run after run
        identity = Fingerprint.combine([setFingerprint, corpus.description, String(sequenceCount),
                                        String(decoding: try encoder.encode(scanned), as: UTF8.self)])
        if let checkpointFolder { try resumeIfPossible(from: checkpointFolder) }
    }

    /// Tokens scanned so far (positions after BOS).
    public var tokensScanned: Int { sequencesDone * corpus.sequenceLength }
    public var totalTokens: Int { sequenceCount * corpus.sequenceLength }
    public var layers: Int { transcoders.count }
    public var isFinished: Bool { sequencesDone >= sequenceCount }

    /// Scanned sequence i as the model saw it (BOS first, when the model's prompts start with it).
    public func sequence(_ i: Int) -> [Int] {
        model.sequencePrefix + corpus.sequence(i, heldOut: true)
    }

    /// Runs the remaining batches (at most `limit` of them).
    public func run(batches limit: Int? = nil, progress: (FeatureScanProgress) -> Void = { _ in }) throws {
        let start = Date()
        var lastCheckpoint = Date()
        let points = Set(inputPoints)
        let n = model.sequencePrefix.count + corpus.sequenceLength
        var batches = 0
        while sequencesDone < sequenceCount && batches < (limit ?? .max) {
            batches += 1
            let first = sequencesDone, count = min(options.sequencesPerBatch, sequenceCount - first)
            let t0 = Date()
            let cache = try model.activations((first..<(first + count)).map(sequence), at: points)
            let t1 = Date()
            let failure = FailureBox()
            Parallel.forEach(layers) { l in
                do {
                    let value = cache[self.inputPoints[l]]!
                    let x = try value.reshaped([count * n, value.shape.last!])
                    let a = try self.transcoders[l].encode(x)
                    for j in 0..<count {
                        self.reservoirs[l].add(sequence: first + j, activations: a, base: j * n, length: n)
                    }
                } catch { failure.record(error) }
            }
            if let error = failure.error { throw error }
            forwardSeconds += t1.timeIntervalSince(t0)
            encodeSeconds += Date().timeIntervalSince(t1)
            sequencesDone += count
            let elapsed = elapsedBefore + Date().timeIntervalSince(start)
            progress(FeatureScanProgress(sequences: sequencesDone, totalSequences: sequenceCount, tokens: tokensScanned, elapsed: elapsed))
            if let checkpointFolder, options.checkpointSeconds > 0, !isFinished,
               Date().timeIntervalSince(lastCheckpoint) >= options.checkpointSeconds {
                try saveCheckpoint(to: checkpointFolder, elapsed: elapsed)
                lastCheckpoint = Date()
            }
        }
        elapsedBefore += Date().timeIntervalSince(start)
    }

    /// Seconds the scan has run, over every session.
    public var elapsedSeconds: Double { elapsedBefore }

    /// The evidence for every feature of one layer (statistics, contexts, logit-lens tokens).
    public func evidence(layer l: Int) throws -> [FeatureEvidence] {
        let r = reservoirs[l]
        let lens = try LogitLens.tokens(decoder: transcoders[l].totalDecoder(), finalNorm: model.finalNorm, unembedding: model.unembedding,
                                        count: options.logitTokens)
        return (0..<r.features).map { f in
            FeatureEvidence(layer: layerNumbers[l], index: f, tokensScanned: tokensScanned, firings: r.firings[f], activationSum: r.sums[f],
                            maxActivation: r.maxima[f], contexts: r.contexts(of: f), promoted: lens[f].promoted, suppressed: lens[f].suppressed)
        }
    }
}
