import ArgumentParser
import GraphExport

/// How much of a graph a picture (SVG or DOT) draws; the store and JSON keep everything.
struct DrawingOptions: ParsableArguments {
    @Option(name: .long, help: "Pictures draw at most this many feature and error nodes, the most influential.")
    var drawNodes = DrawingRule().maxNodes

    @Option(name: .long, help: "Pictures draw each node's strongest inputs among the drawn nodes, this many.")
    var drawInputs = DrawingRule().perTarget

    @Option(name: .long, help: "Pictures draw at most this many edges, the strongest.")
    var drawEdges = DrawingRule().maxEdges

    func validate() throws {
        guard drawNodes >= 1, drawInputs >= 1, drawEdges >= 1 else { throw ValidationError("--draw-nodes, --draw-inputs and --draw-edges must be at least 1") }
    }

    var rule: DrawingRule { DrawingRule(maxNodes: drawNodes, perTarget: drawInputs, maxEdges: drawEdges) }
}
