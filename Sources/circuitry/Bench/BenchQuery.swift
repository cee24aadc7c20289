import ArgumentParser
import Attribution
import CircuitQL
import Foundation
import GraphExport
import GraphStore
import TensorCore

/// CircuitQL over a store of many graphs: synthetic graphs the size of a real pruned trace (about
/// 870 nodes and 128k edges, like the default graph), seeded so runs are comparable; or, with
/// --real, copies of the real traces in a store (each imported through the interchange file, so
/// every node keeps its influence).
struct BenchQuery: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query", abstract: "Time CircuitQL queries on a store of many graphs of real size.",
        discussion: """
            Times four path and aggregate queries and every file in Queries/ (their USE graph becomes the bench store's first graph), each the median of repeated runs, with the indexes SQLite uses.

            Examples:
              circuitry bench query --graphs 200
              # copies of Graphs/circuits.sqlite's traces
              circuitry bench query --real --graphs 200
              # graphs the size of the ANCHORS workload's
              circuitry bench query --graphs 200 --small
            """)

    @Option(name: .long, help: "Graphs in the store.") var graphs = 200
    @Option(name: .long, help: ArgumentHelp("Where to build the store: a new file, or an empty PostgreSQL schema (postgres://…?schema=NAME) (default: a temporary file).",
                                            valueName: "path|url")) var store: String?
    @Flag(name: .long, help: "Fill the store with copies of the real traces of --source.") var real = false
    @Option(name: .long, help: ArgumentHelp("With --real: the store whose traces are copied (default: the default store).", valueName: "path"))
    var source: String?
    @Flag(name: .long, help: "Synthetic graphs of about 94 nodes and 660 edges instead of a real trace's size.") var small = false
    @Option(name: .long, help: ArgumentHelp("Folder of example queries to time too.", valueName: "dir")) var queries = "Queries"
    @OptionGroup var output: JSONOption

    struct Timing: Encodable { var query: String; var milliseconds: Double?; var rows: Int?; var error: String?; var indexes: [String] }
    struct Report: Encodable { var graphs: Int; var kind: String; var nodes_per_graph: Double; var edges_per_graph: Double; var megabytes: Double; var queries: [Timing] }

    func validate() throws {
        guard graphs >= 1 else { throw ValidationError("--graphs must be at least 1") }
    }

    static func builtIn(_ first: String) -> [(String, String)] { [
        ("strongest 10 thresholded token → logit paths, one graph", """
            USE '\(first)' MATCH p = (t:Token)-[*1..4]->(l:Logit)
            WHERE ALL(r IN relationships(p) WHERE abs(r.weight) > 0.05)
            RETURN t.token, l.token, nodes(p), strength(p) AS s ORDER BY s DESC LIMIT 10
            """),
        ("all token → logit paths up to 4 steps, one graph (count)", """
            USE '\(first)' MATCH p = (:Token)-[*1..4]->(:Logit) RETURN count(*) AS paths
            """),
        ("strongest 5 paths from any token to the top logit, every graph", """
            MATCH p = (t:Token)-[*1..3]->(l:Logit) WHERE l.prob > 0.1 RETURN l.graph, nodes(p), strength(p) AS s ORDER BY s DESC LIMIT 5
            """),
        ("feature recurrence across all graphs", """
            MATCH (f:Feature) RETURN f.layer, f.feature, count(DISTINCT f.graph) AS graphs, avg(f.influence) AS mean
            ORDER BY graphs DESC, mean DESC LIMIT 20
            """),
        ("features in layers 10–20 with influence > 0.01, all graphs", """
            MATCH (f:Feature) WHERE f.layer >= 10 AND f.layer <= 20 AND f.influence > 0.01 RETURN count(*) AS n
            """),
    ] }

    func run() throws {
        let path = store ?? NSTemporaryDirectory() + "circuitry-bench-\(UUID().uuidString).sqlite"
        let graphStore = try GraphStore.open(path)
        defer { if store == nil { for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: path + suffix) } } }
        let t0 = Stopwatch.now()
        var nodes = 0, edges = 0
        var first = ""
        if real {
            let from = try GraphStore(path: source ?? ProcessInfo.processInfo.environment["CIRCUITRY_STORE"] ?? Paths.defaultStore, readOnly: true)
            let originals = try from.list()
            guard !originals.isEmpty else { throw CommandError("\(from.path): no graphs to copy (run `make demo` first)") }
            let files = try originals.map { summary -> InterchangeGraph in
                let g = try from.graph(String(summary.id))
                return InterchangeExport.graph(g, promptTokens: try from.tokenTexts(String(summary.id)).prompt, labels: try from.labels(for: g))
            }
            // The example queries ask about " Texas" and " Austin": USE a Texas graph when there is one.
            first = (originals.first { $0.slug.contains("texas") } ?? originals[0]).slug
            for i in 0..<graphs {
                let original = files[i % files.count]
                let slug = i < files.count ? original.metadata.slug : "\(original.metadata.slug)-copy-\(i)"
                let summary = try InterchangeImport.save(original, file: "bench", into: graphStore, slug: slug)
                nodes += summary.nodesKept
                edges += summary.edgesKept
            }
        } else {
            var generator = SplitMix(seed: 7)
            first = "bench-0"
            for i in 0..<graphs {
                let graph = try Self.synthetic(&generator, prompt: "bench prompt \(i)", small: small)
                let summary = try graphStore.save(graph, slug: "bench-\(i)", context: GraphContext(architecture: "llama", layers: 30, width: 576,
                                                  transcoderName: "synthetic", transcoderFeatures: 4096)) { "tok\($0)" }
                nodes += summary.nodesKept
                edges += summary.edgesKept
            }
        }
        try graphStore.checkpoint()
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let kind = real ? "real" : small ? "small synthetic" : "synthetic"
        var report = Report(graphs: graphs, kind: kind, nodes_per_graph: Double(nodes) / Double(graphs), edges_per_graph: Double(edges) / Double(graphs),
                            megabytes: Double(size) / 1e6, queries: [])
        defer { if output.json { try? Output.json(report) } }
        let say = { (line: String) in if !output.json { print(line) } }
        say(String(format: "store: %d %@ graphs, %.0f nodes and %.0f edges per graph on average, built in %.1f s, %.0f MB (%@)", graphs,
                   kind as NSString, Double(nodes) / Double(graphs), Double(edges) / Double(graphs), Stopwatch.now() - t0, Double(size) / 1e6,
                   graphStore.path as NSString))
        var timed = Self.builtIn(first)
        let folder = URL(fileURLWithPath: queries)
        for file in ((try? FileManager.default.contentsOfDirectory(atPath: queries)) ?? []).sorted() where file.hasSuffix(".cql") {
            guard let text = try? String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8) else { continue }
            let used = text.replacingOccurrences(of: #"USE\s+'[^']*'"#, with: "USE '\(first)'", options: .regularExpression)
            timed.append(("\(queries)/\(file)", used))
        }
        for (name, text) in timed {
            var rows = 0, seconds = 0.0
            do {
                seconds = try Stopwatch.median(seconds: 1) { rows = try CircuitQL.run(text, on: graphStore, maxRows: 1_000_000, timeout: 60).rows.count }
                say(String(format: "%9.1f ms  %@ (%d rows)", seconds * 1000, name as NSString, rows))
            } catch {
                say("   failed    \(name): \(error)")
                report.queries.append(Timing(query: name, milliseconds: nil, rows: nil, error: "\(error)", indexes: []))
                continue
            }
            let compiled = try CircuitQL.compile(text, for: graphStore)
            // SQLite's plan (other engines do not speak EXPLAIN QUERY PLAN: no indexes listed there).
            let plan = ((try? graphStore.select(sql: "EXPLAIN QUERY PLAN " + compiled.sql, arguments: compiled.arguments)) ?? []).compactMap { row -> String? in
                if case let .text(detail)? = row.last, detail.contains("INDEX") || detail.contains("PRIMARY KEY") { return detail }
                return nil
            }
            for line in Set(plan).sorted() { say("             uses: \(line)") }
            report.queries.append(Timing(query: name, milliseconds: seconds * 1000, rows: rows, error: nil, indexes: Set(plan).sorted()))
        }
    }

    /// A graph like a pruned 6-token trace: about 800 features over 30 layers (70 with `small`), error
    /// nodes, 10 logits, 128k edges (660) from earlier to later layers; features drawn from a pool
    /// so they recur across graphs.
    static func synthetic(_ g: inout SplitMix, prompt: String, small: Bool = false) throws -> AttributionGraph {
        let positions = small ? 7 : 6, layers = 30, logits = 10
        let (featureCount, edgeCount, errorCount, pool) = small ? (70, 660, 8, 300) : (820, 128_000, 60, 4096)
        var features = [ActiveFeature]()
        for _ in 0..<featureCount {
            features.append(ActiveFeature(layer: Int(g.next() % 30), position: 1 + Int(g.next() % UInt64(positions - 1)),
                                          feature: Int(g.next() % UInt64(pool)), activation: Float(g.unit() * 5)))
        }
        features = Array(Set(features.map { LayerFeaturePosition($0) })).map(\.feature).sorted { ($0.layer, $0.position, $0.feature) < ($1.layer, $1.position, $1.feature) }
        let layout = NodeLayout(features: features.count, layers: layers, positions: positions, logits: logits)
        let n = layout.count
        var a = try Tensor(zeros: [n, n])
        var kept = [Bool](repeating: false, count: n)
        func row(_ i: Int) -> Int {
            switch layout.kind(of: i) {
            case .feature: features[i].layer
            case .error: layout.errorSite(i).layer
            case .token: -1
            case .logit: layers
            }
        }
        var errors = [Int]()
        for _ in 0..<errorCount { errors.append(layout.error(layer: Int(g.next() % 30), position: Int(g.next() % UInt64(positions)))) }
        let candidates = Array(0..<features.count) + errors + (0..<positions).map { layout.token(position: $0) } + (0..<logits).map { layout.logit($0) }
        for i in candidates { kept[i] = true }
        var added = 0
        while added < edgeCount {
            let s = candidates[Int(g.next() % UInt64(candidates.count))], t = candidates[Int(g.next() % UInt64(candidates.count))]
            guard row(s) < row(t), layout.kind(of: t) == .feature || layout.kind(of: t) == .logit, a.scalars[t * n + s] == 0 else { continue }
            a.scalars[t * n + s] = Float(g.unit() * 2 - 0.6) * Float(1 + g.next() % 3)
            added += 1
        }
        let influence = (0..<n).map { kept[$0] ? Float(g.unit() * 0.05) : 0 }
        let tokens = (0..<positions).map { _ in Int(g.next() % 1000) }
        var options = AttributionOptions()
        options.nodeThreshold = 0.8
        let provenance = GraphProvenance(modelPath: "synthetic", modelFingerprint: "synthetic", transcoderSet: "synthetic", transcoderFingerprint: "synthetic",
                                         prompt: prompt, tokens: tokens, options: options, engineVersion: "bench")
        return AttributionGraph(layout: layout, features: features, activeFeatureCount: features.count,
                                logits: (0..<logits).map { LogitNode(token: 2000 + $0, probability: 0.5 / Float($0 + 1), demeanedLogit: 0) },
                                adjacency: a, influence: influence,
                                pruning: Influence.Pruning(nodes: kept, edges: a.scalars.map { $0 != 0 }, nodeInfluence: influence),
                                replacementScore: 0.5, completenessScore: 0.8, provenance: provenance, timings: AttributionTimings())
    }
}

/// A feature at a place, hashable by layer, position and index (activation ignored).
private struct LayerFeaturePosition: Hashable {
    let feature: ActiveFeature
    init(_ f: ActiveFeature) { feature = f }
    static func == (a: Self, b: Self) -> Bool { (a.feature.layer, a.feature.position, a.feature.feature) == (b.feature.layer, b.feature.position, b.feature.feature) }
    func hash(into h: inout Hasher) { h.combine(feature.layer); h.combine(feature.position); h.combine(feature.feature) }
}

/// A small seeded generator (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
