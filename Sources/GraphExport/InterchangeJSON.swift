// The graph JSON that circuit-tracer's local viewer and Neuronpedia read (ATTRIBUTION.md §9,
// with circuit-tracer 0.5.0's create_graph_files as the authority where they differ):
//   metadata  slug, scan, transcoder_list, prompt_tokens, prompt, node_threshold, schema_version,
//             plus Circuitry's own keys under "circuitry"
//   qParams   pinnedIds, supernodes, linkType "both", clickedId, sg_pos
//   nodes     the pruned graph's nodes that have a kept edge, plus every token and logit node, in
//             node order; `influence` is the node's cumulative influence share (nodes sorted by
//             influence, largest first); a feature's `feature` is the Cantor pairing of (layer, index)
//   links     kept edges {source, target, weight = A[target, source]}, ordered by target, source
// Node ids: feature "{layer}_{feature}_{pos}", error "{layer}_-1_{pos}" (circuit-tracer after 0.5;
// 0.5 itself wrote "0_{layer}_{pos}", which collides with layer-0 features), token
// "E_{token}_{pos}", logit "{layers+1}_{token}_{last pos}". Storage never keys on these strings.
// Each node also carries `circuitry_influence`, its own influence on the logits (the store's
// per-node value; `influence` is the cumulative share), so an import restores it exactly.

import Attribution
import Foundation
import GraphStore

public struct InterchangeGraph: Codable, Sendable, Equatable {
    public struct Metadata: Codable, Sendable, Equatable {
        public var slug: String
        public var scan: String
        public var transcoder_list: [String]
        public var prompt_tokens: [String]
        public var prompt: String
        public var node_threshold: Double?
        public var schema_version: Int?
        public var circuitry: CircuitryMetadata?
    }

    /// Facts Circuitry keeps with an exported graph.
    public struct CircuitryMetadata: Codable, Sendable, Equatable {
        public var token_ids: [Int]
        public var layers: Int
        public var edge_threshold: Double
        public var replacement_score: Double?
        public var completeness_score: Double?
        public var model_fingerprint: String
        public var transcoder_fingerprint: String
        public var engine_version: String
        /// With `export --with-unpruned`: the store's unpruned adjacency and node facts (base64 of
        /// their versioned blobs), so an import re-prunes exactly as the original.
        public var unpruned_facts: String? = nil
        public var unpruned_adjacency: String? = nil
    }

    public struct QParams: Codable, Sendable, Equatable {
        public var pinnedIds: [String] = []
        public var supernodes: [[String]] = []
        public var linkType = "both"
        public var clickedId = ""
        public var sg_pos = ""
    }

    public struct Node: Codable, Sendable, Equatable {
        public var node_id: String
        public var feature: Int
        public var layer: String
        public var ctx_idx: Int
        public var feature_type: String
        public var token_prob: Double
        public var is_target_logit: Bool
        public var run_idx: Int
        public var reverse_ctx_idx: Int
        public var jsNodeId: String
        public var clerp: String
        public var influence: Double?
        public var activation: Double?
        /// The node's own influence (Circuitry's per-node value), absent in other tools' files.
        public var circuitry_influence: Double? = nil
    }

    public struct Link: Codable, Sendable, Equatable {
        public var source: String
        public var target: String
        public var weight: Double
    }

    public var metadata: Metadata
    public var qParams: QParams
    public var nodes: [Node]
    public var links: [Link]

    /// Compact, key-sorted JSON (the same graph always gives the same bytes).
    public func encoded(pretty: Bool = false) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

public enum InterchangeExport {
    static func cantor(_ x: Int, _ y: Int) -> Int { (x + y) * (x + y + 1) / 2 + y }

    /// The interchange graph of a stored graph. `labels` gives feature labels by (layer, feature);
    /// a subgraph's pinned nodes and supernodes go into `qParams` as Neuronpedia writes them
    /// (`supernodes`: each one its name followed by its members' node ids).
    public static func graph(_ g: StoredGraph, promptTokens: [String], labels: [LayerFeature: String] = [:],
                             subgraph: StoredSubgraph? = nil) -> InterchangeGraph {
        let layout = g.layout
        let layers = layout.layers
        let ids = Dictionary(uniqueKeysWithValues: g.nodes.map { ($0.index, nodeId($0, layers: layers)) })
        let indexOf = Dictionary(ids.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a })
        let connected = Set(g.edges.flatMap { [$0.source, $0.target] })
        let topLogit = g.nodes.filter { $0.kind == .logit }.map(\.index).min()
        let nodes = g.nodes.filter { connected.contains($0.index) || $0.kind == .token || $0.kind == .logit }.map { n -> InterchangeGraph.Node in
            let share = Double(g.cumulativeInfluence[n.index] ?? 0)
            switch n.kind {
            case .feature:
                let (l, f) = (n.layer ?? 0, n.feature ?? 0)
                return .init(node_id: ids[n.index]!, feature: cantor(l, f), layer: String(l), ctx_idx: n.position,
                             feature_type: "cross layer transcoder", token_prob: 0, is_target_logit: false, run_idx: 0, reverse_ctx_idx: 0,
                             jsNodeId: "\(l)_\(f)-0", clerp: g.label(of: n, labels: labels) ?? "", influence: share,
                             activation: n.activation.map(Double.init))
            case .error:
                let l = n.layer ?? 0
                return .init(node_id: ids[n.index]!, feature: -1, layer: String(l), ctx_idx: n.position, feature_type: "mlp reconstruction error",
                             token_prob: 0, is_target_logit: false, run_idx: 0, reverse_ctx_idx: 0, jsNodeId: "\(l)_\(n.position)-0", clerp: "",
                             influence: share, activation: nil)
            case .token:
                return .init(node_id: ids[n.index]!, feature: n.position, layer: "E", ctx_idx: n.position, feature_type: "embedding",
                             token_prob: 0, is_target_logit: false, run_idx: 0, reverse_ctx_idx: 0, jsNodeId: "E_\(n.tokenId ?? 0)-\(n.position)",
                             clerp: "", influence: share, activation: nil)
            case .logit:
                let p = Double(n.probability ?? 0)
                return .init(node_id: ids[n.index]!, feature: n.tokenId ?? 0, layer: String(layers + 1), ctx_idx: n.position, feature_type: "logit",
                             token_prob: p, is_target_logit: n.index == topLogit, run_idx: 0, reverse_ctx_idx: 0,
                             jsNodeId: "L_\(n.tokenId ?? 0)-\(n.position)", clerp: "Output \"\(n.tokenText ?? "")\" (p=\(String(format: "%.3f", p)))",
                             influence: nil, activation: nil)
            }
        }
        let influence = Dictionary(uniqueKeysWithValues: g.nodes.map { ($0.index, Double($0.influence)) })
        let ordered = nodes.map { node -> InterchangeGraph.Node in
            var node = node
            node.circuitry_influence = indexOf[node.node_id].flatMap { influence[$0] }
            return node
        }
        let links = g.edges.compactMap { e -> InterchangeGraph.Link? in
            guard let source = ids[e.source], let target = ids[e.target] else { return nil }
            return .init(source: source, target: target, weight: Double(e.weight))
        }
        let p = g.provenance
        return InterchangeGraph(
            metadata: .init(slug: g.summary.slug, scan: g.summary.transcoderSet, transcoder_list: [], prompt_tokens: promptTokens,
                            prompt: p.prompt, node_threshold: g.summary.nodeThreshold, schema_version: 1,
                            circuitry: .init(token_ids: p.tokens, layers: layers, edge_threshold: g.summary.edgeThreshold,
                                             replacement_score: g.summary.replacementScore, completeness_score: g.summary.completenessScore,
                                             model_fingerprint: p.modelFingerprint, transcoder_fingerprint: p.transcoderFingerprint,
                                             engine_version: p.engineVersion)),
            qParams: qParams(subgraph, ids: ids), nodes: ordered, links: links)
    }

    /// Pinned nodes and supernodes by node id; nodes this pruning does not keep are left out.
    static func qParams(_ subgraph: StoredSubgraph?, ids: [Int: String]) -> InterchangeGraph.QParams {
        var q = InterchangeGraph.QParams()
        guard let subgraph else { return q }
        q.pinnedIds = subgraph.pinned.compactMap { ids[$0] }
        q.supernodes = subgraph.supernodes.map { [$0.name] + $0.members.compactMap { ids[$0] } }.filter { $0.count > 1 }
        return q
    }

    static func nodeId(_ n: StoredNode, layers: Int) -> String {
        switch n.kind {
        case .feature: "\(n.layer ?? 0)_\(n.feature ?? 0)_\(n.position)"
        case .error: "\(n.layer ?? 0)_-1_\(n.position)"
        case .token: "E_\(n.tokenId ?? 0)_\(n.position)"
        case .logit: "\(layers + 1)_\(n.tokenId ?? 0)_\(n.position)"
        }
    }
}
