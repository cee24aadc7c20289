// DOT for attribution graphs, laid out like the attribution-graph viewers: one row per layer
// (token embeddings at the bottom, logits at the top), one column per token position, nodes of a
// (layer, position) cell side by side. Every node has a pinned position (`pos="x,y!"`), so the
// fixed-position engine renders it directly; `dot` can also lay it out, keeping layers as ranks.
// Edge colour shows the sign (blue positive, red negative) and width the size of |weight|.
// A pruned graph can keep many thousands of weak edges; a drawing shows, for every node, its
// strongest incoming edges (by |weight|), at most `maxEdges` in all, and says so in its title.
// The store and the JSON export keep every edge.

import Attribution
import Foundation
import GraphStore

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
            // A label's parts ("→ …" | "on: …") go on lines of their own, each cut to 34 characters.
            let lines = text.map { $0.components(separatedBy: " | ").prefix(3).map { $0.count > 34 ? String($0.prefix(33)) + "…" : $0 } } ?? []
            return ([name] + lines).joined(separator: "\n")
        case .error:
            return "error L\(node.layer ?? 0)"
        case .token:
            return "\"\(visible(node.tokenText ?? ""))\""
        case .logit:
            return "→ \"\(visible(node.tokenText ?? ""))\"\n" + String(format: "p = %.3f", node.probability ?? 0)
        }
    }

    /// Pinned positions (points) of every node: columns by position, bands of rows by layer
    /// (tokens at the bottom, logits at the top). A crowded cell wraps onto several sub-rows of at
    /// most `perRow` nodes, and its band grows taller instead of its column wider.
    static func positions(_ g: StoredGraph, perRow limit: Int = 10) -> [Int: (x: Double, y: Double)] {
        let layers = g.layout.layers
        func band(_ n: StoredNode) -> Int {
            switch n.kind {
            case .token: 0
            case .logit: layers + 1
            default: (n.layer ?? 0) + 1
            }
        }
        var cells = [[Int]: [StoredNode]]()
        for n in g.nodes { cells[[band(n), n.position], default: []].append(n) }
        let perRow = max(1, min(limit, cells.values.map(\.count).max() ?? 1))
        let (nodeWidth, subRowHeight, bandGap) = (104.0, 40.0, 36.0)
        let columnWidth = Double(perRow) * nodeWidth + 40
        var subRows = [Int](repeating: 1, count: layers + 2)
        for (key, nodes) in cells { subRows[key[0]] = max(subRows[key[0]], (nodes.count + perRow - 1) / perRow) }
        var bandY = [Double](repeating: 0, count: layers + 2)
        for b in 1..<(layers + 2) { bandY[b] = bandY[b - 1] + Double(subRows[b - 1]) * subRowHeight + bandGap }
        var out = [Int: (x: Double, y: Double)]()
        for (key, nodes) in cells {
            for (i, n) in nodes.sorted(by: { $0.index < $1.index }).enumerated() {
                let (row, slot) = (i / perRow, i % perRow)
                let inRow = min(perRow, nodes.count - row * perRow)
                let start = Double(key[1]) * columnWidth + (columnWidth - Double(inRow) * nodeWidth) / 2
                out[n.index] = (start + (Double(slot) + 0.5) * nodeWidth, bandY[key[0]] + Double(row) * subRowHeight)
            }
        }
        return out
    }

    /// The edges a drawing shows: each target's `perTarget` strongest inputs, then the strongest
    /// of those up to `maxEdges`.
    static func drawnEdges(_ g: StoredGraph, perTarget: Int, maxEdges: Int) -> [StoredEdge] {
        var byTarget = [Int: [StoredEdge]]()
        for e in g.edges { byTarget[e.target, default: []].append(e) }
        var chosen = [StoredEdge]()
        for (_, edges) in byTarget { chosen += edges.sorted { abs($0.weight) > abs($1.weight) }.prefix(perTarget) }
        if chosen.count > maxEdges { chosen = Array(chosen.sorted { abs($0.weight) > abs($1.weight) }.prefix(maxEdges)) }
        return chosen.sorted { ($0.target, $0.source) < ($1.target, $1.source) }
    }

    public static func dot(_ g: StoredGraph, labels: [LayerFeature: String] = [:], perTarget: Int = 6, maxEdges: Int = 3000) -> String {
        let positions = positions(g)
        let drawn = drawnEdges(g, perTarget: perTarget, maxEdges: maxEdges)
        let maxWeight = drawn.map { abs($0.weight) }.max() ?? 1
        let caption = drawn.count < g.edges.count ? " (strongest \(drawn.count) of \(g.edges.count) edges drawn)" : ""
        var lines = [
            "digraph attribution {",
            "  graph [charset=\"UTF-8\", splines=false, outputorder=edgesfirst, bgcolor=white, fontname=\"Helvetica\", label=\(quoted("\(g.summary.slug): \(visible(g.provenance.prompt))\(caption)")), labelloc=t, fontsize=16];",
            "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=9, penwidth=0.6, margin=\"0.04,0.02\"];",
            "  edge [arrowsize=0.4];",
        ]
        let fill: [NodeLayout.Kind: String] = [.feature: "#fde2c0", .error: "#d9d9d9", .token: "#cfe3f7", .logit: "#c9ecc9"]
        for n in g.nodes {
            let (x, y) = positions[n.index] ?? (0, 0)
            let tooltip = [n.kind.rawValue, n.layer.map { "layer \($0)" }, "position \(n.position)", n.feature.map { "feature \($0)" },
                           n.activation.map { String(format: "activation %.4g", $0) }, String(format: "influence %.4g", n.influence)]
                .compactMap { $0 }.joined(separator: ", ")
            lines.append("  n\(n.index) [label=\(quoted(label(n, in: g, labels: labels))), pos=\"\(String(format: "%.1f,%.1f", x, y))!\", fillcolor=\"\(fill[n.kind] ?? "white")\", tooltip=\(quoted(tooltip))];")
        }
        // Rank constraints keep layers as rows when `dot` lays the graph out itself.
        var rows = [Int: [Int]]()
        for n in g.nodes { rows[n.kind == .token ? -1 : n.kind == .logit ? g.layout.layers : (n.layer ?? 0), default: []].append(n.index) }
        for (_, members) in rows.sorted(by: { $0.key < $1.key }) {
            lines.append("  { rank=same; " + members.map { "n\($0);" }.joined(separator: " ") + " }")
        }
        for e in drawn {
            let color = e.weight >= 0 ? "#2166ac" : "#b2182b"
            let width = 0.3 + 3.5 * Double(abs(e.weight)) / Double(max(maxWeight, 1e-12))
            lines.append("  n\(e.source) -> n\(e.target) [color=\"\(color)\", penwidth=\(String(format: "%.2f", width)), tooltip=\"\(String(format: "%.4g", e.weight))\"];")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }
}

