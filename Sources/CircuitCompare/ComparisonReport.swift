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

    public func label(_ node: AlignedNode, labels: [LayerFeature: String] = [:]) -> String {
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
