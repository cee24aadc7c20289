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
              circuitry export texas --format svg --draw-nodes 120 --draw-edges 600 --out Graphs/texas-more.svg
              circuitry export texas --format json > texas.json
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case dot, svg, json }

    @Argument(help: "The graph's id or slug.") var graph: String
    @OptionGroup var storeOptions: StoreOptions
    @Option(name: .long, help: "dot, svg or json.") var format: Format
    @Option(name: .long, help: ArgumentHelp("Write here instead of standard output.", valueName: "file")) var out: String?
    @Option(name: .long, help: "Graphviz layout for SVG: nop (the pinned viewer layout, fast) or dot.") var layout = "nop"
    @OptionGroup var drawing: DrawingOptions

    func run() throws {
        let store = try storeOptions.openForReading()
        let g = try store.graph(graph)
        let labels = try store.labels(for: g)
        let data: Data
        switch format {
        case .dot: data = Data(DOTWriter.dot(g, labels: labels, rule: drawing.rule).utf8)
        case .svg: data = Data(try SVGRenderer.svg(fromDOT: DOTWriter.dot(g, labels: labels, rule: drawing.rule), layout: layout).utf8)
        case .json: data = try InterchangeExport.graph(g, promptTokens: store.tokenTexts(graph).prompt, labels: labels).encoded()
        }
        if let out { try data.write(to: URL(fileURLWithPath: out)) } else { FileHandle.standardOutput.write(data) }
    }
}
