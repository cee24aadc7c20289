// A comparison as JSON (every metric, snake_case keys) and as a difference graph in DOT.

import Foundation
import GraphStore

extension CircuitComparison {
    public struct Report: Encodable {
        public struct Graph: Encodable { var id: Int64; var slug: String; var prompt: String; var features: Int; var nodes: Int; var edges: Int }
        public struct Shared: Encodable { var layer: Int; var feature: Int; var influence: [Double] }
        public struct Unique: Encodable { var layer: Int; var feature: Int; var influence: Double }
        public struct Recurring: Encodable { var layer: Int; var feature: Int; var graphs: Int; var mean_influence: Double }
        var graphs: [Graph]
        var feature_iou: Double
        var feature_iom: Double
        var aligned_feature_iou: Double
        var aligned_feature_iom: Double
        var weighted_feature_iou: Double
        var weighted_feature_iom: Double
        var weighted_aligned_feature_iou: Double
        var weighted_aligned_feature_iom: Double
        var edge_iou: Double
        var influence_rank_correlation: Double?
        var shared_features: [Shared]
        var unique_features: [String: [Unique]]
        var shared_nodes: Int
        var shared_edges: Int
        var recurrence: [Recurring]?

        public func encode(to encoder: Encoder) throws {
            // Written out so a missing correlation is an explicit null, not an absent key.
            enum K: String, CodingKey {
                case graphs, feature_iou, feature_iom, aligned_feature_iou, aligned_feature_iom, weighted_feature_iou, weighted_feature_iom,
                     weighted_aligned_feature_iou, weighted_aligned_feature_iom, edge_iou, influence_rank_correlation, shared_features,
                     unique_features, shared_nodes, shared_edges, recurrence
            }
            var c = encoder.container(keyedBy: K.self)
            try c.encode(graphs, forKey: .graphs)
            try c.encode(feature_iou, forKey: .feature_iou)
            try c.encode(feature_iom, forKey: .feature_iom)
            try c.encode(aligned_feature_iou, forKey: .aligned_feature_iou)
            try c.encode(aligned_feature_iom, forKey: .aligned_feature_iom)
            try c.encode(weighted_feature_iou, forKey: .weighted_feature_iou)
            try c.encode(weighted_feature_iom, forKey: .weighted_feature_iom)
            try c.encode(weighted_aligned_feature_iou, forKey: .weighted_aligned_feature_iou)
            try c.encode(weighted_aligned_feature_iom, forKey: .weighted_aligned_feature_iom)
            try c.encode(edge_iou, forKey: .edge_iou)
            try c.encode(influence_rank_correlation, forKey: .influence_rank_correlation)
            try c.encode(shared_features, forKey: .shared_features)
            try c.encode(unique_features, forKey: .unique_features)
            try c.encode(shared_nodes, forKey: .shared_nodes)
            try c.encode(shared_edges, forKey: .shared_edges)
            if let recurrence { try c.encode(recurrence, forKey: .recurrence) }
        }
    }

    public var report: Report {
        Report(
            graphs: graphs.map { .init(id: $0.summary.id, slug: $0.summary.slug, prompt: $0.summary.prompt, features: $0.features.count,
                                       nodes: $0.nodes.count, edges: $0.edges.count) },
            feature_iou: featureIoU, feature_iom: featureIoM, aligned_feature_iou: alignedFeatureIoU, aligned_feature_iom: alignedFeatureIoM,
            weighted_feature_iou: weightedFeatureIoU, weighted_feature_iom: weightedFeatureIoM,
            weighted_aligned_feature_iou: weightedAlignedFeatureIoU, weighted_aligned_feature_iom: weightedAlignedFeatureIoM,
            edge_iou: edgeIoU, influence_rank_correlation: influenceRankCorrelation,
            shared_features: sharedFeatures.map { .init(layer: $0.feature.layer, feature: $0.feature.feature, influence: $0.influence) },
            unique_features: Dictionary(uniqueKeysWithValues: graphs.indices.map { i in
                (graphs[i].summary.slug, uniqueFeatures[i].map { Report.Unique(layer: $0.feature.layer, feature: $0.feature.feature, influence: $0.influence) })
            }),
            shared_nodes: sharedNodes.count, shared_edges: sharedEdges.count,
            recurrence: graphs.count >= 3 ? recurrence.map { .init(layer: $0.feature.layer, feature: $0.feature.feature, graphs: $0.graphs, mean_influence: $0.meanInfluence) } : nil)
    }

    /// Colours: shared by every graph, then one per graph (cycled), and "some but not all".
    static let sharedColour = "#333333"
    static let graphColours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"]
    static let partialColour = "#999999"

    func colour(graphsHaving: [Int]) -> String {
        if graphsHaving.count == graphs.count { return Self.sharedColour }
        if graphsHaving.count == 1 { return Self.graphColours[graphsHaving[0] % Self.graphColours.count] }
        return Self.partialColour
    }

    /// The union of the graphs' aligned nodes and edges, laid out like `trace`'s export (rows by
    /// layer, tokens at the bottom, logits at the top, columns by offset from the end), coloured by
    /// which graphs have them. Node positions are pinned, for Graphviz's fixed-position layout.
    /// `labels` adds the first part of each feature's label.
    public func differenceDOT(maxEdges: Int = 2000, labels: [LayerFeature: String] = [:]) -> String {
        let layers = graphs.map(\.layers).max() ?? 0
        let allNodes = graphs.reduce(into: Set<AlignedNode>()) { $0.formUnion($1.nodes) }.sorted()
        let maxOffset = allNodes.map { $0.place(layers: layers).offset }.max() ?? 0
        var slots = [String: Int]()
        var ids = [AlignedNode: String]()
        var lines = [
            "digraph difference {",
            "  graph [charset=\"UTF-8\", splines=false, outputorder=edgesfirst, bgcolor=white, fontname=\"Helvetica\", labelloc=t, fontsize=16, label=\(DisplayText.dotQuoted(legend))];",
            "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=9, penwidth=1.6, fillcolor=white, margin=\"0.04,0.02\"];",
            "  edge [arrowsize=0.4];",
        ]
        for (i, node) in allNodes.enumerated() {
            let id = "n\(i)"
            ids[node] = id
            let having = graphs.indices.filter { graphs[$0].nodes.contains(node) }
            let (row, offset) = node.place(layers: layers)
            let slotKey = "\(row):\(offset)"
            let slot = slots[slotKey, default: 0]
            slots[slotKey] = slot + 1
            let x = Double(maxOffset - offset) * 150 + Double(slot % 4) * 34
            let y = Double(row + 1) * 60 + Double(slot / 4) * 14
            lines.append("  \(id) [label=\(DisplayText.dotQuoted(label(node, labels: labels))), color=\"\(colour(graphsHaving: having))\", pos=\"\(x),\(y)!\"];")
        }
        var edges = graphs.indices.flatMap { i in graphs[i].edges.map { ($0.key, abs($0.value)) } }
        edges.sort { $0.1 > $1.1 }
        var drawn = Set<AlignedEdge>()
        let strongest = edges.first?.1 ?? 1
        for (edge, weight) in edges where drawn.count < maxEdges && drawn.insert(edge).inserted {
            let having = graphs.indices.filter { graphs[$0].edges[edge] != nil }
            let width = 0.3 + 2.5 * Double(weight / max(strongest, 1e-12))
            lines.append("  \(ids[edge.source]!) -> \(ids[edge.target]!) [color=\"\(colour(graphsHaving: having))\", penwidth=\(String(format: "%.2f", width))];")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    var legend: String {
        var parts = ["shared: dark grey"]
        for (i, g) in graphs.enumerated() { parts.append("\(g.summary.slug): \(["blue", "red", "green", "purple", "orange", "cyan"][i % 6])") }
        if graphs.count > 2 { parts.append("some but not all: light grey") }
        return parts.joined(separator: "   ") + String(format: "\nfeature IoU %.2f, edge IoU %.2f", featureIoU, edgeIoU)
    }

    func label(_ node: AlignedNode, labels: [LayerFeature: String] = [:]) -> String {
        func texts() -> String {
            graphs.compactMap { $0.texts[node] }.map { "\"\(DisplayText.visible($0))\"" }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }.joined(separator: " | ")
        }
        switch node {
        case let .feature(l, f, o):
            let text = labels[LayerFeature(layer: l, feature: f)]?.components(separatedBy: " | ").first.map { $0.count > 30 ? String($0.prefix(29)) + "…" : $0 }
            return "L\(l)/F\(f)" + (o == 0 ? "" : " (−\(o))") + (text.map { "\n" + $0 } ?? "")
        case let .error(l, o): return "error L\(l)" + (o == 0 ? "" : " (−\(o))")
        case .token: return texts()
        case .logit: return "→ " + texts()
        }
    }
}
