import Analysis
import ArgumentParser
import Foundation
import LanguageModels
import TensorCore
import Transcoders

struct MonitorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Flag texts by named features' activations or probes; choose monitor features from labelled texts.",
        subcommands: [RunMonitor.self, SelectMonitor.self], defaultSubcommand: RunMonitor.self)
}

/// Where a feature monitor reads: the dictionary and the hook point it encodes.
private struct FeatureSource {
    var point: HookPoint
    var encode: (Tensor) throws -> SparseActivations
}

/// One forward pass of a text (as far as the last point needed): the feature activations at every
/// position for the sources asked for, and the cached values of `alsoAt` (probes' hooks).
private func featureActivations(_ loaded: LoadedModel, ids: [Int], sources: [String: FeatureSource],
                                alsoAt extra: Set<HookPoint> = []) throws -> (features: [String: SparseActivations], cache: ActivationCache) {
    let cache = try loaded.model.activations([ids], at: Set(sources.values.map(\.point)).union(extra))
    var out = [String: SparseActivations]()
    for (key, source) in sources {
        let value = cache[source.point]!
        out[key] = try source.encode(try value.reshaped([ids.count, value.shape.last!]))
    }
    return (out, cache)
}

/// One feature's activation at each position.
private func trace(_ a: SparseActivations, feature: Int) -> [Float] {
    (0..<a.rows).map { r in
        var v: Float = 0
        for s in a.rowStarts[r]..<a.rowStarts[r + 1] where Int(a.features[s]) == feature { v = a.values[s] }
        return v
    }
}

struct RunMonitor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Score texts with the monitors of a file; report flags, the tokens that fired, and precision and recall when texts are labelled.",
        discussion: """
            The monitor file (JSON) lists monitors: an SAE or transcoder feature with a threshold on its max (or mean) activation over the text's tokens, or a saved probe with a threshold on a class's probability. A text is flagged when at least minimum_flags (default 1) monitors flag it.
              {"monitors": [
                 {"name": "code-1", "sae": "models/saes/smollm2-l15",
                  "feature": 1234, "threshold": 2.5},
                 {"name": "mlp-5", "transcoders": "models/transcoders/smollm2-default",
                  "layer": 5, "feature": 77, "threshold": 1, "reduce": "mean"},
                 {"name": "person", "probe": "probe.json", "class": "person",
                  "threshold": 0.5}],
               "minimum_flags": 1}
            With --positive LABEL and labelled texts, precision and recall of the flags are reported.

            Examples:
              circuitry monitor --features monitors.json \\
                  --texts Datasets/monitor-code-test.jsonl --positive code
              circuitry monitor --features monitors.json --texts new.jsonl --json
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: JSONOption

    @Option(name: .long, help: ArgumentHelp("The monitor file.", valueName: "file"))
    var features: String

    @Option(name: .long, help: ArgumentHelp("Texts as JSON lines ({\"text\": …}, labels optional).", valueName: "file"))
    var texts: String

    @Option(name: .long, help: ArgumentHelp("The label of texts that should be flagged (for precision and recall).", valueName: "label"))
    var positive: String?

    @Option(name: .long, help: "Fired tokens listed per monitor and text.")
    var showTokens = 5

    struct TextReport: Encodable { var text: String; var label: String?; var flagged: Bool; var monitors: [MonitorScore]; var fired_tokens: [String: [String]] }
    struct Report: Encodable { var texts: Int; var flagged: Int; var precision: Double?; var recall: Double?; var f1: Double?; var results: [TextReport] }

    func run() throws {
        let file = try MonitorFile.load(path: features)
        let items = try LabelledText.load(path: texts, needsLabels: false)
        if let positive, !items.contains(where: { $0.label == positive }) { throw CommandError("no text in \(texts) has the label \(positive)") }
        let loaded = try modelOptions.load()
        var sources = [String: FeatureSource](), probes = [String: SavedProbe](), probePoints = [String: HookPoint]()
        for m in file.monitors {
            if let path = m.sae, sources["sae:" + path] == nil {
                let sae = try SparseAutoencoder.load(path: path)
                let point = try sae.validate(for: loaded.model)
                guard (0..<sae.features).contains(m.feature!) else { throw CommandError("monitor \(m.name): feature \(m.feature!) is outside the SAE's 0..<\(sae.features)") }
                sources["sae:" + path] = FeatureSource(point: point, encode: sae.encode)
            } else if let path = m.transcoders, let layer = m.layer, sources["tc:\(path):\(layer)"] == nil {
                let (set, t) = try TranscoderOptions.layer(layer, of: path, for: loaded.configuration, context: "monitor \(m.name): ")
                guard (0..<t.features).contains(m.feature!) else { throw CommandError("monitor \(m.name): feature \(m.feature!) is outside 0..<\(t.features)") }
                sources["tc:\(path):\(layer)"] = FeatureSource(point: set.inputPoint(layer: layer), encode: t.encode)
            } else if let path = m.probe, probes[path] == nil {
                let probe = try SavedProbe.load(path: path)
                guard let c = m.probeClass, probe.classes.contains(c) else {
                    throw CommandError("monitor \(m.name): give \"class\", one of \(probe.classes.joined(separator: ", "))")
                }
                probes[path] = probe
                let point = try loaded.model.hookPoint(named: probe.hookName)
                guard loaded.model.width(of: point) == probe.regression.width else {
                    throw CommandError("monitor \(m.name): the probe reads \(probe.hookName) rows of width \(probe.regression.width); this model's differ")
                }
                probePoints[path] = point
            }
        }
        let skip = loaded.startsWithBOS ? 1 : 0
        var results = [TextReport]()
        let bar = ProgressBar("monitor", total: items.count)
        for (n, item) in items.enumerated() {
            let ids = try loaded.tokenize(item.text)
            let (activations, cache) = try loaded.running {
                try featureActivations(loaded, ids: ids, sources: sources, alsoAt: Set(probePoints.values))
            }
            var scores = [MonitorScore](), fired = [String: [String]]()
            for m in file.monitors {
                if let path = m.probe, let probe = probes[path] {
                    let row = ProbeActivations.row(of: cache[probePoints[path]!]!, text: 0,
                                                   positions: try probe.position.positions(length: ids.count, skipFirst: loaded.startsWithBOS))
                    let p = try probe.regression.probabilities(row, rows: 1)[0][probe.classes.firstIndex(of: m.probeClass!)!]
                    scores.append(MonitorScore(monitor: m.name, score: p, flagged: p > m.threshold, firedPositions: []))
                    continue
                }
                let key = m.sae.map { "sae:" + $0 } ?? "tc:\(m.transcoders!):\(m.layer!)"
                let values = trace(activations[key]!, feature: m.feature!)
                let score = Monitoring.reduce(values, from: skip, m.reduce ?? .max)
                let positions = values.indices.filter { $0 >= skip && Double(values[$0]) > m.threshold }
                scores.append(MonitorScore(monitor: m.name, score: score, flagged: score > m.threshold, firedPositions: positions))
                if !positions.isEmpty {
                    fired[m.name] = try positions.sorted { values[$0] > values[$1] }.prefix(showTokens).map { try loaded.tokenizer.decode([ids[$0]]) }
                }
            }
            let flagged = scores.filter(\.flagged).count >= (file.minimumFlags ?? 1)
            results.append(TextReport(text: item.text, label: item.label.isEmpty ? nil : item.label, flagged: flagged, monitors: scores, fired_tokens: fired))
            bar.update(n + 1)
        }
        bar.finish()
        var precision: Double?, recall: Double?, f1: Double?
        if let positive {
            let r = Monitoring.precisionRecall(flagged: results.map(\.flagged), truth: results.map { $0.label == positive })
            (precision, recall, f1) = (r.precision, r.recall, r.f1)
        }
        let report = Report(texts: results.count, flagged: results.filter(\.flagged).count, precision: precision, recall: recall, f1: f1, results: results)
        if output.json { return try Output.json(report) }
        for r in results {
            let marks = r.monitors.map { String(format: "%@ %.2f%@", $0.monitor as NSString, $0.score, $0.flagged ? "!" : "") }.joined(separator: "  ")
            let tokens = r.fired_tokens.values.flatMap { $0 }.prefix(showTokens).map { "\"" + Output.visible($0) + "\"" }.joined(separator: " ")
            print("\(r.flagged ? "FLAG" : "    ")  \(Output.padded(String(Output.visible(r.text).prefix(60)), 60))  \(marks)\(tokens.isEmpty ? "" : "  fired on " + tokens)")
        }
        print("\(report.flagged) of \(report.texts) texts flagged")
        if let precision, let recall, let f1 { print(String(format: "precision %.3f, recall %.3f, F1 %.3f (positive label %@)", precision, recall, f1, positive! as NSString)) }
    }
}

struct SelectMonitor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "select",
        abstract: "Choose monitor features from labelled texts: those whose firing best separates the positive label.",
        discussion: """
            Every feature of the SAE (or of one transcoder layer) is scored on each text (max over its tokens); the --top features whose `score > threshold` best separates texts labelled --positive from the rest (balanced accuracy, best threshold each) are written as a monitor file. Choose on one split, measure on another:

            Examples:
              circuitry monitor select --texts Datasets/monitor-code-train.jsonl \\
                  --positive code --sae models/saes/smollm2-l15 --top 3 \\
                  --out monitors.json
              circuitry monitor --features monitors.json \\
                  --texts Datasets/monitor-code-test.jsonl --positive code
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: JSONOption

    @Option(name: .long, help: ArgumentHelp("Labelled texts to choose on.", valueName: "file"))
    var texts: String

    @Option(name: .long, help: ArgumentHelp("The label of texts the monitor should flag.", valueName: "label"))
    var positive: String

    @Option(name: .long, help: ArgumentHelp("Choose among this SAE's features.", valueName: "path"))
    var sae: String?

    @Option(name: .long, help: ArgumentHelp("Or among one layer's features of this transcoder set (with --layer).", valueName: "dir"))
    var transcoders: String?

    @Option(name: .long, help: "The transcoder layer.")
    var layer: Int?

    @Option(name: .long, help: "How many features.")
    var top = 3

    @Option(name: .long, help: "Reduce each text's activations by max or mean.")
    var reduce = "max"

    @Option(name: .long, help: "How many monitors must flag a text (written into the file).")
    var minimumFlags = 1

    @Option(name: .long, help: ArgumentHelp("Where to write the monitor file.", valueName: "file"))
    var out: String

    func validate() throws {
        guard (sae == nil) != (transcoders == nil) else { throw ValidationError("give --sae, or --transcoders with --layer") }
        if transcoders != nil && layer == nil { throw ValidationError("--transcoders needs --layer") }
        guard top >= 1 else { throw ValidationError("--top must be at least 1") }
        guard MonitorReduction(rawValue: reduce) != nil else { throw ValidationError("--reduce must be max or mean") }
        guard minimumFlags >= 1, minimumFlags <= top else { throw ValidationError("--minimum-flags must be between 1 and --top") }
    }

    func run() throws {
        let items = try LabelledText.load(path: texts)
        guard items.contains(where: { $0.label == positive }) else { throw CommandError("no text in \(texts) has the label \(positive)") }
        let loaded = try modelOptions.load()
        let source: FeatureSource, features: Int
        if let sae {
            let dictionary = try SparseAutoencoder.load(path: sae)
            source = FeatureSource(point: try dictionary.validate(for: loaded.model), encode: dictionary.encode)
            features = dictionary.features
        } else {
            let (set, t) = try TranscoderOptions.layer(layer!, of: transcoders, for: loaded.configuration, context: "")
            source = FeatureSource(point: set.inputPoint(layer: layer!), encode: t.encode)
            features = t.features
        }
        let reduction = MonitorReduction(rawValue: reduce)!
        let skip = loaded.startsWithBOS ? 1 : 0
        var scores = [[Double]]()
        let bar = ProgressBar("texts", total: items.count)
        for (n, item) in items.enumerated() {
            let ids = try loaded.tokenize(item.text)
            let a = try loaded.running { try featureActivations(loaded, ids: ids, sources: ["x": source]) }.features["x"]!
            var row = [Double](repeating: 0, count: features)
            let positions = max(ids.count - skip, 1)
            for r in skip..<max(a.rows, skip) {
                for s in a.rowStarts[r]..<a.rowStarts[r + 1] {
                    let f = Int(a.features[s]), v = Double(a.values[s])
                    row[f] = reduction == .max ? max(row[f], v) : row[f] + v / Double(positions)
                }
            }
            scores.append(row)
            bar.update(n + 1)
        }
        bar.finish()
        let chosen = try Monitoring.selectFeatures(scores: scores, positive: items.map { $0.label == positive }, count: top)
        guard !chosen.isEmpty else { throw CommandError("no feature fires on these texts") }
        let monitors = chosen.map { c in
            MonitorFile.Monitor(name: "\(positive)-\(c.feature)", sae: sae, transcoders: transcoders, layer: transcoders == nil ? nil : layer,
                                feature: c.feature, threshold: (c.threshold * 1000).rounded() / 1000, reduce: reduction)
        }
        try MonitorFile(monitors: monitors, minimumFlags: minimumFlags).save(to: out)
        if output.json { return try Output.json(chosen) }
        for c in chosen {
            print(String(format: "feature %5d  threshold %.3f  balanced accuracy %.3f  fires on %.0f%% of %@ texts, %.0f%% of others", c.feature, c.threshold,
                         c.balancedAccuracy, c.positiveRate * 100, positive as NSString, c.negativeRate * 100))
        }
        print("wrote \(out)")
    }
}
