import ArgumentParser
import CBLAS
import Foundation
import TensorCore

struct BenchBLAS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blas",
        abstract: "GFLOP/s of TensorCore's matrix product next to raw cblas_sgemm on the same shapes.",
        discussion: """
            Shapes are transformer-sized products (tokens × width times width × MLP width, the attention output projection over an attribution batch) and a square 4096² product. The two are timed in alternating blocks over three rounds and each figure is the median, so drift in machine speed affects both alike.

            Example:
              circuitry bench blas --json
            """)

    @Flag(help: "Print one JSON document instead of a table.")
    var json = false

    struct Row: Codable {
        var m: Int, k: Int, n: Int
        var tensorGFLOPS: Double
        var rawGFLOPS: Double
        var ratio: Double
    }

    func run() throws {
        let shapes = [(128, 576, 1536), (512, 576, 1536), (512, 1536, 576), (2816, 576, 576), (4096, 4096, 4096)]
        var random = SeededGenerator(seed: 1)
        var rows = [Row]()
        for (m, k, n) in shapes {
            let a = try Tensor.randomNormal([m, k], using: &random)
            let b = try Tensor.randomNormal([k, n], using: &random)
            let flops = 2.0 * Double(m) * Double(k) * Double(n)
            let budget = flops > 1e11 ? 6.0 : 1.5
            var c = [Float](repeating: 0, count: m * n)
            func raw() {
                // Raw sgemm with OpenBLAS's own threading (TensorCore runs OpenBLAS single-threaded
                // and splits products itself); switching is safe here, nothing else runs.
                openblas_set_num_threads(Int32(Parallel.width))
                defer { openblas_set_num_threads(1) }
                a.scalars.withUnsafeBufferPointer { pa in
                    b.scalars.withUnsafeBufferPointer { pb in
                        c.withUnsafeMutableBufferPointer { pc in
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                                        1, pa.baseAddress, Int32(k), pb.baseAddress, Int32(n), 0, pc.baseAddress, Int32(n))
                        }
                    }
                }
            }
            let (tensorTime, rawTime) = try Stopwatch.alternatingMedians(seconds: budget, { _ = try Tensor.matmul(a, b) }, raw)
            let row = Row(m: m, k: k, n: n, tensorGFLOPS: flops / tensorTime / 1e9,
                          rawGFLOPS: flops / rawTime / 1e9, ratio: rawTime / tensorTime)
            rows.append(row)
            if !json {
                print(String(format: "%5d×%-5d · %5d×%-5d  TensorCore %7.1f GFLOP/s   cblas_sgemm %7.1f GFLOP/s   ratio %.3f",
                             m, k, k, n, row.tensorGFLOPS, row.rawGFLOPS, row.ratio))
            }
        }
        let environment = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset"
        if json {
            let report: [String: AnyCodable] = [
                "openblas": .string(BLAS.configuration), "threads": .int(Parallel.width),
                "OPENBLAS_CORETYPE": .string(environment), "rows": .rows(rows),
            ]
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print("OpenBLAS: \(BLAS.configuration), \(Parallel.width) threads, OPENBLAS_CORETYPE=\(environment)")
        }
    }
}

/// The few value kinds benchmark reports hold.
enum AnyCodable: Encodable {
    case string(String), int(Int), double(Double), rows([BenchBLAS.Row]), object([String: AnyCodable]), array([AnyCodable])

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let v): try container.encode(v)
        case .int(let v): try container.encode(v)
        case .double(let v): try container.encode(v)
        case .rows(let v): try container.encode(v)
        case .object(let v): try container.encode(v)
        case .array(let v): try container.encode(v)
        }
    }
}
