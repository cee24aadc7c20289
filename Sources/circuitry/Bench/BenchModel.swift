import ArgumentParser
import Foundation
import LanguageModels
import TensorCore

struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Prompt throughput (tokens/s) and peak memory of the forward pass, like llama.cpp's prompt benchmark.",
        discussion: """
            The prompt is the text llama-cpp-bench.py uses ("The history of the city begins with a small settlement by the river. " repeated), cut to each length; each figure is the best of three runs of one forward pass that produces the last position's logits.

            It also measures this machine's Float32 matrix-product rate (the best of five 2048 × 2048 × 2048 products through BLAS) and divides each prompt's product work by it: the "ceiling" is the throughput a Float32 forward pass could reach if every product ran at that rate and nothing else took time. Programs that multiply quantised weights with 8-bit integer dot products (llama.cpp) are not bound by it.

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
        /// Floating-point operations of the pass's matrix products.
        var product_gflop: Double
        /// The products' rate in this run.
        var gflop_per_second: Double
        /// product_gflop at the machine's best sgemm rate: the fastest a Float32 pass can be.
        var ceiling_tokens_per_second: Double
    }

    struct Report: Encodable {
        var rows: [Row]
        var load_seconds: Double
        var peak_rss_mb: Double
        /// The best of five 2048³ Float32 products on this machine.
        var sgemm_gflop_per_second: Double
    }

    /// This machine's Float32 product rate: the best of five 2048 × 2048 × 2048 products.
    static func sgemmRate() throws -> Double {
        let n = 2048
        let a = try Tensor(shape: [n, n], scalars: (0..<(n * n)).map { Float($0 % 13) * 0.01 })
        let b = try Tensor(shape: [n, n], scalars: (0..<(n * n)).map { Float($0 % 7) * 0.01 })
        let best = try Stopwatch.best(runs: 5) { _ = try Tensor.matmul(a, b, transposeB: true) }
        return 2 * Double(n * n * n) / best / 1e9
    }

    func run() throws {
        let t0 = Stopwatch.now()
        let loaded = try modelOptions.load()
        let loadSeconds = Stopwatch.now() - t0
        let text = String(repeating: "The history of the city begins with a small settlement by the river. ", count: 100)
        let all = try loaded.tokenize(text, bos: true)
        let rate = try Self.sgemmRate()
        if !output.json { print(String(format: "this machine's Float32 product rate: %.0f GFLOP/s (best of five 2048³ products)", rate)) }
        var rows = [Row]()
        for n in tokens {
            guard n > 0, n <= all.count else { throw ValidationError("--tokens must be between 1 and \(all.count)") }
            let ids = Array(all.prefix(n))
            let best = try Stopwatch.best(runs: repeats) { _ = try loaded.model.forward([ids]) }
            let gflop = loaded.model.productFloatOps(tokens: n) / 1e9
            let ceiling = Double(n) / (gflop / rate)
            rows.append(Row(tokens: n, seconds: best, tokens_per_second: Double(n) / best, product_gflop: gflop,
                            gflop_per_second: gflop / best, ceiling_tokens_per_second: ceiling))
            if !output.json {
                print(String(format: "prompt %4d tokens: %8.1f tokens/s (%.3f s, best of %d); products %.1f GFLOP at %.0f GFLOP/s; Float32 ceiling %.0f tokens/s (%.0f%% reached)",
                             n, Double(n) / best, best, repeats, gflop, gflop / best, ceiling, 100 * Double(n) / best / ceiling))
            }
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peak = Double(usage.ru_maxrss) / 1024
        if output.json {
            try Output.json(Report(rows: rows, load_seconds: loadSeconds, peak_rss_mb: peak, sgemm_gflop_per_second: rate))
        } else {
            print(String(format: "model load %.2f s, peak resident memory %.0f MB", loadSeconds, peak))
        }
    }
}
