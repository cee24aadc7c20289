import ArgumentParser
import Foundation
import TensorCore

struct BenchOps: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops",
        abstract: "Throughput of element-wise kernels, next to a scalar Foundation loop, to show vectorisation.",
        discussion: """
            Example:
              circuitry bench ops
              circuitry bench ops --json
            """)

    @OptionGroup var output: JSONOption

    struct Timing: Encodable { var kernel: String; var milliseconds: Double; var million_elements_per_second: Double }

    func run() throws {
        var timings = [Timing]()
        defer { if output.json { try? Output.json(timings) } }
        var random = SeededGenerator(seed: 2)
        let count = 1 << 22
        let x = try Tensor.randomNormal([count], using: &random)
        let y = try Tensor.randomNormal([count], using: &random)
        let w = try Tensor.randomNormal([1024], using: &random)
        let rows = try x.reshaped([count / 1024, 1024])
        func report(_ name: String, _ seconds: Double) {
            timings.append(Timing(kernel: name, milliseconds: seconds * 1e3, million_elements_per_second: Double(count) / seconds / 1e6))
            if output.json { return }
            print(String(format: "%@ %8.2f ms   %7.0f M elements/s", Output.padded(name, 34) as NSString, seconds * 1e3, Double(count) / seconds / 1e6))
        }
        report("add (same shape)", try Stopwatch.median { _ = try x + y })
        report("multiply (row broadcast [n,d]·[d])", try Stopwatch.median { _ = try rows * w })
        report("fastExp", Stopwatch.median { _ = x.exp() })
        report("silu", Stopwatch.median { _ = x.silu() })
        report("gelu (erf)", Stopwatch.median { _ = x.gelu() })
        report("softmax rows of 1024", try Stopwatch.median { _ = try rows.softmax() })
        report("rmsNorm rows of 1024", try Stopwatch.median { _ = try rows.rmsNorm(weight: w, epsilon: 1e-5) })
        report("Float16 → Float", Stopwatch.median { _ = try? Tensor(float16Bits: [UInt16](repeating: 0x3C00, count: count), shape: [count]) })
        report("Foundation exp, scalar loop", Stopwatch.median { _ = x.scalars.map { Foundation.exp($0) } })
        report("Foundation Float16 → Float", Stopwatch.median {
            let bits = [UInt16](repeating: 0x3C00, count: count)
            _ = bits.map { Float(Float16(bitPattern: $0)) }
        })
    }
}
