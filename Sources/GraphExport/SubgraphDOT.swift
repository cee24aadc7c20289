// A saved subgraph as a picture: only its pinned nodes, each supernode drawn as one node (named,
// at its members' latest layer and position, with their summed influence), and the edges among
// them summed between groups (an edge inside a supernode disappears).

import GraphStore

public enum SubgraphDOT {
    /// The subgraph as a graph of its own: its nodes, edges and the supernodes' names by node.
    public static func reduced(_ g: StoredGraph, subgraph: StoredSubgraph) -> (graph: StoredGraph, names: [Int: String]) {
        let byIndex = Dictionary(uniqueKeysWithValues: g.nodes.map { ($0.index, $0) })
        var representative = [Int: Int](), names = [Int: String]()
        var nodes = [Int: StoredNode]()
        let pinned = subgraph.pinned.filter { byIndex[$0] != nil }
        for i in pinned { representative[i] = i }
        for s in subgraph.supernodes {
            let members = s.members.compactMap { byIndex[$0] }
            guard let lead = members.max(by: { ($0.influence, -$0.index) < ($1.influence, -$1.index) }) else { continue }
            var merged = lead
            merged.layer = members.compactMap(\.layer).max() ?? lead.layer
            merged.position = members.map(\.position).max() ?? lead.position
            merged.influence = members.reduce(0) { $0 + $1.influence }
            nodes[lead.index] = merged
            for m in members { representative[m.index] = lead.index }
            let lines = "\(s.name)\n(\(members.count) node\(members.count == 1 ? "" : "s"))"
            names[lead.index] = lines
        }
        for i in pinned where representative[i] == i && nodes[i] == nil { nodes[i] = byIndex[i] }
        var sums = [Pair: Float]()
        for e in g.edges {
            guard let s = representative[e.source], let t = representative[e.target], s != t else { continue }
            sums[Pair(source: s, target: t), default: 0] += e.weight
        }
        var reduced = g
        reduced.nodes = nodes.values.sorted { $0.index < $1.index }
        reduced.edges = sums.map { pair, weight in StoredEdge(source: pair.source, target: pair.target, weight: weight) }
            .sorted { ($0.target, $0.source) < ($1.target, $1.source) }
        return (reduced, names)
    }

    public static func dot(_ g: StoredGraph, subgraph: StoredSubgraph, labels: [LayerFeature: String]) -> String {
        let (reduced, names) = reduced(g, subgraph: subgraph)
        return DOTWriter.dot(reduced, labels: labels, rule: .everything, names: names)
    }

    struct Pair: Hashable { var source: Int; var target: Int }
}
