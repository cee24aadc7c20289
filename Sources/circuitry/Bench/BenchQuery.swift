import ArgumentParser
import Attribution
import CircuitQL
import Foundation
import GraphStore
import TensorCore

/// CircuitQL over a store of many graphs shaped like the pruned graph of the ANCHORS workload
/// (about 94 nodes and 660 edges each), synthetic and seeded so runs are comparable.
struct BenchQuery: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query", abstract: "Time CircuitQL queries on a store of synthetic graphs of realistic size.",
        discussion: "Example:\n  circuitry bench query --graphs 200")

    @Option(name: .long, help: "Graphs in the store.") var graphs = 200
    @Option(name: .long, help: ArgumentHelp("Where to build the store (default: a temporary file).", valueName: "path")) var store: String?

    static let queries = [
        ("thresholded path query, one graph", """
            USE 'bench-100' MATCH p = (t:Token)-[*1..4]->(l:Logit)
            WHERE ALL(r IN relationships(p) WHERE abs(r.weight) > 0.05)
            RETURN t.token, l.token, nodes(p), strength(p) AS s ORDER BY s DESC LIMIT 10
            """),
        ("all token → logit paths up to 4 steps, one graph (count)", """
            USE 'bench-100' MATCH p = (:Token)-[*1..4]->(:Logit) RETURN count(*) AS paths
            """),
        ("feature recurrence across all graphs", """
            MATCH (f:Feature) RETURN f.layer, f.feature, count(DISTINCT f.graph) AS graphs, avg(f.influence) AS mean
            ORDER BY graphs DESC, mean DESC LIMIT 20
            """),
        ("features in layers 10–20 with influence > 0.01, all graphs", """
            MATCH (f:Feature) WHERE f.layer >= 10 AND f.layer <= 20 AND f.influence > 0.01 RETURN count(*) AS n
            """),
    ]

    func run() throws {
        let path = store ?? NSTemporaryDirectory() + "circuitry-bench-\(UUID().uuidString).sqlite"
        let graphStore = try GraphStore(path: path)
        let t0 = Stopwatch.now()
        var generator = SplitMix(seed: 7)
        var nodes = 0, edges = 0
        for i in 0..<graphs {
            let graph = try Self.synthetic(&generator, prompt: "bench prompt \(i)")
            let summary = try graphStore.save(graph, slug: "bench-\(i)", context: GraphContext(architecture: "llama", layers: 30, width: 576,
                                              transcoderName: "synthetic", transcoderFeatures: 4096)) { "tok\($0)" }
            nodes += summary.nodesKept
            edges += summary.edgesKept
        }
        print(String(format: "store: %d graphs, %.0f nodes and %.0f edges per graph on average, built in %.1f s (%@)", graphs,
                     Double(nodes) / Double(graphs), Double(edges) / Double(graphs), Stopwatch.now() - t0, path as NSString))
        for (name, text) in Self.queries {
            var rows = 0
            let seconds = try Stopwatch.median(seconds: 1) { rows = try CircuitQL.run(text, on: graphStore, maxRows: 1_000_000).rows.count }
            let compiled = try CircuitQL.compile(text, for: graphStore)
            let plan = try graphStore.select(sql: "EXPLAIN QUERY PLAN " + compiled.sql, arguments: compiled.arguments).compactMap { row -> String? in
                if case let .text(detail)? = row.last, detail.contains("INDEX") || detail.contains("PRIMARY KEY") { return detail }
                return nil
            }
            print(String(format: "%8.1f ms  %@ (%d rows)", seconds * 1000, name as NSString, rows))
            for line in Set(plan).sorted() { print("             uses: \(line)") }
        }
        if store == nil { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
    }

    /// A graph like a pruned 7-token trace: ~70 features over 30 layers, ~8 error nodes, 10 logits,
    /// ~660 edges from earlier to later layers; features drawn from a small pool so they recur.
    static func synthetic(_ g: inout SplitMix, prompt: String) throws -> AttributionGraph {
        let positions = 7, layers = 30, logits = 10
        var features = [ActiveFeature]()
        for _ in 0..<70 {
            features.append(ActiveFeature(layer: Int(g.next() % 30), position: 1 + Int(g.next() % UInt64(positions - 1)),
                                          feature: Int(g.next() % 300), activation: Float(g.unit() * 5)))
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
        for _ in 0..<8 { errors.append(layout.error(layer: Int(g.next() % 30), position: Int(g.next() % UInt64(positions)))) }
        let candidates = Array(0..<features.count) + errors + (0..<positions).map { layout.token(position: $0) } + (0..<logits).map { layout.logit($0) }
        for i in candidates { kept[i] = true }
        var added = 0
        while added < 660 {
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
