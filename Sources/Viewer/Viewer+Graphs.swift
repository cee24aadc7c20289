// The graph list, graph views (stored or re-pruned in memory, edges paged), node details with the
// feature page, exports with subgraphs, and supernode suggestions.

import Foundation
import GraphExport
import GraphStore

extension Viewer {
    struct NodeOut: Encodable {
        var i: Int
        var kind: String
        var layer: Int?
        var pos: Int
        var feature: Int?
        var label: String?
        var token: String?
        var act: Float?
        var infl: Float
        var cum: Float?
        var prob: Float?
    }

    struct GraphOut: Encodable {
        var summary: GraphSummary
        var layers: Int
        var positions: Int
        var tokens: [String]
        var transcoderFingerprint: String
        var nodeThreshold: Double
        var edgeThreshold: Double
        /// Whether this is the pruning stored with the graph (else one made in memory).
        var stored: Bool
        var nodes: [NodeOut]
        /// Edges [source, target, weight], strongest first, from `edgeOffset`.
        var edges: [[Double]]
        var edgeOffset: Int
        var edgesTotal: Int
        var subgraphs: [StoredSubgraph]
        var milliseconds: Double
    }

    func graphList(search: String?) throws -> [GraphSummary] {
        let all = try store.list()
        guard let needle = search?.trimmingCharacters(in: .whitespaces).lowercased(), !needle.isEmpty else { return all }
        return all.filter { $0.prompt.lowercased().contains(needle) || $0.slug.lowercased().contains(needle) || String($0.id) == needle }
    }

    static func threshold(_ text: String?, _ name: String) throws -> Double? {
        guard let text, !text.isEmpty else { return nil }
        guard let value = Double(text), (0...1).contains(value) else { throw ViewerError.badRequest("\(name) must be a number from 0 to 1, not \"\(text)\"") }
        return value
    }

    static func count(_ text: String?, _ name: String, default value: Int, max: Int) throws -> Int {
        guard let text, !text.isEmpty else { return value }
        guard let n = Int(text), n >= 0 else { throw ViewerError.badRequest("\(name) must be a whole number ≥ 0, not \"\(text)\"") }
        return Swift.min(n, max)
    }

    /// The graph at the thresholds asked for (the stored pruning when none are).
    func view(_ key: String, query q: [String: String]) throws -> GraphView {
        let id = try store.graphId(key)
        let nodeThreshold = try Self.threshold(q["node_threshold"], "node_threshold")
        let edgeThreshold = try Self.threshold(q["edge_threshold"], "edge_threshold")
        let stored = nodeThreshold == nil && edgeThreshold == nil
        let start = Date()
        let base: StoredGraph
        let cacheKey: String
        var nt = 0.0, et = 0.0
        if stored {
            cacheKey = "\(id)|stored"
            if let hit = cache.view(cacheKey) { return hit }
            base = try cache.storedGraph(id) { try self.store.graph(String(id)) }
            (nt, et) = (base.summary.nodeThreshold, base.summary.edgeThreshold)
        } else {
            let storedGraph = try cache.storedGraph(id) { try store.graph(String(id)) }
            nt = nodeThreshold ?? storedGraph.summary.nodeThreshold
            et = edgeThreshold ?? storedGraph.summary.edgeThreshold
            cacheKey = "\(id)|\(nt)|\(et)"
            if let hit = cache.view(cacheKey) { return hit }
            let full = try cache.unpruned(id) { try store.unpruned(String(id)) }
                let (nodes, edges) = try full.pruned(nodeThreshold: nt, edgeThreshold: et)
            base = storedGraph.replacing(nodes: nodes, edges: edges, shares: full.cumulativeShares)
        }
        let view = GraphView(graph: base, nodeThreshold: nt, edgeThreshold: et, stored: stored,
                             milliseconds: Date().timeIntervalSince(start) * 1000)
        cache.keep(view, as: cacheKey)
        return view
    }

    func labels(_ g: StoredGraph) throws -> [LayerFeature: String] {
        try cache.labels(g.provenance.transcoderFingerprint) { try store.labels(for: g) }
    }

    func nodeOut(_ n: StoredNode, in g: StoredGraph, labels: [LayerFeature: String]) -> NodeOut {
        NodeOut(i: n.index, kind: n.kind.rawValue, layer: n.layer, pos: n.position, feature: n.feature, label: g.label(of: n, labels: labels),
                token: n.tokenText, act: n.activation, infl: n.influence, cum: g.cumulativeInfluence[n.index], prob: n.probability)
    }

    func graphView(_ key: String, query q: [String: String]) throws -> ViewerResponse {
        let v = try view(key, query: q)
        let offset = try Self.count(q["edge_offset"], "edge_offset", default: 0, max: v.graph.edges.count)
        let limit = try Self.count(q["edge_limit"], "edge_limit", default: 20_000, max: configuration.maxEdgesPerPage)
        let pageKey = "\(offset)|\(limit)|\(cache.version)"
        var encoded = false
        let body = try v.page(pageKey) {
            encoded = true
            let g = v.graph
            let labels = try labels(g)
            let out = GraphOut(summary: g.summary, layers: g.layout.layers, positions: g.layout.positions,
                               tokens: try store.tokenTexts(String(g.summary.id)).prompt, transcoderFingerprint: g.provenance.transcoderFingerprint,
                               nodeThreshold: v.nodeThreshold, edgeThreshold: v.edgeThreshold, stored: v.stored,
                               nodes: g.nodes.map { nodeOut($0, in: g, labels: labels) },
                               edges: [], edgeOffset: offset, edgesTotal: g.edges.count,
                               subgraphs: try store.subgraphs(String(g.summary.id)), milliseconds: v.milliseconds)
            return try Self.splice(edges: v.edges(offset: offset, limit: limit), into: ViewerResponse.encode(out))
        }
        if v.stored && encoded { prefetchUnpruned(v.graph.summary.id) }
        return ViewerResponse(status: 200, contentType: "application/json", body: body)
    }

    /// Reads the unpruned graph in the background once a stored view has been answered, so the
    /// first move of a threshold slider re-prunes at once instead of first reading some 50 MB from
    /// the store (started after the answer is made, not while: it would compete for the cores).
    /// A re-prune asked for meanwhile waits for this read instead of making a second one.
    func prefetchUnpruned(_ id: Int64) {
        let cache = self.cache, store = self.store
        DispatchQueue.global(qos: .utility).async { _ = try? cache.unpruned(id) { try store.unpruned(String(id)) } }
    }

    /// Writes the edges as `[[source, target, weight], …]` in place of the encoded empty list: a
    /// page of 20,000 edges is written directly instead of through the encoder's boxes.
    static func splice(edges: ArraySlice<StoredEdge>, into json: Data) throws -> Data {
        let marker = Data("\"edges\":[]".utf8)
        guard let range = json.range(of: marker) else { throw ViewerError(500, "the graph view could not be encoded") }
        var text = "\"edges\":["
        text.reserveCapacity(edges.count * 24)
        var first = true
        for e in edges {
            if !first { text += "," }
            first = false
            text += "[\(e.source),\(e.target),\(e.weight.isFinite ? "\(e.weight)" : "0")]"
        }
        text += "]"
        var out = json
        out.replaceSubrange(range, with: Data(text.utf8))
        return out
    }

    struct EdgeOut: Encodable { var node: NodeOut; var weight: Float }
    struct PathOut: Encodable { var nodes: [Int]; var strength: Double }
    struct NodeDetail: Encodable {
        var node: NodeOut
        var page: FeaturePage?
        var pageError: String?
        var incoming: [EdgeOut]
        var outgoing: [EdgeOut]
        var incomingTotal: Int
        var outgoingTotal: Int
        var logit: Int?
        var paths: [PathOut]
    }

    func nodeDetail(_ key: String, index: Int, query q: [String: String]) throws -> ViewerResponse {
        let v = try view(key, query: q)
        let body = try v.page("node|\(index)|\(q["logit"] ?? "")|\(q["top"] ?? "")|\(cache.version)") {
            try ViewerResponse.encode(try nodeDetail(v, key: key, index: index, query: q))
        }
        return ViewerResponse(status: 200, contentType: "application/json", body: body)
    }

    func nodeDetail(_ v: GraphView, key: String, index: Int, query q: [String: String]) throws -> NodeDetail {
        let g = v.graph
        guard let node = g.nodes.first(where: { $0.index == index }) else {
            throw ViewerError.notFound("node \(index) is not in this view of graph \"\(key)\"")
        }
        let labels = try labels(g)
        let byIndex = Dictionary(uniqueKeysWithValues: g.nodes.map { ($0.index, $0) })
        let top = try Self.count(q["top"], "top", default: 12, max: 200)
        let incoming = g.edges.filter { $0.target == index }.sorted(by: GraphView.stronger)
        let outgoing = g.edges.filter { $0.source == index }.sorted(by: GraphView.stronger)
        var page: FeaturePage?, pageError: String?
        if node.kind == .feature, let layer = node.layer, let feature = node.feature {
            do {
                page = try store.featurePage(setFingerprint: g.provenance.transcoderFingerprint, setName: g.summary.transcoderSet, layer: layer, index: feature)
            } catch { pageError = String(describing: error) }
        }
        let logits = g.nodes.filter { $0.kind == .logit }
        let logit: Int?
        if let asked = q["logit"], !asked.isEmpty {
            guard let i = Int(asked), logits.contains(where: { $0.index == i }) else { throw ViewerError.badRequest("logit \(asked) is not a logit node of this view") }
            logit = i
        } else {
            logit = logits.max { ($0.probability ?? 0) < ($1.probability ?? 0) }?.index
        }
        var paths = [PathOut]()
        if let logit {
            // The strongest token → logit paths that pass through this node.
            paths = g.strongestPaths(through: index, to: logit, k: 5, shares: v.shares).map { PathOut(nodes: $0.nodes, strength: $0.strength) }
        }
        return NodeDetail(node: nodeOut(node, in: g, labels: labels), page: page, pageError: pageError,
                                incoming: incoming.prefix(top).compactMap { e in byIndex[e.source].map { EdgeOut(node: nodeOut($0, in: g, labels: labels), weight: e.weight) } },
                                outgoing: outgoing.prefix(top).compactMap { e in byIndex[e.target].map { EdgeOut(node: nodeOut($0, in: g, labels: labels), weight: e.weight) } },
                                incomingTotal: incoming.count, outgoingTotal: outgoing.count, logit: logit, paths: paths)
    }

    func export(_ key: String, subgraph name: String?, svg: Bool) throws -> ViewerResponse {
        let g = try store.graph(key)
        let labels = try labels(g)
        var subgraph: StoredSubgraph?
        if let name, !name.isEmpty {
            guard let found = try store.subgraphs(key).first(where: { $0.name == name }) else {
                throw ViewerError.notFound("graph \"\(key)\" has no subgraph \"\(name)\"")
            }
            subgraph = found
        }
        if svg {
            guard let subgraph else { throw ViewerError.badRequest("subgraph.svg needs ?subgraph=NAME") }
            let dot = SubgraphDOT.dot(g, subgraph: subgraph, labels: labels)
            let text = try SVGRenderer.svg(fromDOT: dot)
            return ViewerResponse(status: 200, contentType: "image/svg+xml", body: Data(text.utf8))
        }
        let data = try InterchangeExport.graph(g, promptTokens: try store.tokenTexts(key).prompt, labels: labels, subgraph: subgraph).encoded()
        return ViewerResponse(status: 200, contentType: "application/json", body: data)
    }

    func suggestions(_ key: String, query q: [String: String]) throws -> ViewerResponse {
        let v = try view(key, query: q)
        return .json(SupernodeSuggestions.suggest(v.graph, labels: try labels(v.graph)))
    }
}
