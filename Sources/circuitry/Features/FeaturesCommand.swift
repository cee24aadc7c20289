import ArgumentParser
import Foundation
import GraphStore
import LanguageModels
import Transcoders

struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Build feature pages and labels for a transcoder set, and label features by hand.",
        discussion: """
            Feature pages record what each transcoder feature reads (how often and how strongly it fires, the corpus windows where it fired hardest) and writes (the tokens its decoder row promotes and suppresses). Each feature gets a short automatic label that traces, exports and queries show; a label you set wins everywhere. Read a page with `circuitry feature L/F`.

            Examples:
              # the default set, every held-out token
              circuitry features build
              circuitry features build --tokens 20000 \\
                  --transcoders models/transcoders/other
              circuitry features label 17/2381 "capital cities"
              circuitry features label 17/2381 --clear
              circuitry features list
            """,
        subcommands: [FeaturesBuild.self, FeaturesLabel.self, FeaturesList.self])
}

struct FeaturesBuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Scan held-out corpus text once and store every feature's page and automatic label.",
        discussion: """
            Runs the model over held-out corpus sequences (batched, all layers from one forward pass), encodes every layer with its transcoder and keeps, per feature, its firing frequency, mean and largest activation and its strongest contexts (one per sequence, a window of tokens with the activation at each); then pushes every decoder row through the logit lens. An interrupted build continues from its checkpoint when run again. Pages already built for the set are kept unless --rebuild is given.

            Examples:
              circuitry features build
              circuitry features build --tokens 20000 --rebuild
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var transcoderOptions: TranscoderOptions
    @OptionGroup var corpusOptions: CorpusOptions
    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .long, help: "Held-out tokens to scan (default: all of them).")
    var tokens: Int?

    @Option(name: .long, help: "Strongest contexts kept per feature.")
    var contexts = 8

    @Flag(name: .long, help: "Scan again even when the store has pages for this set.")
    var rebuild = false

    @Flag(name: .long, help: "Print a JSON summary on standard output.")
    var json = false

    func validate() throws {
        if let tokens, tokens < 1 { throw ValidationError("--tokens must be at least 1") }
        if contexts < 1 || contexts > 64 { throw ValidationError("--contexts must be between 1 and 64") }
    }

    struct Summary: Encodable {
        var set: String
        var features: Int
        var layers: Int
        var tokens: Int
        var neverFired: Int
        var seconds: Double
        var forwardSeconds: Double
        var encodeSeconds: Double
        var logitLensSeconds: Double
        var saveSeconds: Double
        var storeBytes: Int
        var skipped: Bool
    }

    func run() throws {
        let loaded = try modelOptions.load()
        let set = try transcoderOptions.load(for: loaded.configuration, lazy: true)
        let identity = try SetIdentity.make(model: loaded, transcoders: set)
        let store = try storeOptions.open(creating: true)
        let existing = try store.featureScan(setFingerprint: identity.setFingerprint)
        if !rebuild, let existing, existing.tokens >= (tokens ?? 0) {
            Output.note("feature pages for \"\(existing.setName)\" are already in \(store.path) (\(existing.tokens.formatted()) tokens scanned); --rebuild scans again")
            if json {
                try Output.json(Summary(set: existing.setName, features: set.features * set.layers, layers: set.layers, tokens: existing.tokens,
                                        neverFired: 0, seconds: existing.seconds, forwardSeconds: 0, encodeSeconds: 0, logitLensSeconds: 0,
                                        saveSeconds: 0, storeBytes: Self.size(of: store.path), skipped: true))
            }
            return
        }
        let corpus = try corpusOptions.load(tokenizer: loaded, seed: 0)
        var options = FeatureScanOptions()
        options.tokens = tokens
        options.contextsPerFeature = contexts
        let scan = try FeatureScan(model: loaded.model, set: set, corpus: corpus,
                                   options: options, setFingerprint: identity.setFingerprint,
                                   checkpointFolder: Paths.featureCheckpoint(identity.setFingerprint))
        if let tokens, tokens > scan.totalTokens {
            Output.note("the corpus has \(scan.totalTokens.formatted()) held-out tokens; scanning them all (--tokens asked for \(tokens.formatted()))")
        }
        if scan.sequencesDone > 0 { Output.note("resuming the scan at sequence \(scan.sequencesDone) of \(scan.sequenceCount)") }
        Output.note("scanning \(scan.totalTokens.formatted()) held-out tokens for \(set.layers) × \(set.features) features of \"\(set.name)\"")
        let bar = ProgressBar("features", total: scan.sequenceCount)
        try scan.run { p in
            bar.update(p.sequences, detail: String(format: "%@ tokens  %.0f tok/s", "\(p.tokens / 1000)k" as NSString, p.tokensPerSecond))
        }
        bar.finish()
        let t0 = Date()
        let lensBar = ProgressBar("logit lens", total: scan.layers)
        var evidence = [FeatureEvidence]()
        for l in 0..<scan.layers {
            evidence += try scan.evidence(layer: l)
            lensBar.update(l + 1)
        }
        lensBar.finish()
        let t1 = Date()
        let vocabulary = (0..<loaded.configuration.vocabularySize).map { (try? loaded.tokenizer.text(of: $0)) ?? "<\($0)>" }
        let optionsJSON = String(decoding: try JSONEncoder().encode(options), as: UTF8.self)
        try store.saveFeaturePages(identity, evidence: evidence, sequences: (0..<scan.sequenceCount).map(scan.sequence), vocabulary: vocabulary,
                                   corpus: corpus.description, options: optionsJSON, seconds: scan.elapsedSeconds)
        // Replaced pages leave free pages behind; give them back to the file system.
        if existing != nil { try store.vacuum() }
        try store.checkpoint()
        scan.removeCheckpoint()
        let summary = Summary(set: set.name, features: evidence.count, layers: set.layers, tokens: scan.tokensScanned,
                              neverFired: evidence.filter(\.isDead).count, seconds: scan.elapsedSeconds + Date().timeIntervalSince(t0),
                              forwardSeconds: scan.forwardSeconds, encodeSeconds: scan.encodeSeconds, logitLensSeconds: t1.timeIntervalSince(t0),
                              saveSeconds: Date().timeIntervalSince(t1), storeBytes: Self.size(of: store.path), skipped: false)
        if json { return try Output.json(summary) }
        print(String(format: "feature pages for %d features (%d layers) of \"%@\" from %@ tokens in %@ (forward %.0f s, encoding %.0f s, logit lens %.0f s, saving %.1f s)",
                     summary.features, summary.layers, set.name as NSString, summary.tokens.formatted() as NSString,
                     ProgressBar.clock(summary.seconds) as NSString, summary.forwardSeconds, summary.encodeSeconds, summary.logitLensSeconds,
                     summary.saveSeconds))
        print(String(format: "%d features (%.1f%%) never fired; store %@ is %.1f MB", summary.neverFired,
                     100 * Double(summary.neverFired) / Double(max(summary.features, 1)), store.path as NSString, Double(summary.storeBytes) / 1e6))
    }

    static func size(of path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }
}

struct FeaturesLabel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "label",
        abstract: "Set your own label for a feature (it wins over the automatic one everywhere).",
        discussion: """
            Examples:
              circuitry features label 17/2381 "capital cities"
              circuitry features label L17/F2381 --clear
            """)

    @Argument(help: ArgumentHelp("The feature, as L17/F2381, 17/2381, L17/F2381@4 or 17:4:2381 (a position is ignored).", valueName: "feature"))
    var feature: FeatureAddress

    @OptionGroup var edit: LabelEdit
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var transcoderOptions: TranscoderOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: JSONOption

    func run() throws {
        let loaded = try modelOptions.load()
        let set = try transcoderOptions.load(for: loaded.configuration, lazy: true)
        try edit.apply(to: try storeOptions.open(), layer: feature.layer, index: feature.index, identity: try SetIdentity.make(model: loaded, transcoders: set),
                       name: "L\(feature.layer)/F\(feature.index)", json: output.json)
    }
}

/// A label to set, or `--clear`: shared by `features label` and `saes label`.
struct LabelEdit: ParsableArguments {
    @Argument(help: "The label.")
    var label: String?

    @Flag(name: .long, help: "Remove your label (the automatic one shows again).")
    var clear = false

    struct Labelled: Encodable { var layer: Int; var feature: Int; var user_label: String? }

    func validate() throws {
        if clear == (label != nil) { throw ValidationError("give a label or --clear, not both or neither") }
        if let label, label.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw ValidationError("the label is empty (use --clear to remove one)") }
    }

    func apply(to store: GraphStore, layer: Int, index: Int, identity: SetIdentity, name: String, json: Bool) throws {
        try store.setUserLabel(clear ? nil : label, layer: layer, index: index, identity: identity)
        if json { return try Output.json(Labelled(layer: layer, feature: index, user_label: clear ? nil : label)) }
        print(clear ? "\(name): label removed" : "\(name): \"\(Output.visible(label ?? ""))\"")
    }
}

struct FeaturesList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the transcoder sets whose feature pages are in the store.")

    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: JSONOption

    func run() throws {
        let scans = try storeOptions.openForReading().featureScans()
        if output.json { return try Output.json(scans) }
        if scans.isEmpty { return print("no feature pages in \(storeOptions.shownLocation) (build them with `circuitry features build`)") }
        for s in scans {
            print("\(s.setName)  \(s.setFingerprint)  \(s.tokens.formatted()) tokens  built \(s.createdAt)  (\(s.corpus))")
        }
    }
}

/// A feature named on the command line: "L17/F2381@4" (as trace and query print it), "17:4:2381"
/// (layer:pos:feature), or without a position "L17/F2381" and "17/2381".
struct FeatureAddress: ExpressibleByArgument {
    var layer: Int
    var index: Int
    var position: Int?

    init?(argument: String) {
        func number(_ s: Substring, prefix: Character? = nil) -> Int? {
            let digits = prefix != nil && s.first.map { $0.uppercased() == String(prefix!) } == true ? s.dropFirst() : s
            return Int(digits).flatMap { $0 >= 0 ? $0 : nil }
        }
        let colon = argument.split(separator: ":", omittingEmptySubsequences: false)
        if colon.count == 3 {
            guard let l = number(colon[0]), let p = number(colon[1]), let f = number(colon[2]) else { return nil }
            (layer, position, index) = (l, p, f)
            return
        }
        let at = argument.split(separator: "@", omittingEmptySubsequences: false)
        guard at.count <= 2 else { return nil }
        if at.count == 2 {
            guard let p = number(at[1]) else { return nil }
            position = p
        }
        let parts = at[0].split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let l = number(parts[0], prefix: "L"), let f = number(parts[1], prefix: "F") else { return nil }
        layer = l
        index = f
    }
}

extension SetIdentity {
    /// The store's identity of a model and transcoder set (content fingerprints of their files).
    static func make(model: LoadedModel, transcoders: TranscoderSet) throws -> SetIdentity {
        let c = model.configuration
        return SetIdentity(modelFingerprint: try model.fingerprint(), modelPath: model.path, architecture: c.architecture, layers: c.layers,
                           width: c.width, setFingerprint: try transcoders.fingerprint(), setName: transcoders.name,
                           setPath: transcoders.folder ?? transcoders.name, features: transcoders.features)
    }
}
