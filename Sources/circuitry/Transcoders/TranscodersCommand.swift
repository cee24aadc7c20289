import ArgumentParser
import Foundation
import LanguageModels
import ModelIO
import Transcoders

struct TranscodersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transcoders",
        abstract: "Train, evaluate and inspect transcoders (per-layer, skip and cross-layer).",
        subcommands: [TrainTranscoders.self, EvaluateTranscoders.self, TranscodersInfo.self])
}

/// `--transcoders DIR`, shared by commands that use a transcoder set.
struct TranscoderOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A transcoder folder: circuit-tracer's per-layer or cross-layer format, or Gemma Scope's files with a config.yaml.",
        discussion: "Default: $CIRCUITRY_TRANSCODERS, else the default set trained by `make transcoders`.",
        valueName: "dir"))
    var transcoders: String?

    func resolvedPath() -> String {
        if let transcoders { return transcoders }
        if let fromEnvironment = ProcessInfo.processInfo.environment["CIRCUITRY_TRANSCODERS"], !fromEnvironment.isEmpty { return fromEnvironment }
        return Paths.defaultTranscoders
    }

    /// The set, checked against the model. A `lazy` set reads each layer when asked for it
    /// (attribution reads each layer once), so the process never holds all of them.
    func load(for model: ModelConfiguration, lazy: Bool = false) throws -> TranscoderSet {
        let path = resolvedPath()
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandError("no transcoder set at \(path): pass --transcoders DIR, set CIRCUITRY_TRANSCODERS, or run `make transcoders` to train the default set")
        }
        let set = try TranscoderSet.load(folder: path, lazy: lazy)
        try set.validate(for: model)
        return set
    }
}

extension TranscoderOptions {
    /// The set at `path` (or the default), read lazily, and its layer `layer`, checked; errors
    /// start with `context`.
    static func layer(_ layer: Int, of path: String?, for model: ModelConfiguration, context: String) throws -> (set: TranscoderSet, transcoder: Transcoder) {
        var options = TranscoderOptions()
        options.transcoders = path
        let set = try options.load(for: model, lazy: true)
        guard (0..<set.layers).contains(layer) else { throw CommandError("\(context)layer \(layer) is outside the transcoder set (0..<\(set.layers))") }
        return (set, try set[layer])
    }
}

/// The training corpus: the Debian default or a folder, tokenized once and cached.
struct CorpusOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("A folder of text files to train on (default: English prose and code from Debian packages; `make corpus` installs them).", valueName: "dir"))
    var corpus: String?

    func load(tokenizer loaded: LoadedModel, seed: UInt64) throws -> TokenCorpus {
        let key: String
        if let corpus {
            // A stable key (Swift's hashValue changes from run to run): the folder and its files' names, sizes and dates.
            let absolute = URL(fileURLWithPath: corpus).standardizedFileURL.path
            let listing = (FileManager.default.enumerator(atPath: absolute)?.allObjects as? [String] ?? []).sorted().map { name -> String in
                let attributes = try? FileManager.default.attributesOfItem(atPath: (absolute as NSString).appendingPathComponent(name))
                return "\(name):\((attributes?[.size] as? NSNumber)?.intValue ?? 0):\((attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
            }
            key = "folder-\(Fingerprint.combine([absolute] + listing))-seed\(seed)"
        } else {
            key = "debian-v1-seed\(seed)"
        }
        // One cache per vocabulary, so models with different tokenizers do not evict each other's.
        let cache = Paths.corpusCache(key: key + "-vocabulary\(loaded.configuration.vocabularySize)")
        if FileManager.default.fileExists(atPath: cache), let cached = try? TokenCorpus.load(path: cache), cached.description.hasSuffix("vocabulary \(loaded.configuration.vocabularySize)") {
            return cached
        }
        Output.note("building the corpus (\(corpus ?? "Debian packages: " + CorpusSources.debianPackages.joined(separator: ", ")))")
        let documents = try corpus.map { try CorpusSources.folderDocuments($0) } ?? CorpusSources.debianDocuments()
        let built = try TokenCorpus.build(documents: documents, tokenizer: loaded.tokenizer, seed: seed,
                                          description: "\(corpus ?? "debian") seed \(seed) vocabulary \(loaded.configuration.vocabularySize)")
        try built.save(to: cache)
        Output.note("corpus: \(built.documents) documents, \(built.trainSequences) training and \(built.heldOutSequences) held-out sequences of \(built.sequenceLength) tokens (cached in \(cache))")
        return built
    }
}
