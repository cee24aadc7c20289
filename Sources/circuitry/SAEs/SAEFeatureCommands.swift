import ArgumentParser
import Foundation
import GraphStore
import LanguageModels
import Transcoders

extension SetIdentity {
    /// The store's identity of a model and an SAE: the SAE is filed as a set of one layer's
    /// features (its hook's layer), by the fingerprint of its files.
    static func make(model: LoadedModel, sae: SparseAutoencoder, path: String) throws -> SetIdentity {
        let c = model.configuration
        return SetIdentity(modelFingerprint: try model.fingerprint(), modelPath: model.path, architecture: c.architecture, layers: c.layers,
                           width: c.width, setFingerprint: try saeFingerprint(path), setName: saeName(sae, path: path),
                           setPath: path, features: sae.features)
    }

    /// How the store names an SAE's pages, and finds them by its files' fingerprint.
    static func saeName(_ sae: SparseAutoencoder, path: String) -> String { "sae:" + (path as NSString).lastPathComponent + ":" + sae.hookName }
    static func saeFingerprint(_ path: String) throws -> String { "sae-" + (try SparseAutoencoder.fingerprint(path: path)) }
}

struct SAEPages: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pages",
        abstract: "Build feature pages for an SAE's features: statistics, strongest contexts, logit-lens tokens, labels.",
        discussion: """
            The same scan and pages as `circuitry features build` for transcoders; the SAE's features are filed under its hook's layer. Show a page with `circuitry saes feature`.

            Examples:
              circuitry saes pages --sae models/saes/smollm2-l15 --tokens 100000
              circuitry saes feature 1949 --sae models/saes/smollm2-l15
            """)

    @OptionGroup var saeOptions: SAEOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var corpusOptions: CorpusOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: JSONOption

    @Option(name: .long, help: "Held-out tokens to scan (default: all of them).")
    var tokens: Int?

    @Option(name: .long, help: "Strongest contexts kept per feature.")
    var contexts = 8

    struct Summary: Encodable { var sae: String; var hook_name: String; var features: Int; var tokens: Int; var never_fired: Int; var seconds: Double }

    func validate() throws {
        if let tokens, tokens < 1 { throw ValidationError("--tokens must be at least 1") }
        guard contexts > 0 else { throw ValidationError("--contexts must be at least 1") }
    }

    func run() throws {
        let sae = try saeOptions.load()
        let loaded = try modelOptions.load()
        _ = try sae.validate(for: loaded.model)
        let identity = try SetIdentity.make(model: loaded, sae: sae, path: saeOptions.sae)
        let store = try storeOptions.open(creating: true)
        let corpus = try corpusOptions.load(tokenizer: loaded, seed: 0)
        var options = FeatureScanOptions()
        options.tokens = tokens
        options.contextsPerFeature = contexts
        let start = Date()
        let scan = try FeatureScan(model: loaded.model, sae: sae, corpus: corpus, options: options, setFingerprint: identity.setFingerprint,
                                   checkpointFolder: Paths.featureCheckpoint(identity.setFingerprint))
        let bar = ProgressBar("features", total: scan.sequenceCount)
        try scan.run { p in bar.update(p.sequences, detail: String(format: "%@ tokens  %.0f tok/s", "\(p.tokens / 1000)k" as NSString, p.tokensPerSecond)) }
        bar.finish()
        let evidence = try scan.evidence(layer: 0)
        let vocabulary = (0..<loaded.configuration.vocabularySize).map { (try? loaded.tokenizer.text(of: $0)) ?? "<\($0)>" }
        try store.saveFeaturePages(identity, evidence: evidence, sequences: (0..<scan.sequenceCount).map(scan.sequence), vocabulary: vocabulary,
                                   corpus: corpus.description, options: String(decoding: try JSONEncoder().encode(options), as: UTF8.self),
                                   seconds: scan.elapsedSeconds)
        try store.checkpoint()
        scan.removeCheckpoint()
        let summary = Summary(sae: saeOptions.sae, hook_name: sae.hookName, features: evidence.count, tokens: scan.tokensScanned,
                              never_fired: evidence.filter(\.isDead).count, seconds: Date().timeIntervalSince(start))
        if output.json { return try Output.json(summary) }
        print("feature pages for \(summary.features) features of \(sae.hookName) from \(summary.tokens.formatted()) tokens in \(ProgressBar.clock(summary.seconds)); \(summary.never_fired) never fired; store \(store.path)")
    }
}

struct SAEFeature: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feature",
        abstract: "Show an SAE feature's page (built by `circuitry saes pages`).",
        discussion: "Example:\n  circuitry saes feature 1949 --sae models/saes/smollm2-l15")

    @Argument(help: "The feature index.")
    var feature: Int

    @OptionGroup var saeOptions: SAEOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: JSONOption

    @Option(name: .long, help: "Show at most this many contexts.")
    var contexts = 8

    func run() throws {
        let sae = try saeOptions.load()
        let page = try storeOptions.openForReading().featurePage(setFingerprint: try SetIdentity.saeFingerprint(saeOptions.sae),
                                                                 setName: SetIdentity.saeName(sae, path: saeOptions.sae),
                                                                 layer: SparseAutoencoder.layerOf(sae.hookName), index: feature)
        if output.json { return try Output.json(page) }
        print(FeatureCommand.render(page, contexts: contexts, colour: isatty(1) != 0))
    }
}

struct SAELabel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "label",
        abstract: "Set your own label for an SAE feature.",
        discussion: """
            Examples:
              circuitry saes label 1949 "Paris" --sae models/saes/smollm2-l15
              circuitry saes label 1949 --clear --sae models/saes/smollm2-l15
            """)

    @Argument(help: "The feature index.")
    var feature: Int

    @OptionGroup var edit: LabelEdit
    @OptionGroup var saeOptions: SAEOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: JSONOption

    func run() throws {
        let sae = try saeOptions.load()
        let loaded = try modelOptions.load()
        _ = try sae.validate(for: loaded.model)
        try edit.apply(to: try storeOptions.open(), layer: SparseAutoencoder.layerOf(sae.hookName), index: feature,
                       identity: try SetIdentity.make(model: loaded, sae: sae, path: saeOptions.sae), name: "\(sae.hookName) feature \(feature)", json: output.json)
    }
}
