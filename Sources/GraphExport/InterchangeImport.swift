// Reading interchange graph files (from circuit-tracer, Neuronpedia or Circuitry) into the store,
// so graphs made elsewhere can be queried and compared here. A file holds only the pruned graph,
// so an imported graph's adjacency holds just its links (re-pruning works within those).

import Attribution
import Foundation
import GraphStore
import ModelIO
import TensorCore

public enum InterchangeImport {
    public enum ImportError: Error, Equatable, CustomStringConvertible {
        case invalid(file: String, reason: String)
        public var description: String {
            switch self { case let .invalid(file, reason): "\(file): not a graph file: \(reason)" }
        }
    }

    /// Parses a graph file and saves it. Returns the stored graph's summary.
    @discardableResult
    public static func load(file: String, into store: GraphStore, slug: String? = nil) throws -> GraphSummary {
        guard let bytes = try? MappedFile.contents(of: file, limit: 2 << 30) else {
            throw ImportError.invalid(file: file, reason: "cannot read it as a regular file of at most 2 GB")
        }
        let data = Data(bytes)
        let parsed: InterchangeGraph
        do { parsed = try JSONDecoder().decode(InterchangeGraph.self, from: data) } catch {
            throw ImportError.invalid(file: file, reason: String(describing: error).split(separator: "\n").first.map(String.init) ?? "invalid JSON")
        }
        return try save(parsed, file: file, into: store, slug: slug)
    }

    /// The most nodes an imported graph may have (its adjacency is dense while it is read).
    public static let maxNodes = 40_000

    public static func save(_ g: InterchangeGraph, file: String, into store: GraphStore, slug: String?) throws -> GraphSummary {
        func invalid(_ reason: String) -> ImportError { .invalid(file: file, reason: reason) }
        let positions = g.metadata.prompt_tokens.count
        let logitNodes = g.nodes.filter { $0.feature_type == "logit" }
        guard positions > 0, let firstLogit = logitNodes.first, let logitLayer = Int(firstLogit.layer) else {
            throw invalid("it needs prompt tokens and at least one logit node")
        }
        let layers = g.metadata.circuitry?.layers ?? logitLayer - 1
        guard layers > 0, layers <= 1_000 else { throw invalid("\(layers) layers") }
        guard positions * (layers + 1) + g.nodes.count <= maxNodes else {
            throw invalid("\(positions) prompt tokens and \(g.nodes.count) nodes make more than \(maxNodes) graph nodes")
        }
        func parts(_ id: String) -> [Int] { id.split(separator: "_").compactMap { Int($0) } }
        var features = [(ActiveFeature, InterchangeGraph.Node)]()
        var tokens = g.metadata.circuitry?.token_ids ?? [Int](repeating: 0, count: positions)
        guard tokens.count == positions else {
            throw invalid("metadata.circuitry.token_ids has \(tokens.count) ids for \(positions) prompt tokens")
        }
        for node in g.nodes {
            switch node.feature_type {
            case "cross layer transcoder":
                let p = parts(node.node_id)
                guard p.count == 3, (0..<layers).contains(p[0]), p[1] >= 0, (0..<positions).contains(p[2]) else {
                    throw invalid("feature node id \(node.node_id)")
                }
                features.append((ActiveFeature(layer: p[0], position: p[2], feature: p[1], activation: Float(node.activation ?? 0)), node))
            case "embedding":
                let p = parts(String(node.node_id.dropFirst(2)))
                guard p.count == 2, (0..<positions).contains(p[1]), p[1] == node.ctx_idx else { throw invalid("token node id \(node.node_id)") }
                tokens[p[1]] = p[0]
            default: break
            }
        }
        features.sort { ($0.0.layer, $0.0.position, $0.0.feature) < ($1.0.layer, $1.0.position, $1.0.feature) }
        let layout = NodeLayout(features: features.count, layers: layers, positions: positions, logits: logitNodes.count)
        // Every node by id. circuit-tracer 0.5 gave error nodes "0_{layer}_{pos}", the id of a
        // layer-0 feature too: such nodes are told apart by feature_type, and links to them below.
        var byId = [String: [Int]](), shares = [Int: Float](), labels = [Int: String](), given = [Int: Float]()
        for (i, (_, node)) in features.enumerated() { byId[node.node_id, default: []].append(i) }
        var logits = [LogitNode](), logitTexts = [String]()
        for node in g.nodes {
            var i: Int?
            switch node.feature_type {
            case "cross layer transcoder":
                i = byId[node.node_id]?.first { layout.kind(of: $0) == .feature }
            case "mlp reconstruction error":
                let p = parts(node.node_id)
                guard p.count == 3 else { throw invalid("error node id \(node.node_id)") }
                let (l, pos) = p[1] == -1 ? (p[0], p[2]) : (p[1], p[2])
                guard (0..<layers).contains(l), (0..<positions).contains(pos) else { throw invalid("error node id \(node.node_id)") }
                i = layout.error(layer: l, position: pos)
            case "embedding":
                i = layout.token(position: node.ctx_idx)
            case "logit":
                guard logits.count < layout.logits else { break }
                i = layout.logit(logits.count)
                logits.append(LogitNode(token: node.feature, probability: Float(node.token_prob), demeanedLogit: 0))
                logitTexts.append(logitText(node.clerp))
            default: break
            }
            guard let i else { continue }
            if node.feature_type != "cross layer transcoder" { byId[node.node_id, default: []].append(i) }
            if let influence = node.influence { shares[i] = Float(influence) }
            if let own = node.circuitry_influence { given[i] = Float(own) }
            if !node.clerp.isEmpty && node.feature_type != "logit" { labels[i] = node.clerp }
        }
        // Where each node sits, for telling colliding ids apart: a source writes below the layer
        // its target reads at, at the same or an earlier position.
        func site(_ i: Int) -> (layer: Int, position: Int) {
            switch layout.kind(of: i) {
            case .feature: return (features[i].0.layer, features[i].0.position)
            case .error: let (l, p) = layout.errorSite(i); return (l, p)
            case .token: return (-1, i - layout.token(position: 0))
            case .logit: return (layers, positions - 1)
            }
        }
        let n = layout.count
        var adjacency = try Tensor(zeros: [n, n])
        var edges = [Bool](repeating: false, count: n * n)
        for link in g.links {
            guard let sources = byId[link.source], let targets = byId[link.target] else {
                throw invalid("link \(link.source) → \(link.target) names an unknown node")
            }
            var pairs = [(Int, Int)]()
            for s in sources where layout.kind(of: s) != .logit {
                for t in targets where [.feature, .logit].contains(layout.kind(of: t)) {
                    let (a, b) = (site(s), site(t))
                    if sources.count * targets.count == 1 || (a.layer < b.layer && a.position <= b.position) { pairs.append((s, t)) }
                }
            }
            guard pairs.count == 1, let (s, t) = pairs.first else {
                throw invalid("link \(link.source) → \(link.target) is ambiguous: \(sources.count > 1 ? link.source : link.target) names "
                              + "more than one node (circuit-tracer 0.5's error ids collide with layer-0 features)")
            }
            guard link.weight.isFinite else { throw invalid("link \(link.source) → \(link.target) has weight \(link.weight)") }
            adjacency.scalars[t * n + s] = Float(link.weight)
            edges[t * n + s] = true
        }
        var kept = [Bool](repeating: false, count: n)
        for list in byId.values { for i in list { kept[i] = true } }
        // Each node's own influence: as Circuitry exported it, or else recomputed over the file's links.
        let probabilities = logits.map(\.probability)
        let influence = given.isEmpty
            ? try Influence.nodeInfluence(adjacency: adjacency, logitWeights: Influence.logitWeights(layout, probabilities))
            : (0..<n).map { given[$0] ?? 0 }
        let c = g.metadata.circuitry
        if let factsText = c?.unpruned_facts, let adjacencyText = c?.unpruned_adjacency {
            return try restore(g, file: file, facts: factsText, adjacency: adjacencyText, into: store, slug: slug,
                               kept: kept, edges: edges, layout: layout, features: features.map(\.0))
        }
        let provenance = Self.provenance(g, file: file, tokens: tokens)
        let graph = AttributionGraph(layout: layout, features: features.map(\.0), activeFeatureCount: features.count, logits: logits,
                                     adjacency: adjacency, influence: influence,
                                     pruning: Influence.Pruning(nodes: kept, edges: edges, nodeInfluence: influence),
                                     replacementScore: c?.replacement_score ?? .nan, completenessScore: c?.completeness_score ?? .nan,
                                     provenance: provenance, timings: AttributionTimings())
        return try store.saveImported(graph, slug: slug, defaultSlug: g.metadata.slug, context: GraphContext(architecture: "imported", layers: layers, width: 0,
                                      transcoderName: g.metadata.scan, transcoderFeatures: 0),
                                      tokenTexts: g.metadata.prompt_tokens, logitTexts: logitTexts, shares: shares, labels: labels)
    }

    /// A file from `export --with-unpruned`: the graph is rebuilt on the original's node facts and
    /// unpruned adjacency, with the file's nodes and links as its pruned graph.
    static func restore(_ g: InterchangeGraph, file: String, facts factsText: String, adjacency adjacencyText: String, into store: GraphStore,
                        slug: String?, kept: [Bool], edges: [Bool], layout: NodeLayout, features: [ActiveFeature]) throws -> GraphSummary {
        func invalid(_ reason: String) -> ImportError { .invalid(file: file, reason: reason) }
        guard let factsData = Data(base64Encoded: factsText), let adjacencyData = Data(base64Encoded: adjacencyText) else {
            throw invalid("its unpruned graph is not base64")
        }
        let original: (layout: NodeLayout, features: [ActiveFeature], activeFeatureCount: Int, logits: [LogitNode], influence: [Float], adjacency: Tensor)
        do { original = try GraphStore.decodeUnpruned(facts: factsData, adjacency: adjacencyData, graph: g.metadata.slug) } catch {
            throw invalid("its unpruned graph: \(error)")
        }
        let full = original.layout
        guard full.layers == layout.layers, full.positions == layout.positions, full.logits == layout.logits else {
            throw invalid("its unpruned graph does not match its nodes")
        }
        // This file's node numbers → the original's.
        var position = [String: Int]()
        for (j, f) in original.features.enumerated() { position["\(f.layer)/\(f.position)/\(f.feature)"] = j }
        func map(_ i: Int) throws -> Int {
            switch layout.kind(of: i) {
            case .feature:
                let f = features[i]
                guard let j = position["\(f.layer)/\(f.position)/\(f.feature)"] else { throw invalid("feature L\(f.layer)/F\(f.feature)@\(f.position) is not in its unpruned graph") }
                return full.feature(j)
            case .error: let (l, p) = layout.errorSite(i); return full.error(layer: l, position: p)
            case .token: return full.token(position: i - layout.token(position: 0))
            case .logit: return full.logit(i - layout.logitStart)
            }
        }
        let n = layout.count, m = full.count
        var nodes = [Bool](repeating: false, count: m), links = [Bool](repeating: false, count: m * m)
        for i in 0..<n where kept[i] { nodes[try map(i)] = true }
        for t in 0..<n { for s in 0..<n where edges[t * n + s] { links[try map(t) * m + (try map(s))] = true } }
        let c = g.metadata.circuitry!
        let provenance = Self.provenance(g, file: file, tokens: c.token_ids)
        let graph = AttributionGraph(layout: full, features: original.features, activeFeatureCount: original.activeFeatureCount,
                                     logits: original.logits, adjacency: original.adjacency, influence: original.influence,
                                     pruning: Influence.Pruning(nodes: nodes, edges: links, nodeInfluence: original.influence),
                                     replacementScore: c.replacement_score ?? .nan, completenessScore: c.completeness_score ?? .nan,
                                     provenance: provenance, timings: AttributionTimings())
        return try store.saveRestored(graph, facts: factsData, slug: slug, defaultSlug: g.metadata.slug,
                                      context: GraphContext(architecture: "imported", layers: full.layers, width: 0,
                                                            transcoderName: g.metadata.scan, transcoderFeatures: 0))
    }

    /// Where an imported graph came from: the file, and what its metadata says of model, set and options.
    static func provenance(_ g: InterchangeGraph, file: String, tokens: [Int]) -> GraphProvenance {
        let c = g.metadata.circuitry
        var options = AttributionOptions()
        options.nodeThreshold = g.metadata.node_threshold ?? 0.8
        options.edgeThreshold = c?.edge_threshold ?? 0.98
        return GraphProvenance(modelPath: "imported from \((file as NSString).lastPathComponent)", modelFingerprint: c?.model_fingerprint ?? "unknown",
                               transcoderSet: g.metadata.scan, transcoderFingerprint: c?.transcoder_fingerprint ?? g.metadata.scan,
                               prompt: g.metadata.prompt, tokens: tokens, options: options, engineVersion: c?.engine_version ?? "imported")
    }

    /// The token text inside a logit node's clerp: Output "tok" (p=0.123).
    static func logitText(_ clerp: String) -> String {
        guard clerp.hasPrefix("Output \""), let end = clerp.range(of: "\" (p=", options: .backwards) else { return clerp }
        return String(clerp[clerp.index(clerp.startIndex, offsetBy: 8)..<end.lowerBound])
    }
}
