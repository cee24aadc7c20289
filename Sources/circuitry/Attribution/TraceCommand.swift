import ArgumentParser
import Attribution
import Foundation
import GraphExport
import GraphStore
import LanguageModels
import TensorCore

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Build the attribution graph of a prompt and save it in the graph store.",
        discussion: """
            Runs the model on the prompt with every MLP replaced by its transcoder, computes how much every active feature, token and error drives every other feature and the most likely next tokens, prunes the graph, and saves it in one transaction. Prints the top logits, graph sizes, scores, the strongest paths from a token to the top logit, and where the time went.

            Examples:
              circuitry trace "The capital of Texas is" --svg Graphs/texas.svg
              circuitry trace "The capital of Texas is" --max-feature-nodes 2000 \\
                  --slug texas --json-out texas.json
              # a summary as one JSON document
              circuitry trace "The capital of Texas is" --json
              circuitry trace \\
                  "When Mary and John went to the store, John gave a drink to" \\
                  --verify
              circuitry trace \\
                  "When Mary and John went to the store, John gave a drink to" \\
                  --target " Mary" --minus " John"
            """)

    @Argument(help: "The prompt.")
    var prompt: String

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var transcoderOptions: TranscoderOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var flags: AttributionFlags
    @OptionGroup var targetOptions: TargetOptions
    @OptionGroup var drawing: DrawingOptions

    @Option(name: .long, help: "A name for the graph (default: made from the prompt).")
    var slug: String?

    @Flag(name: .long, help: "Do not prepend the beginning-of-sequence token.")
    var noBos = false

    @Option(name: .long, help: ArgumentHelp("Write the graph as SVG.", valueName: "file"))
    var svg: String?

    @Option(name: .long, help: ArgumentHelp("Write the graph as Graphviz DOT.", valueName: "file"))
    var dot: String?

    @Option(name: .customLong("json-out"), help: ArgumentHelp("Write the graph in circuit-tracer's interchange JSON (Neuronpedia's viewer reads it).", valueName: "file"))
    var jsonOut: String?

    @OptionGroup var output: JSONOption

    @Flag(name: .long, help: "Check the graph against the model before saving it: every row's sum, and 50 sampled edges by intervention.")
    var verify = false

    @Flag(name: .long, help: "With --verify: save the graph even when the check fails.")
    var keepUnverified = false

    func run() throws {
        let loaded = try modelOptions.load()
        let set = try transcoderOptions.load(for: loaded.configuration, lazy: true)
        // Everything that can be refused is checked before the long attribution starts.
        guard !prompt.isEmpty else { throw AttributionError.emptyPrompt }
        let tokens = try loaded.tokenize(prompt, bos: !noBos)
        var options = flags.options
        options.targets = try targetOptions.targets(loaded)
        let provenance = try GraphProvenance.make(model: loaded, transcoders: set, prompt: prompt, tokens: tokens, options: options)
        let store = try storeOptions.open(creating: true)
        if let slug { try store.checkSlug(slug) }
        let bar = ProgressBar("trace", total: 100)
        let graph = try Attribution.attribute(model: loaded.model, transcoders: set, tokens: tokens, options: options, provenance: provenance) { p in
            switch p.phase {
            case .forward: bar.update(2, detail: "forward pass")
            case .logits: bar.update(5, detail: "logit rows")
            case .features: bar.update(5 + 85 * p.done / max(p.total, 1), detail: "feature rows \(p.done)/\(p.total)")
            case .pruning: bar.update(92, detail: "pruning")
            }
        }
        var verification: String?
        if verify {
            bar.update(93, detail: "verifying", force: true)
            let identity = try Attribution.rowIdentity(graph: graph, model: loaded.model, transcoders: set)
            let check = try Verification.verify(graph: graph, model: loaded.model, transcoders: set, samples: 50)
            let passed = identity.worstRelativeError <= 1e-4 && check.passed
            let leftOut = graph.activeFeatureCount - graph.features.count
            verification = String(format: "verify: %d rows sum to their targets within %.2e (relative, ≤ 1e-4 needed%@); "
                                  + "%d edges match interventions within %.2f of tolerance (worst relative error %.2e) — %@",
                                  identity.values.count, identity.worstRelativeError,
                                  (leftOut > 0 ? ", the \(leftOut) features left out by the budget counted as what no node carries" : "") as NSString,
                                  check.edges.count, check.worstRatio, check.worstRelativeError, (passed ? "passed" : "FAILED") as NSString)
            if !passed && !keepUnverified {
                bar.finish()
                print(verification!)
                throw CommandError("the graph failed verification and was not saved (--keep-unverified saves it anyway)")
            }
        }
        bar.update(96, detail: "saving", force: true)
        let t0 = Date()
        let summary = try store.save(graph, slug: slug, context: GraphContext(
            architecture: loaded.configuration.architecture, layers: loaded.configuration.layers, width: loaded.configuration.width,
            transcoderName: set.name, transcoderFeatures: set.features)) { (try? loaded.tokenizer.text(of: $0)) ?? "?" }
        let saveSeconds = Date().timeIntervalSince(t0)
        bar.update(100, detail: "done", force: true)
        bar.finish()
        let stored = try store.graph(String(summary.id))
        let labels = try store.labels(for: stored)
        try write(stored, labels: labels, store: store)
        if output.json {
            try Output.json(jsonReport(graph, stored: stored, summary: summary, loaded: loaded, saveSeconds: saveSeconds, labels: labels,
                                       verification: verification))
        } else {
            print(report(graph, stored: stored, summary: summary, loaded: loaded, saveSeconds: saveSeconds, labels: labels))
        }
        if let verification {
            if !output.json { print(verification) }
            if verification.hasSuffix("FAILED") { throw CommandError("the graph failed verification (saved because of --keep-unverified)") }
        }
    }

    /// Writes the requested files; the graph is saved already, so a failure says so.
    func write(_ stored: StoredGraph, labels: [LayerFeature: String], store: GraphStore) throws {
        do {
            if dot != nil || svg != nil {
                let text = DOTWriter.dot(stored, labels: labels, rule: drawing.rule)
                if let dot { try Output.write(Data(text.utf8), to: dot) }
                if let svg { try Output.write(Data(try SVGRenderer.svg(fromDOT: text).utf8), to: svg) }
            }
            if let json = jsonOut {
                let texts = try store.tokenTexts(String(stored.summary.id)).prompt
                try Output.write(try InterchangeExport.graph(stored, promptTokens: texts, labels: labels).encoded(), to: json)
            }
        } catch {
            throw CommandError("graph \(stored.summary.id) \"\(stored.summary.slug)\" was saved, but \(error)")
        }
    }

    func report(_ graph: AttributionGraph, stored: StoredGraph, summary: GraphSummary, loaded: LoadedModel, saveSeconds: Double,
                labels: [LayerFeature: String]) -> String {
        var lines = ["graph \(summary.id) \"\(summary.slug)\" saved in \(storeOptions.shownLocation)", "", "top logits:"]
        let text = { (id: Int) in (try? loaded.tokenizer.text(of: id)) ?? "?" }
        if graph.provenance.options.targets == nil {
            for logit in graph.logits {
                lines.append(String(format: "  %6.2f%%  ", logit.probability * 100) + "\"\(Output.visible(text(logit.token)))\"")
            }
        } else {
            lines[lines.count - 1] = "targets:"
            for logit in graph.logits {
                let name = logit.minus.map { "\"\(Output.visible(text(logit.token)))\" − \"\(Output.visible(text($0)))\"" }
                    ?? logit.label.map(Output.visible) ?? "\"\(Output.visible(text(logit.token)))\""
                lines.append(String(format: "  %9.4f  ", logit.demeanedLogit) + name
                             + (logit.minus == nil && logit.direction == nil ? String(format: "  (p = %.4f)", logit.probability) : ""))
            }
        }
        lines.append("")
        lines.append("nodes \(summary.nodesTotal) → \(summary.nodesKept) after pruning, edges \(summary.edgesTotal) → \(summary.edgesKept)  "
                     + "(\(graph.features.count) of \(graph.activeFeatureCount) active features computed)")
        lines.append(String(format: "replacement score %.3f, completeness score %.3f", graph.replacementScore, graph.completenessScore))
        if let (target, paths) = Self.strongestPaths(stored, labels: labels) {
            lines.append("")
            lines.append("strongest paths to \(target):")
            for path in paths { lines.append(String(format: "  %.3g  ", path.strength) + path.nodes.joined(separator: " → ")) }
        }
        let t = graph.timings
        lines.append("")
        lines.append(String(format: "time: forward %.2f s, logit rows %.2f s, feature rows %.2f s, pruning %.2f s, saving %.2f s",
                            t.forward, t.logitRows, t.featureRows, t.assembly + t.pruning, saveSeconds))
        return lines.joined(separator: "\n")
    }

    struct Target: Encodable { var token_id: Int; var text: String; var minus_token_id: Int?; var probability: Float; var value: Float }
    struct Path: Encodable { var strength: Double; var nodes: [String] }
    struct JSONReport: Encodable {
        var id: Int64; var slug: String; var store: String; var targets: [Target]
        var nodes_total: Int; var nodes_kept: Int; var edges_total: Int; var edges_kept: Int
        var features_computed: Int; var active_features: Int
        var replacement_score: Double; var completeness_score: Double
        var strongest_paths: [Path]; var timings: AttributionTimings; var save_seconds: Double; var verification: String?
    }

    func jsonReport(_ graph: AttributionGraph, stored: StoredGraph, summary: GraphSummary, loaded: LoadedModel, saveSeconds: Double,
                    labels: [LayerFeature: String], verification: String?) -> JSONReport {
        let text = { (id: Int) in (try? loaded.tokenizer.text(of: id)) ?? "?" }
        let paths = Self.strongestPaths(stored, labels: labels)?.paths ?? []
        return JSONReport(
            id: summary.id, slug: summary.slug, store: storeOptions.shownLocation,
            targets: graph.logits.map { Target(token_id: $0.token, text: $0.label(tokenText: text), minus_token_id: $0.minus,
                                              probability: $0.probability, value: $0.demeanedLogit) },
            nodes_total: summary.nodesTotal, nodes_kept: summary.nodesKept, edges_total: summary.edgesTotal, edges_kept: summary.edgesKept,
            features_computed: graph.features.count, active_features: graph.activeFeatureCount,
            replacement_score: graph.replacementScore, completeness_score: graph.completenessScore,
            strongest_paths: paths, timings: graph.timings, save_seconds: saveSeconds, verification: verification)
    }

    /// The first target node's name and its three strongest paths from a token, named.
    static func strongestPaths(_ stored: StoredGraph, labels: [LayerFeature: String]) -> (target: String, paths: [Path])? {
        guard let top = stored.nodes.filter({ $0.kind == .logit }).min(by: { $0.index < $1.index }) else { return nil }
        let names = Dictionary(uniqueKeysWithValues: stored.nodes.map { ($0.index, name($0, labels: labels)) })
        return (names[top.index]!, stored.strongestPaths(to: top.index, k: 3).map { Path(strength: $0.strength, nodes: $0.nodes.map { names[$0]! }) })
    }

    static func name(_ n: StoredNode, labels: [LayerFeature: String] = [:]) -> String {
        switch n.kind {
        case .feature:
            "L\(n.layer ?? 0)/F\(n.feature ?? 0)@\(n.position)"
                + (labels[LayerFeature(layer: n.layer ?? 0, feature: n.feature ?? 0)].map { " [\(Output.visible($0))]" } ?? "")
        case .error: "error L\(n.layer ?? 0)@\(n.position)"
        case .token: "\"\(Output.visible(n.tokenText ?? ""))\"@\(n.position)"
        case .logit: "\"\(Output.visible(n.tokenText ?? ""))\""
        }
    }
}
