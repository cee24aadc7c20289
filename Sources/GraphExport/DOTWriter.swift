// DOT for attribution graphs, laid out like the attribution-graph viewers (LayeredLayout): one
// band per layer that has a drawn node (token embeddings at the bottom, logits at the top), one
// column per token position. A pruned graph keeps hundreds of nodes and many thousands of edges,
// more than a picture can show legibly, so a drawing shows a stated part of it (DrawingRule): the
// most influential feature and error nodes, each target's strongest inputs among the drawn nodes
// and each drawn node's strongest output, at most so many edges in all; tokens, features and errors only where they carry a drawn edge;
// every logit. The rule is printed under the title. The store and the JSON export keep every edge.
// Edge colour shows the sign (blue excites, red inhibits) and width the size of |weight|.

import Attribution
import Foundation
import GraphStore

/// How much of a graph a picture draws.
public struct DrawingRule: Sendable, Equatable {
    /// At most this many feature and error nodes, the most influential first.
    public var maxNodes = 60
    /// Each drawn target's strongest inputs (by |weight|) among the drawn nodes…
    public var perTarget = 4
    /// …and at most this many edges in all, the strongest.
    public var maxEdges = 300

    public init(maxNodes: Int = 60, perTarget: Int = 4, maxEdges: Int = 300) {
        self.maxNodes = maxNodes
        self.perTarget = perTarget
        self.maxEdges = maxEdges
    }

    /// Everything: for small graphs and tests.
    public static let everything = DrawingRule(maxNodes: .max, perTarget: .max, maxEdges: .max)

    /// The edges a picture draws: each target's `perTarget` strongest inputs, then the strongest
    /// output of every chosen node that is no target's strong input, then the `maxEdges` strongest
    /// of those. `candidates` are the edges among drawable nodes, in a fixed order (ties go to the
    /// earlier edge, so a picture is the same on every run).
    func edges<Node: Hashable, Edge>(from candidates: [Edge], chosen: Set<Node>, source: (Edge) -> Node, target: (Edge) -> Node,
                                     size: (Edge) -> Float) -> [Edge] {
        var byTarget = [Node: [Edge]](), targets = [Node]()
        for e in candidates {
            if byTarget[target(e)] == nil { targets.append(target(e)) }
            byTarget[target(e), default: []].append(e)
        }
        var picked = targets.flatMap { byTarget[$0]!.sorted { size($0) > size($1) }.prefix(perTarget) }
        let sources = Set(picked.map(source))
        var strongestOut = [Node: Edge](), order = [Node]()
        for e in candidates where chosen.contains(source(e)) && !sources.contains(source(e)) && size(e) > (strongestOut[source(e)].map(size) ?? 0) {
            if strongestOut[source(e)] == nil { order.append(source(e)) }
            strongestOut[source(e)] = e
        }
        picked += order.map { strongestOut[$0]! }
        return picked.count > maxEdges ? Array(picked.sorted { size($0) > size($1) }.prefix(maxEdges)) : picked
    }
}

public enum DOTWriter {
    /// Shown text of a token: control characters as escapes (a newline shows as \n).
    static func visible(_ text: String) -> String { DisplayText.visible(text) }

    /// A DOT string literal whose label text is exactly `text` (see DisplayText.dotQuoted).
    static func quoted(_ text: String) -> String { DisplayText.dotQuoted(text) }

    /// The label of a node (feature label when known).
    static func label(_ node: StoredNode, in g: StoredGraph, labels: [LayerFeature: String]) -> String {
        switch node.kind {
        case .feature:
            let name = "L\(node.layer ?? 0)/F\(node.feature ?? 0)"
            let text = g.label(of: node, labels: labels)
            // A label's parts ("→ …" | "on: …") go on lines of their own, each cut to 28 characters (two at most).
            let lines = text.map { $0.components(separatedBy: " | ").prefix(2).map { $0.count > 28 ? String($0.prefix(27)) + "…" : $0 } } ?? []
            return ([name] + lines).joined(separator: "\n")
        case .error:
            return "error L\(node.layer ?? 0)"
        case .token:
            return "\"\(visible(node.tokenText ?? ""))\""
        case .logit:
            return "→ \"\(visible(node.tokenText ?? ""))\"\n" + String(format: "p = %.3f", node.probability ?? 0)
        }
    }

    /// The nodes and edges `rule` draws of `g`, and the rule as a sentence.
    static func drawn(_ g: StoredGraph, rule: DrawingRule) -> (nodes: [StoredNode], edges: [StoredEdge], caption: String) {
        let inner = g.nodes.filter { $0.kind == .feature || $0.kind == .error }
            .sorted { $0.influence != $1.influence ? $0.influence > $1.influence : $0.index < $1.index }
        let chosen = Set(inner.prefix(rule.maxNodes).map(\.index))
        let kinds = Dictionary(uniqueKeysWithValues: g.nodes.map { ($0.index, $0.kind) })
        func allowed(_ i: Int) -> Bool { chosen.contains(i) || kinds[i] == .token || kinds[i] == .logit }
        var edges = rule.edges(from: g.edges.filter { allowed($0.source) && allowed($0.target) }, chosen: chosen,
                               source: \.source, target: \.target, size: { abs($0.weight) })
        edges.sort { ($0.target, $0.source) < ($1.target, $1.source) }
        let touched = Set(edges.flatMap { [$0.source, $0.target] })
        let nodes = g.nodes.filter { touched.contains($0.index) || $0.kind == .logit }
        let drawnInner = nodes.filter { $0.kind == .feature || $0.kind == .error }.count
        var caption = "drawn: all \(drawnInner) feature and error nodes with their edges"
        if inner.count > rule.maxNodes || edges.count < g.edges.count {
            caption = "drawn: \(drawnInner) of the \(min(rule.maxNodes, inner.count)) most influential of \(inner.count) feature and error nodes, "
                + "each target's \(rule.perTarget == .max ? "" : "\(rule.perTarget) ")strongest inputs among them and each node's strongest output: "
                + "\(edges.count) of \(g.edges.count) edges"
        }
        return (nodes, edges, caption + "; blue excites, red inhibits, width ∝ |weight|")
    }

    /// The layout's band of a node (tokens 0, layer + 1, logits layers + 1) and its name.
    static func band(_ n: StoredNode, layers: Int) -> Int {
        switch n.kind {
        case .token: 0
        case .logit: layers + 1
        default: (n.layer ?? 0) + 1
        }
    }

    static func bandName(_ band: Int, layers: Int) -> String {
        band == 0 ? "tokens" : band == layers + 1 ? "logits" : "L\(band - 1)"
    }

    /// `names` replaces the label of the nodes it names (a subgraph's supernodes).
    public static func dot(_ g: StoredGraph, labels: [LayerFeature: String] = [:], rule: DrawingRule = DrawingRule(),
                           names overrides: [Int: String] = [:]) -> String {
        let (nodes, drawn, caption) = drawn(g, rule: rule)
        let layers = g.layout.layers
        let names = Dictionary(uniqueKeysWithValues: nodes.map { ($0.index, overrides[$0.index] ?? label($0, in: g, labels: labels)) })
        let layout = LayeredLayout(nodes.map { n in
            LayeredLayout.Item(id: String(format: "%08d", n.index), band: band(n, layers: layers), column: n.position,
                               lines: names[n.index]!.components(separatedBy: "\n"))
        }) { bandName($0, layers: layers) }
        let maxWeight = drawn.map { abs($0.weight) }.filter(\.isFinite).max() ?? 1
        var lines = [
            "digraph attribution {",
            "  graph [charset=\"UTF-8\", splines=false, outputorder=edgesfirst, bgcolor=white, fontname=\"Helvetica\", label=\(quoted("\(g.summary.slug): \(visible(g.provenance.prompt))\n\(caption)")), labelloc=t, fontsize=14, pad=0.3];",
            "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=9, penwidth=0.6, margin=\"0.03,0.02\"];",
            "  edge [arrowsize=0.4];",
        ]
        lines += layout.bandLabelStatements()
        let fill: [NodeLayout.Kind: String] = [.feature: "#fde2c0", .error: "#d9d9d9", .token: "#cfe3f7", .logit: "#c9ecc9"]
        for n in nodes {
            let tooltip = [n.kind.rawValue, n.layer.map { "layer \($0)" }, "position \(n.position)", n.feature.map { "feature \($0)" },
                           n.activation.map { String(format: "activation %.4g", $0) }, String(format: "influence %.4g", n.influence)]
                .compactMap { $0 }.joined(separator: ", ")
            lines.append("  n\(n.index) [label=\(quoted(names[n.index]!)), \(layout.pin(String(format: "%08d", n.index))), fillcolor=\"\(fill[n.kind] ?? "white")\", tooltip=\(quoted(tooltip))];")
        }
        for e in drawn {
            let color = e.weight >= 0 ? "#2166ac" : "#b2182b"
            let size = Double(abs(e.weight)) / Double(max(maxWeight, 1e-12))
            let width = 0.3 + 3.5 * (size.isFinite ? size : 1)
            lines.append("  n\(e.source) -> n\(e.target) [color=\"\(color)\", penwidth=\(String(format: "%.2f", width)), tooltip=\"\(String(format: "%.4g", e.weight))\"];")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }
}
