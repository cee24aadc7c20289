// The difference graph of a comparison, drawn like a trace (LayeredLayout): bands by layer, tokens
// at the bottom, logits at the top, columns by position counted from the end of the prompt (how
// compare aligns graphs), each aligned node once. Fill says which graphs have a node (grey: all;
// one colour per graph, none of them blue or red; light grey: some but not all); edges keep the
// sign convention of every other picture (blue excites, red inhibits) and are solid when every
// graph has them, dashed otherwise. The same kind of rule as DOTWriter's bounds what is drawn.

import CircuitCompare
import Foundation
import GraphStore

public enum DifferenceDOT {
    static let sharedFill = "#d9d9d9", partialFill = "#f0f0f0"
    static let graphFills = ["#fdb863", "#b2abd2", "#a6dba0", "#f1b6da", "#e6e6a0", "#80cdc1"]
    static let graphNames = ["orange", "purple", "green", "pink", "olive", "teal"]

    static func fill(_ having: [Int], of count: Int) -> String {
        if having.count == count { return sharedFill }
        if having.count == 1 { return graphFills[having[0] % graphFills.count] }
        return partialFill
    }

    public static func dot(_ c: CircuitComparison, labels: [LayerFeature: String] = [:], rule: DrawingRule = DrawingRule()) -> String {
        let graphs = c.graphs
        let layers = graphs.map(\.layers).max() ?? 0
        // The most influential feature and error nodes (largest influence in any graph), tokens and logits.
        let all = graphs.reduce(into: Set<AlignedNode>()) { $0.formUnion($1.nodes) }
        func influence(_ n: AlignedNode) -> Double { graphs.map { $0.influence[n] ?? 0 }.max() ?? 0 }
        let inner = all.filter { if case .feature = $0 { true } else if case .error = $0 { true } else { false } }
            .sorted { influence($0) != influence($1) ? influence($0) > influence($1) : $0 < $1 }
        let chosen = Set(inner.prefix(rule.maxNodes))
        func allowed(_ n: AlignedNode) -> Bool {
            switch n {
            case .token, .logit: true
            default: chosen.contains(n)
            }
        }
        // Edges: each target's strongest inputs among the drawn nodes (by the largest |weight| in any graph).
        var weights = [AlignedEdge: Float]()
        for g in graphs {
            for (e, w) in g.edges where allowed(e.source) && allowed(e.target) && abs(w) > abs(weights[e] ?? 0) { weights[e] = w }
        }
        let candidates = weights.keys.sorted { ($0.target, $0.source) < ($1.target, $1.source) }
        let edges = rule.edges(from: candidates, chosen: chosen, source: \.source, target: \.target, size: { abs(weights[$0]!) })
        let touched = Set(edges.flatMap { [$0.source, $0.target] })
        let nodes = all.filter { touched.contains($0) || { if case .logit = $0 { true } else { false } }($0) }.sorted()
        var ids = [AlignedNode: String]()
        for (i, n) in nodes.enumerated() { ids[n] = String(format: "%06d", i) }

        let maxOffset = nodes.map { $0.place(layers: layers).offset }.max() ?? 0
        let names = Dictionary(uniqueKeysWithValues: nodes.map { ($0, c.label($0, labels: labels)) })
        let layout = LayeredLayout(nodes.map { n in
            let (row, offset) = n.place(layers: layers)
            return LayeredLayout.Item(id: ids[n]!, band: row + 1, column: maxOffset - offset, lines: names[n]!.components(separatedBy: "\n"))
        }) { DOTWriter.bandName($0, layers: layers) }

        var legend = ["fill: grey in every graph"]
        for (i, g) in graphs.enumerated() { legend.append("\(graphNames[i % graphNames.count]) only in \(g.summary.slug)") }
        if graphs.count > 2 { legend.append("light grey in some") }
        let caption = legend.joined(separator: ", ") + "; edges: blue excites, red inhibits, solid in every graph, dashed in some"
            + String(format: "\nfeature IoU %.2f, edge IoU %.2f; drawn: %d of the %d most influential of %d feature and error nodes, %d edges",
                     c.featureIoU, c.edgeIoU, nodes.filter { chosen.contains($0) }.count, min(rule.maxNodes, inner.count), inner.count, edges.count)
        var lines = [
            "digraph difference {",
            "  graph [charset=\"UTF-8\", splines=false, outputorder=edgesfirst, bgcolor=white, fontname=\"Helvetica\", labelloc=t, fontsize=14, pad=0.3, label=\(DisplayText.dotQuoted(caption))];",
            "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=9, penwidth=0.6, margin=\"0.03,0.02\"];",
            "  edge [arrowsize=0.4];",
        ]
        lines += layout.bandLabelStatements()
        for n in nodes {
            let having = graphs.indices.filter { graphs[$0].nodes.contains(n) }
            lines.append("  n\(ids[n]!) [label=\(DisplayText.dotQuoted(names[n]!)), \(layout.pin(ids[n]!)), fillcolor=\"\(fill(having, of: graphs.count))\"];")
        }
        let strongest = edges.map { abs(weights[$0]!) }.filter(\.isFinite).max() ?? 1
        for e in edges.sorted(by: { ($0.target, $0.source) < ($1.target, $1.source) }) {
            let w = weights[e]!
            let every = graphs.allSatisfy { $0.edges[e] != nil }
            let size = Double(abs(w) / max(strongest, 1e-12))
            lines.append("  n\(ids[e.source]!) -> n\(ids[e.target]!) [color=\"\(w >= 0 ? "#2166ac" : "#b2182b")\", "
                         + "penwidth=\(String(format: "%.2f", 0.3 + 3 * (size.isFinite ? size : 1)))\(every ? "" : ", style=dashed")];")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }
}
