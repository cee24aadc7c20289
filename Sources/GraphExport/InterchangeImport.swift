// Reading interchange graph files (from circuit-tracer, Neuronpedia or Circuitry) into the store,
// so graphs made elsewhere can be queried and compared here. A file holds only the pruned graph,
// so an imported graph's adjacency holds just its links (re-pruning works within those).

import Attribution
import Foundation
import GraphStore
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
        guard let data = FileManager.default.contents(atPath: file) else { throw ImportError.invalid(file: file, reason: "cannot read it") }
        let parsed: InterchangeGraph
        do { parsed = try JSONDecoder().decode(InterchangeGraph.self, from: data) } catch {
            throw ImportError.invalid(file: file, reason: String(describing: error).split(separator: "\n").first.map(String.init) ?? "invalid JSON")
        }
        return try save(parsed, file: file, into: store, slug: slug)
    }

    static func save(_ g: InterchangeGraph, file: String, into store: GraphStore, slug: String?) throws -> GraphSummary {
        let positions = g.metadata.prompt_tokens.count
        let logitNodes = g.nodes.filter { $0.feature_type == "logit" }
        guard positions > 0, let firstLogit = logitNodes.first, let logitLayer = Int(firstLogit.layer) else {
            throw ImportError.invalid(file: file, reason: "it needs prompt tokens and at least one logit node")
        }
        let layers = g.metadata.circuitry?.layers ?? logitLayer - 1
        func parts(_ id: String) -> [Int] { id.split(separator: "_").compactMap { Int($0) } }
        var features = [(ActiveFeature, InterchangeGraph.Node)]()
        var tokens = g.metadata.circuitry?.token_ids ?? [Int](repeating: 0, count: positions)
        for node in g.nodes {
            switch node.feature_type {
            case "cross layer transcoder":
                let p = parts(node.node_id)
                guard p.count == 3 else { throw ImportError.invalid(file: file, reason: "feature node id \(node.node_id)") }
                features.append((ActiveFeature(layer: p[0], position: p[2], feature: p[1], activation: Float(node.activation ?? 0)), node))
            case "embedding":
                let p = parts(String(node.node_id.dropFirst(2)))
                guard p.count == 2, p[1] < positions else { throw ImportError.invalid(file: file, reason: "token node id \(node.node_id)") }
                tokens[p[1]] = p[0]
            default: break
            }
        }
        features.sort { ($0.0.layer, $0.0.position, $0.0.feature) < ($1.0.layer, $1.0.position, $1.0.feature) }
        let layout = NodeLayout(features: features.count, layers: layers, positions: positions, logits: logitNodes.count)
        var index = [String: Int](), shares = [Int: Float](), labels = [Int: String]()
        for (i, (_, node)) in features.enumerated() { index[node.node_id] = i }
        var logits = [LogitNode](), logitTexts = [String]()
        for node in g.nodes {
            switch node.feature_type {
            case "mlp reconstruction error":
                let p = parts(node.node_id)
                guard p.count == 3, p[1] < layers, p[2] < positions else { throw ImportError.invalid(file: file, reason: "error node id \(node.node_id)") }
                index[node.node_id] = layout.error(layer: p[1], position: p[2])
            case "embedding":
                index[node.node_id] = layout.token(position: node.ctx_idx)
            case "logit":
                index[node.node_id] = layout.logit(logits.count)
                logits.append(LogitNode(token: node.feature, probability: Float(node.token_prob), demeanedLogit: 0))
                logitTexts.append(logitText(node.clerp))
            default: break
            }
            if let i = index[node.node_id] {
                if let influence = node.influence { shares[i] = Float(influence) }
                if !node.clerp.isEmpty && node.feature_type != "logit" { labels[i] = node.clerp }
            }
        }
        let n = layout.count
        var adjacency = try Tensor(zeros: [n, n])
        var edges = [Bool](repeating: false, count: n * n)
        for link in g.links {
            guard let s = index[link.source], let t = index[link.target] else {
                throw ImportError.invalid(file: file, reason: "link \(link.source) → \(link.target) names an unknown node")
            }
            adjacency.scalars[t * n + s] = Float(link.weight)
            edges[t * n + s] = true
        }
        var kept = [Bool](repeating: false, count: n)
        for i in index.values { kept[i] = true }
        let c = g.metadata.circuitry
        var options = AttributionOptions()
        options.nodeThreshold = g.metadata.node_threshold ?? 0.8
        options.edgeThreshold = c?.edge_threshold ?? 0.98
        let provenance = GraphProvenance(modelPath: "imported from \((file as NSString).lastPathComponent)", modelFingerprint: c?.model_fingerprint ?? "unknown",
                                         transcoderSet: g.metadata.scan, transcoderFingerprint: c?.transcoder_fingerprint ?? g.metadata.scan,
                                         prompt: g.metadata.prompt, tokens: tokens, options: options,
                                         engineVersion: c?.engine_version ?? "imported")
        let graph = AttributionGraph(layout: layout, features: features.map(\.0), activeFeatureCount: features.count, logits: logits,
                                     adjacency: adjacency, influence: [Float](repeating: 0, count: n),
                                     pruning: Influence.Pruning(nodes: kept, edges: edges, nodeInfluence: [Float](repeating: 0, count: n)),
                                     replacementScore: c?.replacement_score ?? .nan, completenessScore: c?.completeness_score ?? .nan,
                                     provenance: provenance, timings: AttributionTimings())
        return try store.saveImported(graph, slug: slug, defaultSlug: g.metadata.slug, context: GraphContext(architecture: "imported", layers: layers, width: 0,
                                      transcoderName: g.metadata.scan, transcoderFeatures: 0),
                                      tokenTexts: g.metadata.prompt_tokens, logitTexts: logitTexts, shares: shares, labels: labels)
    }

    /// The token text inside a logit node's clerp: Output "tok" (p=0.123).
    static func logitText(_ clerp: String) -> String {
        guard clerp.hasPrefix("Output \""), let end = clerp.range(of: "\" (p=", options: .backwards) else { return clerp }
        return String(clerp[clerp.index(clerp.startIndex, offsetBy: 8)..<end.lowerBound])
    }
}
