import ArgumentParser
import Foundation
import GraphExport
import GraphStore

struct GraphsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graphs",
        abstract: "List, show, delete, re-prune and import stored graphs.",
        subcommands: [ListGraphs.self, ShowGraph.self, DeleteGraph.self, PruneGraph.self, ImportGraph.self])
}

struct ListGraphs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List stored graphs, newest first.",
                                                    discussion: "Example:\n  circuitry graphs list --json")
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: JSONOption

    func run() throws {
        let graphs = try storeOptions.openForReading().list()
        if output.json { try Output.json(graphs); return }
        if graphs.isEmpty { print("no graphs in \(storeOptions.shownLocation) (make one with `circuitry trace`)"); return }
        let width = min(max(graphs.map(\.slug.count).max() ?? 4, 4), 40)
        func cell(_ text: String, _ w: Int) -> String { text.count >= w ? String(text.prefix(w)) : text + String(repeating: " ", count: w - text.count) }
        print("   id  " + cell("slug", width) + "   nodes    edges  repl  compl  prompt")
        for g in graphs {
            print(String(format: "%5d  ", g.id) + cell(g.slug, width) + String(format: " %7d %8d  ", g.nodesKept, g.edgesKept)
                  + Output.score(g.replacementScore) + "   " + Output.score(g.completenessScore) + "  " + Output.visible(String(g.prompt.prefix(60))))
        }
    }
}

struct ShowGraph: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one stored graph: metadata, nodes and edges.",
                                                    discussion: "Examples:\n  circuitry graphs show texas\n  circuitry graphs show 3 --json")
    @Argument(help: "The graph's id or slug.") var graph: String
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: JSONOption

    struct Report: Encodable {
        var summary: GraphSummary
        var provenance: GraphProvenance
        var nodes: [StoredNode]
        var edges: [StoredEdge]
        /// Feature labels by node index (user labels win), joined in from the store's feature pages.
        var labels: [Int: String]
    }

    func run() throws {
        let store = try storeOptions.openForReading()
        let g = try store.graph(graph)
        let labels = try store.labels(for: g)
        if output.json {
            var byNode = [Int: String]()
            for n in g.nodes { byNode[n.index] = g.label(of: n, labels: labels) }
            try Output.json(Report(summary: g.summary, provenance: g.provenance, nodes: g.nodes, edges: g.edges, labels: byNode))
            return
        }
        let s = g.summary
        print("""
            graph \(s.id) "\(s.slug)": \(Output.visible(s.prompt))
              transcoders \(s.transcoderSet), \(s.activeFeatures) active features, \(s.featureNodes) feature nodes, \(s.logitNodes) logits
              pruned at node \(s.nodeThreshold), edge \(s.edgeThreshold): \(s.nodesKept) of \(s.nodesTotal) nodes, \(s.edgesKept) of \(s.edgesTotal) edges
              replacement \(Output.score(s.replacementScore, digits: 3)), completeness \(Output.score(s.completenessScore, digits: 3)), made \(s.createdAt) by \(g.provenance.engineVersion)
            nodes (by influence):
            """)
        for n in g.nodes.sorted(by: { $0.influence > $1.influence }).prefix(25) {
            print(String(format: "  %@ influence %.4f", Output.padded(TraceCommand.name(n, labels: labels), 28) as NSString, n.influence))
        }
        if g.nodes.count > 25 { print("  … \(g.nodes.count - 25) more (use --json)") }
    }
}

struct DeleteGraph: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a stored graph.",
                                                    discussion: "Example:\n  circuitry graphs delete texas")
    @Argument(help: "The graph's id or slug.") var graph: String
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: JSONOption

    struct Deleted: Encodable { var deleted: String }

    @Flag(name: .long, help: "Keep the freed space in the file for later graphs instead of giving it back (faster on a large store).")
    var keepSpace = false

    func run() throws {
        try storeOptions.open().delete(graph, reclaim: !keepSpace)
        if output.json { return try Output.json(Deleted(deleted: graph)) }
        print("deleted \(graph)")
    }
}

struct PruneGraph: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Prune a stored graph again at other thresholds (no attribution is recomputed).",
                                                    discussion: "Example:\n  circuitry graphs prune texas --node-threshold 0.6 --edge-threshold 0.95")
    @Argument(help: "The graph's id or slug.") var graph: String
    @OptionGroup var storeOptions: StoreOptions
    @Option(name: .long, help: "Node pruning keeps this share of total influence.") var nodeThreshold = 0.8
    @Option(name: .long, help: "Edge pruning keeps this share of total edge score.") var edgeThreshold = 0.98
    @OptionGroup var output: JSONOption

    func validate() throws {
        guard (0...1).contains(nodeThreshold), (0...1).contains(edgeThreshold) else {
            throw ValidationError("--node-threshold and --edge-threshold must be between 0 and 1")
        }
    }

    func run() throws {
        let s = try storeOptions.open().reprune(graph, nodeThreshold: nodeThreshold, edgeThreshold: edgeThreshold)
        if output.json { return try Output.json(s) }
        print("graph \(s.id) \"\(s.slug)\": \(s.nodesKept) nodes and \(s.edgesKept) edges at node threshold \(nodeThreshold), edge threshold \(edgeThreshold)")
    }
}

struct ImportGraph: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import a graph file in circuit-tracer's interchange JSON (from circuit-tracer, Neuronpedia or Circuitry).",
        discussion: "Example:\n  circuitry graphs import graph-files/austin.json --slug austin-ct")
    @Argument(help: "The graph file.") var file: String
    @OptionGroup var storeOptions: StoreOptions
    @Option(name: .long, help: "A name for the graph (default: the file's slug).") var slug: String?
    @OptionGroup var output: JSONOption

    func run() throws {
        let s = try InterchangeImport.load(file: file, into: storeOptions.open(creating: true), slug: slug)
        if output.json { return try Output.json(s) }
        print("imported graph \(s.id) \"\(s.slug)\": \(s.nodesKept) nodes, \(s.edgesKept) edges")
    }
}

import Attribution
