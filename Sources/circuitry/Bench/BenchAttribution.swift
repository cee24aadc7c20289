import ArgumentParser
import Attribution
import Foundation
import LanguageModels
import ModelIO
import TensorCore
import Transcoders

struct BenchAttribution: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attribution",
        abstract: "Time one attribution graph phase by phase, and write its adjacency for comparison with circuit-tracer.",
        discussion: """
            With --out DIR, writes DIR/adjacency.npy (float32, rows targets, columns sources, circuit-tracer's node order) and DIR/result.json (the keys of circuit-tracer-run.py's result.json, plus the pruned node set), so the two tools' graphs can be compared entry by entry.

            Example:
              circuitry bench attribution \\
                  --prompt "The capital of the state containing Dallas is" \\
                  --transcoders /tmp/ct-peer/tc-random --max-feature-nodes 4096 \\
                  --out /tmp/ours
            """)

    @Option(name: .long, help: "The prompt.")
    var prompt: String

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var transcoderOptions: TranscoderOptions
    @OptionGroup var flags: AttributionFlags

    @Flag(name: .long, help: "Do not prepend the beginning-of-sequence token.")
    var noBos = false

    @Option(name: .long, help: ArgumentHelp("Write adjacency.npy and result.json here.", valueName: "dir"))
    var out: String?

    @OptionGroup var output: JSONOption

    struct Result: Encodable {
        var prompt: String
        var token_ids: [Int]
        var n_layers: Int
        var active_features: Int
        var selected_features: [[Int]]
        var selected_activations: [Float]
        var logit_tokens: [Int]
        var logit_probabilities: [Float]
        var adjacency_shape: [Int]
        var seconds_load: Double
        var seconds_attribute: Double
        var seconds: AttributionTimings
        var peak_rss_mb: Double
        var threads: Int
        var pruned_nodes: [Int]
        var replacement_score: Double
        var completeness_score: Double
    }

    func run() throws {
        let t0 = Date()
        let loaded = try modelOptions.load()
        let set = try transcoderOptions.load(for: loaded.configuration, lazy: true)
        let tokens = try loaded.tokenize(prompt, bos: !noBos)
        let options = flags.options
        let provenance = try GraphProvenance.make(model: loaded, transcoders: set, prompt: prompt, tokens: tokens, options: options)
        let loadSeconds = Date().timeIntervalSince(t0)
        let t1 = Date()
        let graph = try Attribution.attribute(model: loaded.model, transcoders: set, tokens: tokens, options: options, provenance: provenance)
        let seconds = Date().timeIntervalSince(t1)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let result = Result(
            prompt: prompt, token_ids: tokens, n_layers: loaded.configuration.layers, active_features: graph.activeFeatureCount,
            selected_features: graph.features.map { [$0.layer, $0.position, $0.feature] }, selected_activations: graph.features.map(\.activation),
            logit_tokens: graph.logits.map(\.token), logit_probabilities: graph.logits.map(\.probability),
            adjacency_shape: graph.adjacency.shape, seconds_load: loadSeconds, seconds_attribute: seconds, seconds: graph.timings,
            peak_rss_mb: Double(usage.ru_maxrss) / 1024, threads: Parallel.width,
            pruned_nodes: graph.pruning.nodes.enumerated().filter(\.element).map(\.offset),
            replacement_score: graph.replacementScore, completeness_score: graph.completenessScore)
        if let out {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try NumpyFile.write(graph.adjacency, to: "\(out)/adjacency.npy")
            try JSONEncoder.pretty.encode(result).write(to: URL(fileURLWithPath: "\(out)/result.json"))
        }
        if output.json {
            try Output.json(result)
            return
        }
        let t = graph.timings
        print(String(format: "%d tokens, %d active features, %d feature nodes, %d logits; adjacency %d × %d",
                     tokens.count, graph.activeFeatureCount, graph.features.count, graph.logits.count, graph.layout.count, graph.layout.count))
        print(String(format: "attribution %.2f s: forward %.2f, logit rows %.2f, feature rows %.2f, assembly %.2f, pruning %.2f",
                     seconds, t.forward, t.logitRows, t.featureRows, t.assembly, t.pruning))
        print(String(format: "load %.2f s, peak resident memory %.0f MB, %d threads; replacement %.3f, completeness %.3f",
                     loadSeconds, result.peak_rss_mb, Parallel.width, graph.replacementScore, graph.completenessScore))
    }
}
