import Analysis
import ArgumentParser
import Foundation
import LanguageModels
import GraphStore

extension ReceiverInput: ExpressibleByArgument {}

struct PatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patch",
        abstract: "Activation patching: which layers, positions and heads carry the difference between two prompts.",
        discussion: """
            Runs CORRUPT with one activation of CLEAN put in its place, for every layer and position at resid_pre, attn_out and mlp_out, and every attention head (its output at all positions). Each cell is scored (m − m(corrupt)) / (m(clean) − m(corrupt)): 1 when that activation alone restores the clean answer, 0 when it changes nothing. The prompts must have the same number of tokens.

            Metrics (token texts verbatim between the parentheses, leading spaces included):
              logit_diff( Mary, John)   logit of " Mary" minus logit of " John" (IOI's)
              logit( Paris)             one logit
              prob( Paris)              one probability

            Path patching (--path-to): instead of the sites, every head of the layers before the receivers is a sender: its clean output reaches the receivers' query (--receiver-input q), key or value input with every other head frozen at its corrupted value; the receivers' inputs alone are then patched into the corrupted run. Scored the same way.

            A graph's features as the sites (--graph SLUG, the clean prompt's graph): each of its --features most influential features is set, in the corrupted run of the replacement model (its transcoders, the corrupted run's own error terms, later features recomputed), to its clean activation; scored the same way.

            Examples:
              circuitry patch \\
                  "When Mary and John went to the store, John gave a drink to" \\
                  "When Mary and John went to the store, Mary gave a drink to" \\
                  --metric "logit_diff( Mary, John)" --svg Graphs/patch-ioi.svg
              circuitry patch "The capital of Texas is" "The capital of Ohio is" \\
                  --metric "prob( Austin)" --sites resid_pre --json
              circuitry patch "…John gave a drink to" "…Mary gave a drink to" \\
                  --metric "logit_diff( Mary, John)" \\
                  --path-to 23.3 --receiver-input q --svg path.svg
              circuitry patch "The capital of Texas is" "The capital of Ohio is" \\
                  --metric "logit( Austin)" --graph the-capital-of-texas-is --features 30
            """)

    @Argument(help: "The clean prompt.") var clean: String
    @Argument(help: "The corrupted prompt (same token count).") var corrupt: String
    @Option(name: .long, help: "What to measure at the last position: logit_diff(A, B), logit(A) or prob(A).") var metric: String
    @Option(name: .long, help: "Sites to scan, comma-separated: resid_pre, attn_out, mlp_out, heads.") var sites = "resid_pre,attn_out,mlp_out,heads"
    @Option(name: .long, help: ArgumentHelp("Write the heatmaps here (one picture, a panel per site).", valueName: "file.svg")) var svg: String?
    @Option(name: .long, help: ArgumentHelp("Path patching into these receiver heads (LAYER.HEAD, comma-separated).", valueName: "L.H,…"))
    var pathTo: String?
    @Option(name: .long, help: "The receivers' input that path patching replaces: q, k or v.") var receiverInput = ReceiverInput.q
    @Option(name: .long, help: ArgumentHelp("Patch this stored graph's features (traced on CLEAN) instead of the sites.", valueName: "graph"))
    var graph: String?
    @Option(name: .long, help: "With --graph: how many of its most influential features.") var features = 20
    @Flag(name: .long, help: "With --graph: keep attention patterns and norm scales at the corrupted run's.") var freezeAttention = false
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var transcoderOptions: TranscoderOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: JSONOption

    func receivers() throws -> [(layer: Int, head: Int)]? {
        try pathTo.map { text in
            try text.split(separator: ",", omittingEmptySubsequences: false).map { item in
                let parts = item.trimmingCharacters(in: .whitespaces).split(separator: ".", omittingEmptySubsequences: false)
                guard parts.count == 2, let l = Int(parts[0]), let h = Int(parts[1]), l >= 0, h >= 0 else {
                    throw ValidationError("--path-to \(text): \(item) is not LAYER.HEAD (such as 23.3)")
                }
                return (l, h)
            }
        }
    }

    func chosenSites() throws -> [PatchSite] {
        let names = sites.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty else { throw ValidationError("--sites names no site") }
        return try names.map { name in
            guard let site = PatchSite(rawValue: name) else {
                throw ValidationError("unknown site \(name) in --sites (resid_pre, attn_out, mlp_out, heads)")
            }
            return site
        }
    }

    func validate() throws {
        _ = try chosenSites()
        _ = try receivers()
        guard features >= 1 else { throw ValidationError("--features must be at least 1") }
        if graph != nil && pathTo != nil { throw ValidationError("give --graph or --path-to, not both") }
    }

    struct FeatureCell: Encodable {
        var node: String; var layer: Int; var pos: Int; var feature: Int; var influence: Float
        var cleanActivation: Float; var corruptActivation: Float; var value: Double?; var score: Double?
    }
    struct FeatureReport: Encodable {
        var metric: String; var metricTokenIds: [Int]; var graph: String; var tokens: [String]; var corruptTokens: [String]
        var clean: Double?; var corrupt: Double?; var features: [FeatureCell]; var seconds: Double
    }

    /// A graph's most influential features patched through the replacement model.
    func runFeaturePatching(_ loaded: LoadedModel, clean cleanIds: [Int], corrupt corruptIds: [Int], metric parsed: Metric, graph name: String) throws {
        let store = try storeOptions.openForReading()
        let stored = try store.graph(name)
        guard stored.provenance.tokens == cleanIds else {
            throw CommandError("graph \(stored.summary.slug) was traced on \"\(Output.visible(stored.summary.prompt))\", not on the clean prompt: give that prompt as CLEAN")
        }
        let set = try transcoderOptions.load(for: loaded.configuration)
        guard try set.fingerprint() == stored.provenance.transcoderFingerprint else {
            throw CommandError("graph \(stored.summary.slug) was traced with the transcoders \(stored.summary.transcoderSet), not \(transcoderOptions.resolvedPath()): give those with --transcoders")
        }
        let chosen = stored.nodes.filter { $0.kind == .feature }.sorted { $0.influence > $1.influence }.prefix(features)
        let sites = chosen.map { FeatureSite(layer: $0.layer!, position: $0.position, feature: $0.feature!) }
        let bar = output.json ? nil : ProgressBar("patching features", total: max(sites.count, 1))
        let start = Date()
        let scan = try loaded.running {
            try FeaturePatching.scan(model: loaded.model, transcoders: set, clean: cleanIds, corrupt: corruptIds, metric: parsed, sites: sites,
                                     freezeAttention: freezeAttention) { done, _ in bar?.update(done) }
        }
        let seconds = Date().timeIntervalSince(start)
        bar?.finish()
        let cells = zip(chosen, scan.cells).map { node, cell in
            FeatureCell(node: "L\(cell.site.layer)/F\(cell.site.feature)@\(cell.site.position)", layer: cell.site.layer, pos: cell.site.position,
                        feature: cell.site.feature, influence: node.influence, cleanActivation: cell.cleanActivation,
                        corruptActivation: cell.corruptActivation, value: finite(cell.value), score: finite(scan.normalised(cell.value)))
        }
        if output.json {
            try Output.json(FeatureReport(metric: metric, metricTokenIds: parsed.tokenIds, graph: stored.summary.slug, tokens: try loaded.tokenTexts(cleanIds),
                                          corruptTokens: try loaded.tokenTexts(corruptIds), clean: finite(scan.clean), corrupt: finite(scan.corrupt),
                                          features: cells, seconds: seconds))
            return
        }
        print(String(format: "%@ through %@'s %d most influential features: clean %.4f, corrupted %.4f (%.2f s)", Output.visible(metric),
                     stored.summary.slug, cells.count, scan.clean, scan.corrupt, seconds))
        print("feature              influence   clean act  corrupt act     score")
        for c in cells {
            print(Output.padded(c.node, 20) + String(format: " %9.5f  %10.4f  %11.4f  ", c.influence, c.cleanActivation, c.corruptActivation)
                  + (c.score.map { String(format: "%8.4f", $0) } ?? "       —"))
        }
    }

    struct PathReport: Encodable {
        var metric: String; var metricTokenIds: [Int]; var tokens: [String]; var corruptTokens: [String]
        var receivers: [String]; var receiverInput: String; var clean: Double?; var corrupt: Double?
        var scores: [[Double?]]; var values: [[Double?]]; var seconds: Double
    }

    /// Path patching into `receivers`, reported like the site scan.
    func runPathPatching(_ loaded: LoadedModel, clean cleanIds: [Int], corrupt corruptIds: [Int], metric parsed: Metric,
                         receivers: [(layer: Int, head: Int)]) throws {
        let first = receivers.map(\.layer).min() ?? 0
        let bar = output.json ? nil : ProgressBar("path patching", total: max(first, 1))
        let start = Date()
        let scan = try loaded.running {
            try PathPatching.scan(model: loaded.model, clean: cleanIds, corrupt: corruptIds, metric: parsed, receivers: receivers,
                                  input: receiverInput) { done, _ in bar?.update(done) }
        }
        let seconds = Date().timeIntervalSince(start)
        bar?.finish()
        let names = receivers.map { "L\($0.layer).H\($0.head)" }
        if let svg {
            let map = Heatmap(title: "Path patching into \(names.joined(separator: ", ")) (\(receiverInput.rawValue)): \(Output.visible(metric))",
                              subtitle: String(format: "sender heads; normalised score (1: the path restores the clean answer); clean %.3f, corrupted %.3f", scan.clean, scan.corrupt),
                              rowLabels: (0..<scan.values.count).reversed().map { "L\($0)" }, columnLabels: (0..<loaded.configuration.heads).map { "H\($0)" },
                              values: scan.values.reversed().map { $0.map { scan.normalised($0) } }, scale: .diverging(limit: 1),
                              rowAxis: "sender layer", columnAxis: "sender head")
            try writePicture(map.svg(), to: svg)
        }
        if output.json {
            try Output.json(PathReport(metric: metric, metricTokenIds: parsed.tokenIds, tokens: try loaded.tokenTexts(cleanIds),
                                       corruptTokens: try loaded.tokenTexts(corruptIds), receivers: names, receiverInput: receiverInput.rawValue,
                                       clean: finite(scan.clean), corrupt: finite(scan.corrupt),
                                       scores: scan.values.map { $0.map { finite(scan.normalised($0)) } }, values: scan.values.map { $0.map(finite) },
                                       seconds: seconds))
            return
        }
        print(String(format: "%@ via %@ (%@): clean %.4f, corrupted %.4f (%.2f s)", Output.visible(metric), names.joined(separator: ", "),
                     receiverInput.rawValue, scan.clean, scan.corrupt, seconds))
        print("strongest senders: " + strongest(scan.values, scan.normalised, count: 8, "L%d.H%d %.3f"))
    }

    struct Site: Encodable { var site: String; var columns: String; var scores: [[Double?]]; var values: [[Double?]] }
    struct Report: Encodable {
        var metric: String; var metricTokenIds: [Int]; var tokens: [String]; var corruptTokens: [String]; var tokenIds: [Int]; var corruptTokenIds: [Int]
        var clean: Double?; var corrupt: Double?; var sites: [Site]; var seconds: Double
    }

    func run() throws {
        let loaded = try modelOptions.load()
        let cleanIds = try loaded.promptTokens(clean), corruptIds = try loaded.promptTokens(corrupt)
        guard cleanIds.count == corruptIds.count else {
            throw AnalysisError.unequalLengths(clean: cleanIds.count, corrupt: corruptIds.count)
        }
        let parsed = try Metric.parse(metric) { try loaded.tokenize($0, bos: false) }
        if let graph {
            try runFeaturePatching(loaded, clean: cleanIds, corrupt: corruptIds, metric: parsed.metric, graph: graph)
            return
        }
        if let receivers = try receivers() {
            try runPathPatching(loaded, clean: cleanIds, corrupt: corruptIds, metric: parsed.metric, receivers: receivers)
            return
        }
        let chosen = try chosenSites()
        let bar = output.json ? nil : ProgressBar("patching", total: chosen.count * loaded.configuration.layers)
        let start = Date()
        let scan = try loaded.running {
            try Patching.scan(model: loaded.model, clean: cleanIds, corrupt: corruptIds, metric: parsed.metric, sites: chosen) { done, _ in
                bar?.update(done)
            }
        }
        let seconds = Date().timeIntervalSince(start)
        bar?.finish()
        let tokens = try loaded.tokenTexts(cleanIds), corruptTokens = try loaded.tokenTexts(corruptIds)
        let columnsOfPositions = zip(tokens, corruptTokens).enumerated().map { i, pair in
            pair.0 == pair.1 ? "\(i) \(pair.0)" : "\(i) \(pair.0)/\(pair.1)"
        }
        if let svg {
            let panels = scan.sites.map { site, values in
                Heatmap(title: "Activation patching, \(site.rawValue): \(Output.visible(metric))",
                        subtitle: String(format: "normalised score (1: clean restored, 0: as corrupted); clean %.3f, corrupted %.3f", scan.clean, scan.corrupt),
                        rowLabels: (0..<values.count).reversed().map { "L\($0)" },
                        columnLabels: site.byHead ? (0..<loaded.configuration.heads).map { "H\($0)" } : columnsOfPositions,
                        values: values.reversed().map { $0.map { scan.normalised($0) } }, scale: .diverging(limit: 1),
                        rowAxis: "layer", columnAxis: site.byHead ? "head" : "position")
            }
            try writePicture(stackedSVG(panels.map { $0.svg() }), to: svg)
        }
        if output.json {
            try Output.json(Report(metric: metric, metricTokenIds: parsed.metric.tokenIds, tokens: tokens, corruptTokens: corruptTokens, tokenIds: cleanIds, corruptTokenIds: corruptIds,
                                   clean: finite(scan.clean), corrupt: finite(scan.corrupt),
                                   sites: scan.sites.map { site, values in
                                       Site(site: site.rawValue, columns: site.byHead ? "heads" : "positions",
                                            scores: values.map { $0.map { finite(scan.normalised($0)) } }, values: values.map { $0.map(finite) })
                                   }, seconds: seconds))
            return
        }
        print(String(format: "%@: clean %.4f, corrupted %.4f (%d tokens; %.2f s)", Output.visible(metric), scan.clean, scan.corrupt, cleanIds.count, seconds))
        if scan.normalised(scan.clean) == nil { print("the two prompts give the same value: scores are undefined") }
        for (site, values) in scan.sites {
            print("\(Output.padded(site.rawValue, 10)) strongest: " + strongest(values, scan.normalised, count: 5, site.byHead ? "L%d.H%d %.3f" : "L%d@%d %.3f"))
        }
    }

    /// The `count` cells of a [layer][column] grid with the largest normalised scores in magnitude.
    func strongest(_ grid: [[Double]], _ normalised: (Double) -> Double?, count: Int, _ format: String) -> String {
        var best = [(layer: Int, column: Int, score: Double)]()
        for (l, row) in grid.enumerated() {
            for (j, v) in row.enumerated() { if let s = normalised(v) { best.append((l, j, s)) } }
        }
        best.sort { abs($0.score) > abs($1.score) }
        return best.prefix(count).map { String(format: format, $0.layer, $0.column, $0.score) }.joined(separator: ", ")
    }
}
