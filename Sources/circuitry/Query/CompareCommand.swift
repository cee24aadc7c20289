import ArgumentParser
import CircuitCompare
import Foundation
import GraphExport
import GraphStore

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare the circuits of two or more stored graphs.",
        discussion: """
            Reports feature overlap (intersection over union and over the smaller set; position-free and aligned from the end of the prompt; plain and weighted by influence), edge overlap on aligned nodes, the rank correlation of shared features' influence, the shared circuit, each graph's own features, and for three or more graphs how often each feature recurs. --svg and --dot draw the difference graph: shared nodes and edges dark grey, each graph's own in its colour.

            Examples:
              circuitry compare the-capital-of-texas-is the-capital-of-france-is \\
                  --svg Graphs/texas-vs-france.svg
              circuitry compare 1 2 3 --json
            """)

    @Argument(help: "Graphs to compare, by id or slug (at least two).") var graphs: [String] = []
    @Option(name: .long, help: ArgumentHelp("Write the difference graph as SVG.", valueName: "file")) var svg: String?
    @Option(name: .long, help: ArgumentHelp("Write the difference graph as Graphviz DOT.", valueName: "file")) var dot: String?
    @Option(name: .long, help: "How many shared and unique features to list.") var top = 10
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var drawing: DrawingOptions
    @OptionGroup var output: JSONOption

    func validate() throws {
        guard graphs.count >= 2 else { throw ValidationError("compare needs at least two graphs (give their ids or slugs)") }
    }

    func run() throws {
        let store = try storeOptions.openForReading()
        let comparison = try CircuitComparison.compare(graphs, in: store)
        // The graphs share one transcoder set (compare refuses others), so one set of labels serves.
        let labels = try store.labels(for: try store.graph(graphs[0]))
        if dot != nil || svg != nil {
            let text = DifferenceDOT.dot(comparison, labels: labels, rule: drawing.rule)
            if let dot { try Output.write(Data(text.utf8), to: dot) }
            if let svg { try Output.write(Data(try SVGRenderer.svg(fromDOT: text).utf8), to: svg) }
        }
        if output.json { try Output.json(comparison.report); return }
        print(summary(comparison, labels: labels))
    }

    func summary(_ c: CircuitComparison, labels: [LayerFeature: String]) -> String {
        var lines = c.graphs.enumerated().map { i, g in
            "graph \(i + 1): \(g.summary.id) \"\(g.summary.slug)\" — \(Output.visible(g.summary.prompt)) (\(g.features.count) features, \(g.edges.count) edges)"
        }
        lines.append("")
        lines.append(String(format: "features       IoU %.3f  IoM %.3f   weighted IoU %.3f  IoM %.3f", c.featureIoU, c.featureIoM,
                            c.weightedFeatureIoU, c.weightedFeatureIoM))
        lines.append(String(format: "aligned        IoU %.3f  IoM %.3f   weighted IoU %.3f  IoM %.3f", c.alignedFeatureIoU, c.alignedFeatureIoM,
                            c.weightedAlignedFeatureIoU, c.weightedAlignedFeatureIoM))
        lines.append(String(format: "edges (aligned) IoU %.3f; shared circuit %d nodes, %d edges", c.edgeIoU, c.sharedNodes.count, c.sharedEdges.count))
        lines.append("influence rank correlation of shared features: " + (c.influenceRankCorrelation.map { String(format: "%.3f", $0) } ?? "— (fewer than two shared)"))
        lines.append("")
        lines.append("shared features (\(c.sharedFeatures.count)), by mean influence:")
        for s in c.sharedFeatures.sorted(by: { $0.influence.reduce(0, +) > $1.influence.reduce(0, +) }).prefix(top) {
            lines.append("  L\(s.feature.layer)/F\(s.feature.feature)  " + s.influence.map { String(format: "%.4f", $0) }.joined(separator: "  ")
                         + (labels[s.feature].map { "  \(Output.visible($0))" } ?? ""))
        }
        for (i, unique) in c.uniqueFeatures.enumerated() {
            lines.append("only in \"\(c.graphs[i].summary.slug)\" (\(unique.count)): "
                         + unique.prefix(top).map { "L\($0.feature.layer)/F\($0.feature.feature)" }.joined(separator: ", ") + (unique.count > top ? ", …" : ""))
        }
        if c.graphs.count >= 3 {
            lines.append("")
            lines.append("recurring features (graphs, mean influence):")
            for r in c.recurrence.prefix(top) { lines.append(String(format: "  L%d/F%d  %d  %.4f", r.feature.layer, r.feature.feature, r.graphs, r.meanInfluence)) }
        }
        return lines.joined(separator: "\n")
    }
}
