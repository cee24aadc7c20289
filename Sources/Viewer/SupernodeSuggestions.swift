// Automatic supernode suggestions.
//
// The rule: two feature nodes belong together when they sit at the same token position, at most
// two layers apart, and agree in both what they do and what they are called:
//   - edges: the cosine similarity of their outgoing edge weights (over the targets either one
//     drives) is at least 0.7 — they push the same nodes the same way;
//   - labels: the first part of their labels (before " | ", the promoted tokens for automatic
//     labels) is the same text, case aside; two unlabelled features need an edge cosine of 0.9.
// Pairs that agree are joined transitively (a chain of agreeing pairs forms one group); groups of
// 2–12 nodes are suggested, the most influential first, named by their shared label or by their
// layers and token.

import Foundation
import GraphStore

public struct SupernodeSuggestion: Codable, Sendable, Equatable {
    public var name: String
    public var members: [Int]
    public var influence: Double
    public var reason: String
}

public enum SupernodeSuggestions {
    public static let edgeAgreement = 0.7, unlabelledAgreement = 0.9, layerSpan = 2, maxMembers = 12, maxSuggestions = 20

    static func labelKey(_ label: String?) -> String? {
        guard let label else { return nil }
        let key = (label.components(separatedBy: " | ").first ?? label).trimmingCharacters(in: .whitespaces).lowercased()
        return key.isEmpty ? nil : key
    }

    public static func suggest(_ g: StoredGraph, labels: [LayerFeature: String]) -> [SupernodeSuggestion] {
        let features = g.nodes.filter { $0.kind == .feature }
        var outgoing = [Int: [Int: Double]]()
        for e in g.edges { outgoing[e.source, default: [:]][e.target] = Double(e.weight) }
        func cosine(_ a: Int, _ b: Int) -> Double {
            guard let x = outgoing[a], let y = outgoing[b] else { return 0 }
            var dot = 0.0, nx = 0.0, ny = 0.0
            for (t, w) in x { nx += w * w; if let v = y[t] { dot += w * v } }
            for (_, w) in y { ny += w * w }
            return nx > 0 && ny > 0 ? dot / (nx * ny).squareRoot() : 0
        }
        var parent = Dictionary(uniqueKeysWithValues: features.map { ($0.index, $0.index) })
        func root(_ i: Int) -> Int { var i = i; while parent[i]! != i { parent[i] = parent[parent[i]!]!; i = parent[i]! }; return i }
        let keys = Dictionary(uniqueKeysWithValues: features.map { ($0.index, labelKey(g.label(of: $0, labels: labels))) })
        let byPosition = Dictionary(grouping: features, by: \.position)
        for (_, group) in byPosition {
            let sorted = group.sorted { ($0.layer ?? 0, $0.index) < ($1.layer ?? 0, $1.index) }
            for (i, a) in sorted.enumerated() {
                for b in sorted[(i + 1)...] {
                    guard (b.layer ?? 0) - (a.layer ?? 0) <= layerSpan else { break }
                    let c = cosine(a.index, b.index)
                    let ka = keys[a.index]!, kb = keys[b.index]!
                    let agree: Bool
                    if let ka, let kb { agree = ka == kb && c >= edgeAgreement } else if ka == nil && kb == nil { agree = c >= unlabelledAgreement } else { agree = false }
                    if agree { parent[root(a.index)] = root(b.index) }
                }
            }
        }
        let byIndex = Dictionary(uniqueKeysWithValues: features.map { ($0.index, $0) })
        let groups = Dictionary(grouping: features.map(\.index), by: root).values.filter { (2...maxMembers).contains($0.count) }
        return groups.map { members -> SupernodeSuggestion in
            let nodes = members.sorted().map { byIndex[$0]! }
            let layers = nodes.compactMap(\.layer)
            let token = nodes[0].tokenText ?? ""
            let shared = keys[nodes[0].index]!
            let name = shared ?? "L\(layers.min() ?? 0)–L\(layers.max() ?? 0) @ \"\(DisplayText.visible(token))\""
            let reason = shared != nil
                ? "\(nodes.count) features at position \(nodes[0].position) within \(layerSpan) layers, labelled \"\(shared!)\", driving the same nodes (edge cosine ≥ \(edgeAgreement))"
                : "\(nodes.count) unlabelled features at position \(nodes[0].position) within \(layerSpan) layers with nearly the same outputs (edge cosine ≥ \(unlabelledAgreement))"
            return SupernodeSuggestion(name: name, members: nodes.map(\.index), influence: nodes.reduce(0) { $0 + Double($1.influence) }, reason: reason)
        }
        .sorted { $0.influence != $1.influence ? $0.influence > $1.influence : $0.members[0] < $1.members[0] }
        .prefix(maxSuggestions).map { $0 }
    }
}
