// Saving, listing, loading, deleting and re-pruning graphs. Every write is one transaction.

import Attribution
import Foundation
import TensorCore

/// One row of `graphs list`.
public struct GraphSummary: Codable, Sendable, Equatable {
    public var id: Int64
    public var slug: String
    public var prompt: String
    public var createdAt: String
    public var positions: Int
    public var activeFeatures: Int
    public var featureNodes: Int
    public var logitNodes: Int
    public var nodeThreshold: Double
    public var edgeThreshold: Double
    /// nil for imported graphs whose file does not carry the scores.
    public var replacementScore: Double?
    public var completenessScore: Double?
    public var nodesTotal: Int
    public var edgesTotal: Int
    public var nodesKept: Int
    public var edgesKept: Int
    public var transcoderSet: String
}

/// A node of a stored (pruned) graph.
public struct StoredNode: Codable, Sendable, Equatable {
    public var index: Int
    public var kind: NodeLayout.Kind
    public var layer: Int?
    public var position: Int
    public var feature: Int?
    public var tokenId: Int?
    public var tokenText: String?
    public var activation: Float?
    public var influence: Float
    public var probability: Float?
}

/// An edge source → target of a stored graph, with weight A[target, source].
public struct StoredEdge: Codable, Sendable, Equatable {
    public var source: Int
    public var target: Int
    public var weight: Float
    public init(source: Int, target: Int, weight: Float) { self.source = source; self.target = target; self.weight = weight }
}

/// A stored graph as shown: its pruned nodes and edges, and what made it.
public struct StoredGraph: Sendable {
    public var summary: GraphSummary
    public var nodes: [StoredNode]
    public var edges: [StoredEdge]
    public var provenance: GraphProvenance
    public var timings: AttributionTimings
    public var layout: NodeLayout
    /// Each kept node's cumulative influence share (circuit-tracer's `influence` in graph files).
    public var cumulativeInfluence: [Int: Float]
    /// Labels that came with an imported graph, by node index.
    public var importedLabels: [Int: String]
}

/// What a stored graph needs besides its adjacency to be rebuilt exactly.
/// Written and read by StoredBlobs (explicit keys, versioned).
struct NodeFacts {
    var tokens: [Int]
    var layout: NodeLayout
    var features: [ActiveFeature]
    var activeFeatureCount: Int
    var logits: [LogitNode]
    var influence: [Float]
    var tokenTexts: [String]
    var logitTexts: [String]
    /// For imported graphs: the cumulative influence shares and labels as given in the file.
    var importedShares: [Int: Float]? = nil
    var importedLabels: [Int: String]? = nil

    /// Cumulative share of influence per node: nodes sorted by influence (largest first), each
    /// getting the running sum over the total at its place (circuit-tracer's cumulative scores).
    var cumulativeShares: [Int: Float] {
        if let importedShares { return importedShares }
        let order = influence.indices.sorted { influence[$0] != influence[$1] ? influence[$0] > influence[$1] : $0 < $1 }
        let total = influence.reduce(0.0) { $0 + Double($1) }
        var running = 0.0, out = [Int: Float]()
        for i in order {
            running += Double(influence[i])
            out[i] = Float(total > 0 ? running / total : 0)
        }
        return out
    }
}

/// The model and transcoder set a graph was made with.
public struct GraphContext: Sendable {
    public var architecture: String
    public var layers: Int
    public var width: Int
    public var transcoderName: String
    public var transcoderFeatures: Int

    public init(architecture: String, layers: Int, width: Int, transcoderName: String, transcoderFeatures: Int) {
        self.architecture = architecture
        self.layers = layers
        self.width = width
        self.transcoderName = transcoderName
        self.transcoderFeatures = transcoderFeatures
    }
}

extension GraphStore {
    /// Saves a graph (and its model, set and prompt when new) in one transaction. `slug` must be
    /// unused; without one, a slug is made from the prompt. `tokenText` renders token ids.
    @discardableResult
    public func save(_ graph: AttributionGraph, slug requested: String? = nil, context: GraphContext, job: (BatchJob, worker: String)? = nil,
                     tokenText: (Int) -> String) throws -> GraphSummary {
        let p = graph.provenance
        let facts = NodeFacts(tokens: p.tokens, layout: graph.layout, features: graph.features, activeFeatureCount: graph.activeFeatureCount,
                              logits: graph.logits, influence: graph.influence, tokenTexts: p.tokens.map(tokenText),
                              logitTexts: graph.logits.map { $0.label(tokenText: tokenText) })
        return try save(graph, facts: facts, slug: requested, context: context, job: job)
    }

    /// Saves a graph read from an interchange file: its token and logit texts, influence shares
    /// and labels are kept as given.
    @discardableResult
    public func saveImported(_ graph: AttributionGraph, slug requested: String?, defaultSlug: String, context: GraphContext, tokenTexts: [String],
                             logitTexts: [String], shares: [Int: Float], labels: [Int: String]) throws -> GraphSummary {
        var facts = NodeFacts(tokens: graph.provenance.tokens, layout: graph.layout, features: graph.features,
                              activeFeatureCount: graph.activeFeatureCount, logits: graph.logits, influence: graph.influence,
                              tokenTexts: tokenTexts, logitTexts: logitTexts)
        facts.importedShares = shares
        facts.importedLabels = labels
        return try save(graph, facts: facts, slug: requested, defaultSlug: defaultSlug, context: context)
    }

    private func save(_ graph: AttributionGraph, facts: NodeFacts, slug requested: String?, defaultSlug: String? = nil,
                      context: GraphContext, job: (BatchJob, worker: String)? = nil) throws -> GraphSummary {
        let p = graph.provenance
        let n = graph.layout.count
        let encoder = JSONEncoder()
        let factsBlob = try StoredBlobs.encode(facts)
        let adjacencyBlob = try SparseAdjacency.encode(graph.adjacency)
        let counts = graph.counts
        let nodes = GraphStore.storedNodes(facts: facts, kept: graph.pruning.nodes)
        let provenance = try StoredBlobs.provenanceText(p)
        let timings = try StoredBlobs.timingsText(graph.timings)
        let tokenIds = String(decoding: try encoder.encode(p.tokens), as: UTF8.self)
        return try write { db in
            try serialise(db)
            let slug = try uniqueSlug(requested ?? GraphStore.slug(for: defaultSlug ?? p.prompt), requested: requested != nil, db)
            let (modelId, setId) = try GraphStore.ensure(SetIdentity(
                modelFingerprint: p.modelFingerprint, modelPath: p.modelPath, architecture: context.architecture, layers: context.layers,
                width: context.width, setFingerprint: p.transcoderFingerprint, setName: context.transcoderName, setPath: p.transcoderSet,
                features: context.transcoderFeatures), db)
            try db.execute("INSERT INTO prompt (text, token_ids) VALUES (?, ?) ON CONFLICT DO NOTHING", [p.prompt, tokenIds])
            let promptId: Int64 = try db.scalar("SELECT id FROM prompt WHERE text = ? AND token_ids = ?", [p.prompt, tokenIds])!
            let createdAt = ISO8601DateFormatter().string(from: Date())
            let graphId: Int64 = try db.scalar("""
                INSERT INTO graph (slug, prompt_id, model_id, transcoder_set_id, created_at, positions, layers, active_features,
                    feature_nodes, logit_nodes, node_threshold, edge_threshold, replacement_score, completeness_score,
                    nodes_total, edges_total, nodes_kept, edges_kept, provenance, timings, nodes_blob, adjacency)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
                """, [slug, promptId, modelId, setId, createdAt, p.tokens.count, graph.layout.layers, graph.activeFeatureCount,
                                 graph.features.count, graph.logits.count, p.options.nodeThreshold, p.options.edgeThreshold,
                                 graph.replacementScore.finite, graph.completenessScore.finite, counts.nodes, counts.edges, counts.prunedNodes,
                                 counts.prunedEdges, provenance, timings, factsBlob, adjacencyBlob])!
            try insert(nodes: nodes, edges: GraphStore.storedEdges(graph.adjacency, kept: graph.pruning.edges, n: n), graph: graphId, db)
            if let (job, worker) = job { try GraphStore.complete(job, worker: worker, graph: graphId, db) }
            GraphStore.faultPoint("save")
            return try summary(graphId, db)!
        }
    }

    /// The node records of the kept nodes.
    static func storedNodes(facts: NodeFacts, kept: [Bool]) -> [StoredNode] {
        let layout = facts.layout
        return (0..<layout.count).filter { kept[$0] }.map { i -> StoredNode in
            switch layout.kind(of: i) {
            case .feature:
                let f = facts.features[i]
                return StoredNode(index: i, kind: .feature, layer: f.layer, position: f.position, feature: f.feature,
                                  tokenId: facts.tokenIds(at: f.position), tokenText: facts.tokenTexts[f.position],
                                  activation: f.activation, influence: facts.influence[i], probability: nil)
            case .error:
                let (l, p) = layout.errorSite(i)
                return StoredNode(index: i, kind: .error, layer: l, position: p, feature: nil, tokenId: facts.tokenIds(at: p),
                                  tokenText: facts.tokenTexts[p], activation: nil, influence: facts.influence[i], probability: nil)
            case .token:
                let p = i - layout.tokenStart
                return StoredNode(index: i, kind: .token, layer: nil, position: p, feature: nil, tokenId: facts.tokenIds(at: p),
                                  tokenText: facts.tokenTexts[p], activation: nil, influence: facts.influence[i], probability: nil)
            case .logit:
                let j = i - layout.logitStart
                return StoredNode(index: i, kind: .logit, layer: layout.layers, position: layout.positions - 1, feature: nil,
                                  tokenId: facts.logits[j].token, tokenText: facts.logitTexts[j], activation: nil,
                                  influence: facts.influence[i], probability: facts.logits[j].probability)
            }
        }
    }

    static func storedEdges(_ a: Tensor, kept: [Bool], n: Int) -> [StoredEdge] {
        a.scalars.withUnsafeBufferPointer { w in
            kept.withUnsafeBufferPointer { k in
                var count = 0
                for i in 0..<n * n where k[i] && w[i] != 0 { count += 1 }
                var edges = [StoredEdge]()
                edges.reserveCapacity(count)
                for t in 0..<n {
                    for s in 0..<n where k[t * n + s] && w[t * n + s] != 0 {
                        edges.append(StoredEdge(source: s, target: t, weight: w[t * n + s]))
                    }
                }
                return edges
            }
        }
    }

    func insert(nodes: [StoredNode], edges: [StoredEdge], graph graphId: Int64, _ db: any StoreConnection) throws {
        var inputs = [Int: Double]()
        for edge in edges { inputs[edge.target, default: 0] += Double(abs(edge.weight)) }
        func optional(_ x: Int?) -> StoreValue { x.map { .integer(Int64($0)) } ?? .null }
        func optional(_ x: Float?) -> StoreValue { x.map { .double(Double($0)) } ?? .null }
        try db.insert(into: "node", columns: ["graph_id", "idx", "kind", "layer", "position", "feature", "token_id", "token_text", "activation",
                                               "influence", "probability", "input_abs"], count: nodes.count) { i, v in
            let node = nodes[i]
            v[0] = .integer(graphId); v[1] = .integer(Int64(node.index)); v[2] = .text(node.kind.rawValue); v[3] = optional(node.layer)
            v[4] = .integer(Int64(node.position)); v[5] = optional(node.feature); v[6] = optional(node.tokenId)
            v[7] = node.tokenText.map { .text($0) } ?? .null; v[8] = optional(node.activation); v[9] = .double(Double(node.influence))
            v[10] = optional(node.probability); v[11] = inputs[node.index].map { .double($0) } ?? .null
        }
        try db.insert(into: "edge", columns: ["graph_id", "source", "target", "weight"], count: edges.count) { i, v in
            let edge = edges[i]
            v[0] = .integer(graphId); v[1] = .integer(Int64(edge.source)); v[2] = .integer(Int64(edge.target)); v[3] = .double(Double(edge.weight))
        }
    }

    /// A slug from the prompt's words ("the-capital-of-texas-is").
    public static func slug(for prompt: String) -> String {
        let words = prompt.lowercased().split { !$0.isLetter && !$0.isNumber }.prefix(8)
        let base = String(words.joined(separator: "-").prefix(60))
        // A slug that reads as a number would be taken for a graph id ("graphs delete 1").
        return base.isEmpty ? "graph" : base.allSatisfy(\.isNumber) ? "graph-" + base : base
    }

    /// Throws unless `slug` may name a new graph (checked again when the graph is saved).
    public func checkSlug(_ slug: String) throws {
        _ = try read { db in try uniqueSlug(slug, requested: true, db) }
    }

    func uniqueSlug(_ base: String, requested: Bool, _ db: any StoreConnection) throws -> String {
        func taken(_ s: String) throws -> Bool { try db.row("SELECT 1 FROM graph WHERE slug = ?", [s]) != nil }
        if requested {
            guard !base.isEmpty, !base.allSatisfy(\.isNumber) else {
                throw GraphStoreError.invalidRequest("a slug must be a non-empty name that is not a number")
            }
            if try taken(base) { throw GraphStoreError.invalidRequest("slug \"\(base)\" is already used in \(path)") }
            return base
        }
        if try !taken(base) { return base }
        var i = 2
        while try taken("\(base)-\(i)") { i += 1 }
        return "\(base)-\(i)"
    }

    // MARK: Reading

    func summary(_ id: Int64, _ db: any StoreConnection) throws -> GraphSummary? {
        try db.row(GraphStore.summarySQL + " WHERE g.id = ?", [id]).map { try GraphStore.summary($0) }
    }

    /// A graph's summary columns (not its blobs: the adjacency of a default graph is megabytes).
    static let summarySQL = summarySelect(extra: "")

    /// The summary columns and what rebuilding the shown graph needs (node facts, provenance, timings).
    static let shownSQL = summarySelect(extra: "g.nodes_blob, g.provenance, g.timings, ")

    private static func summarySelect(extra columns: String) -> String {
        """
        SELECT g.id, g.slug, g.created_at, g.positions, g.active_features, g.feature_nodes, g.logit_nodes, g.node_threshold,
            g.edge_threshold, g.replacement_score, g.completeness_score, g.nodes_total, g.edges_total, g.nodes_kept, g.edges_kept,
            \(columns)p.text AS prompt_text, t.name AS set_name FROM graph g
        JOIN prompt p ON p.id = g.prompt_id JOIN transcoder_set t ON t.id = g.transcoder_set_id
        """
    }

    static func summary(_ row: StoreRow) throws -> GraphSummary {
        GraphSummary(id: try row.value("id"), slug: try row.value("slug"), prompt: try row.value("prompt_text"), createdAt: try row.value("created_at"), positions: try row.value("positions"),
                     activeFeatures: try row.value("active_features"), featureNodes: try row.value("feature_nodes"), logitNodes: try row.value("logit_nodes"),
                     nodeThreshold: try row.value("node_threshold"), edgeThreshold: try row.value("edge_threshold"), replacementScore: try row.value("replacement_score"),
                     completenessScore: try row.value("completeness_score"), nodesTotal: try row.value("nodes_total"), edgesTotal: try row.value("edges_total"),
                     nodesKept: try row.value("nodes_kept"), edgesKept: try row.value("edges_kept"), transcoderSet: try row.value("set_name"))
    }

    /// Every graph, newest first.
    public func list() throws -> [GraphSummary] {
        try read { db in try db.rows(GraphStore.summarySQL + " ORDER BY g.id DESC").map { try GraphStore.summary($0) } }
    }

    /// The id of the graph named by an id or a slug.
    public func graphId(_ key: String) throws -> Int64 {
        try read { db in try GraphStore.resolve(key, db) }
    }

    static func resolve(_ key: String, _ db: any StoreConnection) throws -> Int64 {
        if let id = Int64(key), try db.row("SELECT 1 FROM graph WHERE id = ?", [id]) != nil { return id }
        if let id: Int64 = try db.scalar("SELECT id FROM graph WHERE slug = ?", [key]) { return id }
        throw GraphStoreError.unknownGraph(key)
    }

    /// The pruned graph as stored. Rows that contradict each other (a node index past the layout,
    /// an edge to a node that was not kept, text where a number belongs) are refused, naming the graph.
    public func graph(_ key: String) throws -> StoredGraph {
        try read { db in
            let id = try GraphStore.resolve(key, db)
            let row = try db.row(GraphStore.shownSQL + " WHERE g.id = ?", [id])!
            let nodes = try db.rows("SELECT * FROM node WHERE graph_id = ? ORDER BY idx", [id]).map { r in
                StoredNode(index: try r.value("idx", graph: key), kind: NodeLayout.Kind(rawValue: try r.value("kind", graph: key)) ?? .feature,
                           layer: try r.value("layer", graph: key), position: try r.value("position", graph: key),
                           feature: try r.value("feature", graph: key), tokenId: try r.value("token_id", graph: key),
                           tokenText: try r.value("token_text", graph: key),
                           activation: (try r.value("activation", graph: key) as Double?).map(Float.init),
                           influence: Float(try r.value("influence", graph: key) as Double),
                           probability: (try r.value("probability", graph: key) as Double?).map(Float.init))
            }
            let edges = try db.rows("SELECT source, target, weight FROM edge WHERE graph_id = ? ORDER BY target, source", [id]).map {
                StoredEdge(source: try $0.value("source", graph: key), target: try $0.value("target", graph: key),
                           weight: Float(try $0.value("weight", graph: key) as Double))
            }
            let (facts, _) = try GraphStore.facts(row, graph: key, adjacency: false)
            try GraphStore.checkRows(nodes: nodes.map(\.index), edges: edges.map { ($0.source, $0.target) }, count: facts.layout.count, graph: key)
            for e in edges where !e.weight.isFinite {
                throw GraphStoreError.damagedRow(graph: key, reason: "edge \(e.source) → \(e.target) has weight \(e.weight)")
            }
            let (provenance, timings) = try GraphStore.provenanceAndTimings(row, graph: key)
            let shares = facts.cumulativeShares
            var kept = [Int: Float]()
            for node in nodes { kept[node.index] = shares[node.index] ?? 0 }
            return StoredGraph(summary: try GraphStore.summary(row), nodes: nodes, edges: edges, provenance: provenance, timings: timings,
                               layout: facts.layout, cumulativeInfluence: kept, importedLabels: facts.importedLabels ?? [:])
        }
    }

    /// The complete graph, rebuilt exactly as it was saved (every weight bit for bit).
    public func attributionGraph(_ key: String) throws -> AttributionGraph {
        try read { db in
            let id = try GraphStore.resolve(key, db)
            let row = try db.row("SELECT * FROM graph WHERE id = ?", [id])!
            let (facts, stored) = try GraphStore.facts(row, graph: key, adjacency: true)
            let (provenance, timings) = try GraphStore.provenanceAndTimings(row, graph: key)
            let adjacency = stored!
            let n = facts.layout.count
            let kept: [Int] = try db.column("SELECT idx FROM node WHERE graph_id = ?", [id])
            let links = try db.rows("SELECT source, target FROM edge WHERE graph_id = ?", [id]).map {
                (try $0.value("source", graph: key) as Int, try $0.value("target", graph: key) as Int)
            }
            try GraphStore.checkRows(nodes: kept, edges: links, count: n, graph: key)
            var nodes = [Bool](repeating: false, count: n), edges = [Bool](repeating: false, count: n * n)
            for i in kept { nodes[i] = true }
            for (source, target) in links { edges[target * n + source] = true }
            return AttributionGraph(
                layout: facts.layout, features: facts.features, activeFeatureCount: facts.activeFeatureCount, logits: facts.logits,
                adjacency: adjacency, influence: facts.influence,
                pruning: Influence.Pruning(nodes: nodes, edges: edges, nodeInfluence: facts.influence),
                replacementScore: try row.value("replacement_score", graph: key) ?? .nan,
                completenessScore: try row.value("completeness_score", graph: key) ?? .nan,
                provenance: provenance, timings: timings)
        }
    }

    /// A graph row's provenance and timings.
    static func provenanceAndTimings(_ row: StoreRow, graph key: String) throws -> (GraphProvenance, AttributionTimings) {
        let provenance: String = try row.value("provenance", graph: key), timings: String = try row.value("timings", graph: key)
        return (try StoredBlobs.provenance(provenance, graph: key), try StoredBlobs.timings(timings, graph: key))
    }

    /// A graph row's node facts (and its adjacency when asked), checked against each other.
    static func facts(_ row: StoreRow, graph key: String, adjacency: Bool) throws -> (NodeFacts, Tensor?) {
        let blob: Data = try row.value("nodes_blob", graph: key)
        let facts = try StoredBlobs.facts(blob, graph: key)
        let layout = facts.layout
        let limit = 1 << 24
        guard [layout.features, layout.layers, layout.positions, layout.logits].allSatisfy({ (0...limit).contains($0) }) else {
            throw GraphStoreError.invalidBlob(graph: key, reason: "its node layout has a count outside 0–\(limit)")
        }
        guard facts.features.count == layout.features, facts.influence.count == layout.count,
              facts.logits.count == layout.logits else {
            throw GraphStoreError.invalidBlob(graph: key, reason: "its node facts do not agree with its node layout")
        }
        guard adjacency else { return (facts, nil) }
        let a = try SparseAdjacency.decode(try row.value("adjacency", graph: key) as Data, graph: key)
        guard a.shape == [layout.count, layout.count] else {
            throw GraphStoreError.invalidBlob(graph: key, reason: "the node facts and the adjacency do not agree")
        }
        return (facts, a)
    }

    /// Kept nodes must be distinct indices of the layout, kept edges must join kept nodes.
    static func checkRows(nodes: [Int], edges: [(Int, Int)], count n: Int, graph key: String) throws {
        var present = [Bool](repeating: false, count: n)
        for i in nodes {
            guard (0..<n).contains(i) else { throw GraphStoreError.damagedRow(graph: key, reason: "node \(i) is outside the graph's \(n) nodes") }
            guard !present[i] else { throw GraphStoreError.damagedRow(graph: key, reason: "node \(i) is stored twice") }
            present[i] = true
        }
        for (source, target) in edges {
            guard (0..<n).contains(source), (0..<n).contains(target), present[source], present[target] else {
                throw GraphStoreError.damagedRow(graph: key, reason: "edge \(source) → \(target) joins nodes the graph does not keep")
            }
        }
    }

    /// A graph's unpruned adjacency and node facts as stored (versioned blobs), to carry in a file.
    public func unprunedBlobs(_ key: String) throws -> (facts: Data, adjacency: Data) {
        try read { db in
            let id = try GraphStore.resolve(key, db)
            let row = try db.row("SELECT nodes_blob, adjacency FROM graph WHERE id = ?", [id])!
            return (try row.value("nodes_blob"), try row.value("adjacency"))
        }
    }

    /// The most bytes a stored graph's adjacency may take once read (it is dense then); 80% of
    /// physical memory unless set lower.
    public static var adjacencyMemoryLimit: Double {
        get { SparseAdjacency.memoryLimit }
        set { SparseAdjacency.memoryLimit = newValue }
    }

    /// What unpruned blobs hold: the node layout, features, logits, influence and adjacency.
    public static func decodeUnpruned(facts: Data, adjacency: Data, graph: String) throws
        -> (layout: NodeLayout, features: [ActiveFeature], activeFeatureCount: Int, logits: [LogitNode], influence: [Float], adjacency: Tensor) {
        let decoded = try StoredBlobs.facts(facts, graph: graph)
        let a = try SparseAdjacency.decode(adjacency, graph: graph)
        guard a.shape == [decoded.layout.count, decoded.layout.count], decoded.features.count == decoded.layout.features,
              decoded.influence.count == decoded.layout.count, decoded.logits.count == decoded.layout.logits else {
            throw GraphStoreError.invalidBlob(graph: graph, reason: "the node facts and the adjacency do not agree")
        }
        return (decoded.layout, decoded.features, decoded.activeFeatureCount, decoded.logits, decoded.influence, a)
    }

    /// Saves a graph restored from a file that carried its unpruned blobs: the node facts are the
    /// original's, so nodes, influence and every later re-pruning are as the original's.
    @discardableResult
    public func saveRestored(_ graph: AttributionGraph, facts: Data, slug requested: String?, defaultSlug: String,
                             context: GraphContext) throws -> GraphSummary {
        let decoded = try StoredBlobs.facts(facts, graph: defaultSlug)
        return try save(graph, facts: decoded, slug: requested, defaultSlug: defaultSlug, context: context)
    }

    /// Token texts saved with a graph (prompt tokens, then logit tokens).
    public func tokenTexts(_ key: String) throws -> (prompt: [String], logits: [String]) {
        try read { db in
            let id = try GraphStore.resolve(key, db)
            let blob: Data = try db.scalar("SELECT nodes_blob FROM graph WHERE id = ?", [id]) ?? Data()
            let facts = try StoredBlobs.facts(blob, graph: key)
            return (facts.tokenTexts, facts.logitTexts)
        }
    }

    /// Deletes a graph (its nodes and edges go with it).
    /// Deletes a graph; with `reclaim`, the file gives the space back (VACUUM, a few seconds for
    /// a large store) instead of keeping it for later graphs.
    public func delete(_ key: String, reclaim: Bool = false) throws {
        try write { db in
            let id = try GraphStore.resolve(key, db)
            try db.execute("DELETE FROM graph WHERE id = ?", [id])
        }
        if reclaim { try vacuum() }
    }

    /// Prunes a stored graph again at new thresholds, from its stored unpruned adjacency.
    @discardableResult
    public func reprune(_ key: String, nodeThreshold: Double, edgeThreshold: Double) throws -> GraphSummary {
        guard (0...1).contains(nodeThreshold), (0...1).contains(edgeThreshold) else {
            throw GraphStoreError.invalidRequest("thresholds must be between 0 and 1")
        }
        let view = try unpruned(key)
        let full = view.graph
        let (nodes, edges) = try view.pruned(nodeThreshold: nodeThreshold, edgeThreshold: edgeThreshold)
        return try write { db in
            try serialise(db)
            let id = try GraphStore.resolve(key, db)
            try db.execute("DELETE FROM node WHERE graph_id = ?", [id])
            try db.execute("DELETE FROM edge WHERE graph_id = ?", [id])
            try insert(nodes: nodes, edges: edges, graph: id, db)
            var provenance = full.provenance
            provenance.options.nodeThreshold = nodeThreshold
            provenance.options.edgeThreshold = edgeThreshold
            try db.execute("""
                UPDATE graph SET node_threshold = ?, edge_threshold = ?, nodes_kept = ?, edges_kept = ?, provenance = ? WHERE id = ?
                """, [nodeThreshold, edgeThreshold, nodes.count, edges.count,
                                 try StoredBlobs.provenanceText(provenance), id])
            return try summary(id, db)!
        }
    }
}

extension Double {
    /// nil for NaN (an imported graph's unknown score), stored as NULL.
    var finite: Double? { isNaN ? nil : self }
}

extension NodeFacts {
    func tokenIds(at position: Int) -> Int? { tokens[position] }
}

extension GraphStore {
    /// Labels of a transcoder set's features by (layer, feature): the user's label where set,
    /// else the automatic one.
    public func featureLabels(transcoderFingerprint: String) throws -> [LayerFeature: String] {
        try read { db in
            // A set's labels number in the hundreds of thousands: read by column position, one
            // row at a time.
            var labels = [LayerFeature: String]()
            try db.forEachRow("""
                SELECT f.layer, f.idx, COALESCE(f.user_label, f.label) FROM feature f
                JOIN transcoder_set t ON t.id = f.transcoder_set_id
                WHERE t.fingerprint = ? AND COALESCE(f.user_label, f.label) IS NOT NULL
                """, [transcoderFingerprint]) { row in
                guard let layer = Int.read(row[0]), let feature = Int.read(row[1]), let text = String.read(row[2]) else {
                    throw GraphStoreError.damagedRow(graph: nil, reason: "a feature label row is not (layer, index, text)")
                }
                labels[LayerFeature(layer: layer, feature: feature)] = labels[LayerFeature(layer: layer, feature: feature)] ?? text
            }
            return labels
        }
    }
}

extension GraphStore {
    /// Feature labels for a stored graph's transcoder set (user labels win), joined in from the
    /// store at the time of asking, so graphs traced before the pages existed get them too.
    public func labels(for graph: StoredGraph) throws -> [LayerFeature: String] {
        try featureLabels(transcoderFingerprint: graph.provenance.transcoderFingerprint)
    }
}

extension StoredGraph {
    /// A feature node's label: from the store's feature pages (`labels`), else as an imported
    /// graph file gave it; nil for other nodes and unlabelled features.
    public func label(of node: StoredNode, labels: [LayerFeature: String]) -> String? {
        guard node.kind == .feature else { return nil }
        return labels[LayerFeature(layer: node.layer ?? 0, feature: node.feature ?? 0)] ?? importedLabels[node.index]
    }
}

/// A transcoder feature by layer and index.
public struct LayerFeature: Hashable, Comparable, Sendable, Codable {
    public var layer: Int
    public var feature: Int
    public init(layer: Int, feature: Int) { self.layer = layer; self.feature = feature }
    public static func < (a: Self, b: Self) -> Bool { (a.layer, a.feature) < (b.layer, b.feature) }
}
