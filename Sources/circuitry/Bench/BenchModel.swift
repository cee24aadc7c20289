import ArgumentParser
import Foundation
import LanguageModels

struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Prompt throughput (tokens/s) and peak memory of the forward pass, like llama.cpp's prompt benchmark.",
        discussion: """
            The prompt is the text llama-cpp-bench.py uses ("The history of the city begins with a
            small settlement by the river. " repeated), cut to each length; each figure is the best of
            three runs of one forward pass that produces the last position's logits.

            Example:
              circuitry bench model --tokens 128 --tokens 512 --json
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "Prompt lengths to measure (repeatable).")
    var tokens: [Int] = [128, 512]

    @Option(name: .long, help: "Runs per length; the best is reported.")
    var repeats = 3

    @OptionGroup var output: JSONOption

    struct Row: Encodable {
        var tokens: Int
        var seconds: Double
        var tokens_per_second: Double
    }

    struct Report: Encodable {
        var rows: [Row]
        var load_seconds: Double
        var peak_rss_mb: Double
    }

    func run() throws {
        let t0 = Stopwatch.now()
        let loaded = try modelOptions.load()
        let loadSeconds = Stopwatch.now() - t0
        let text = String(repeating: "The history of the city begins with a small settlement by the river. ", count: 100)
        let all = try loaded.tokenize(text, bos: true)
        var rows = [Row]()
        for n in tokens {
            guard n > 0, n <= all.count else { throw ValidationError("--tokens must be between 1 and \(all.count)") }
            let ids = Array(all.prefix(n))
            var best = Double.infinity
            for _ in 0..<max(repeats, 1) {
                let start = Stopwatch.now()
                _ = try loaded.model.forward([ids])
                best = min(best, Stopwatch.now() - start)
            }
            rows.append(Row(tokens: n, seconds: best, tokens_per_second: Double(n) / best))
            if !output.json { print(String(format: "prompt %4d tokens: %8.1f tokens/s (%.3f s, best of %d)", n, Double(n) / best, best, repeats)) }
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peak = Double(usage.ru_maxrss) / 1024
        if output.json {
            try Output.json(Report(rows: rows, load_seconds: loadSeconds, peak_rss_mb: peak))
        } else {
            print(String(format: "model load %.2f s, peak resident memory %.0f MB", loadSeconds, peak))
        }
    }
}
