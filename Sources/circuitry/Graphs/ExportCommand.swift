import ArgumentParser
import Foundation
import GraphExport
import GraphStore

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a stored graph as DOT, SVG or interchange JSON.",
        discussion: """
            Examples:
              circuitry export texas --format svg --out Graphs/texas.svg
              circuitry export texas --format svg --draw-nodes 120 --draw-edges 600 \\
                  --out Graphs/texas-more.svg
              circuitry export texas --format json > texas.json
              # re-prunable after import
              circuitry export texas --format json --with-unpruned --out texas-full.json
              # pinned in `circuitry serve`
              circuitry export texas --format svg --subgraph default \\
                  --out Graphs/texas-subgraph.svg
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case dot, svg, json }

    @Argument(help: "The graph's id or slug.") var graph: String
    @OptionGroup var storeOptions: StoreOptions
    @Option(name: .long, help: "dot, svg or json.") var format: Format
    @Option(name: .long, help: ArgumentHelp("Write here instead of standard output.", valueName: "file")) var out: String?
    @Option(name: .long, help: "Graphviz layout for SVG: nop (the pinned viewer layout, fast) or dot.") var layout = "nop"
    @OptionGroup var drawing: DrawingOptions
    @Flag(name: .long, help: "With --format json: carry the unpruned graph too (a larger file), so an import re-prunes exactly as here.")
    var withUnpruned = false
    @Option(name: .long, help: ArgumentHelp("A subgraph saved in the viewer: SVG and DOT draw only its pinned nodes, each supernode as one node; JSON carries it in qParams.", valueName: "name"))
    var subgraph: String?

    func run() throws {
        let store = try storeOptions.openForReading()
        let g = try store.graph(graph)
        let labels = try store.labels(for: g)
        var saved: StoredSubgraph?
        if let subgraph {
            let all = try store.subgraphs(graph)
            guard let found = all.first(where: { $0.name == subgraph }) else {
                throw CommandError("graph \"\(g.summary.slug)\" has no subgraph \"\(subgraph)\"" + (all.isEmpty ? " (it has none; pin nodes in `circuitry serve`)" : "; it has " + all.map { "\"\($0.name)\"" }.joined(separator: ", ")))
            }
            saved = found
        }
        func dot() -> String { saved.map { SubgraphDOT.dot(g, subgraph: $0, labels: labels) } ?? DOTWriter.dot(g, labels: labels, rule: drawing.rule) }
        let data: Data
        switch format {
        case .dot: data = Data(dot().utf8)
        case .svg: data = Data(try SVGRenderer.svg(fromDOT: dot(), layout: layout).utf8)
        case .json:
            var file = InterchangeExport.graph(g, promptTokens: try store.tokenTexts(graph).prompt, labels: labels, subgraph: saved)
            if withUnpruned {
                let (facts, adjacency) = try store.unprunedBlobs(graph)
                file.metadata.circuitry?.unpruned_facts = facts.base64EncodedString()
                file.metadata.circuitry?.unpruned_adjacency = adjacency.base64EncodedString()
            }
            data = try file.encoded()
        }
        if let out { try Output.write(data, to: out) } else { FileHandle.standardOutput.write(data) }
    }
}
