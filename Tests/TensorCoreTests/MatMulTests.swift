import Dispatch
import Foundation
import Testing
import TensorCore
import TestSupport

/// Triple-loop reference in Double.
private func naiveMatMul(_ a: Tensor, _ b: Tensor, _ tA: Bool, _ tB: Bool) -> Tensor {
    let (m, k) = tA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
    let n = tB ? b.shape[0] : b.shape[1]
    var out = [Float](repeating: 0, count: m * n)
    for i in 0..<m { for j in 0..<n {
        var total = 0.0
        for p in 0..<k {
            let x = tA ? a.scalars[p * m + i] : a.scalars[i * k + p]
            let y = tB ? b.scalars[j * k + p] : b.scalars[p * n + j]
            total += Double(x) * Double(y)
        }
        out[i * n + j] = Float(total)
    } }
    return try! Tensor(shape: [m, n], scalars: out)
}

@Suite struct MatMulTests {
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func everyTransposeMatchesReference(_ flags: (Bool, Bool)) throws {
        var random = TestRandom(seed: 3)
        let (m, k, n) = (7, 13, 5)
        let a = random.normal(flags.0 ? [k, m] : [m, k]), b = random.normal(flags.1 ? [n, k] : [k, n])
        let c = try Tensor.matmul(a, b, transposeA: flags.0, transposeB: flags.1)
        assertClose(c, naiveMatMul(a, b, flags.0, flags.1), rtol: 1e-5, atol: 1e-5)
    }

    /// A single row goes through a matrix–vector product: small, and large enough to be split
    /// across cores; scaled and accumulated; and a column of a wider transposed A (stride lda).
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func singleRowMatchesReference(_ flags: (Bool, Bool)) throws {
        var random = TestRandom(seed: 9)
        for (k, n) in [(13, 5), (640, 4_099)] {
            let a = random.normal(flags.0 ? [k, 1] : [1, k]), b = random.normal(flags.1 ? [n, k] : [k, n])
            let expected = naiveMatMul(a, b, flags.0, flags.1)
            assertClose(try Tensor.matmul(a, b, transposeA: flags.0, transposeB: flags.1), expected, rtol: 1e-4, atol: 1e-4)
            var c = random.normal([1, n])
            let before = c
            try Tensor.gemm(a, transposeA: flags.0, b, transposeB: flags.1, alpha: 2, beta: 0.5, into: &c)
            assertClose(c, try expected.scaled(by: 2) + before.scaled(by: 0.5), rtol: 1e-4, atol: 1e-4)
        }
        // Column 1 of a [k, 3] matrix, read transposed as one row.
        let (k, n) = (11, 7)
        let wide = random.normal([k, 3]), b = random.normal(flags.1 ? [n, k] : [k, n])
        let column = try Tensor(shape: [k, 1], scalars: (0..<k).map { wide.scalars[$0 * 3 + 1] })
        var c = [Float](repeating: .nan, count: n)
        wide.scalars.withUnsafeBufferPointer { pa in
            b.scalars.withUnsafeBufferPointer { pb in
                BLAS.gemm(transposeA: true, transposeB: flags.1, m: 1, n: n, k: k, a: pa.baseAddress! + 1, lda: 3,
                          b: pb.baseAddress!, ldb: flags.1 ? k : n, c: &c, ldc: n)
            }
        }
        assertClose(try Tensor(shape: [1, n], scalars: c), naiveMatMul(column, b, true, flags.1), rtol: 1e-5, atol: 1e-5)
    }

    @Test func rowsAgainstSharedWeightAndBatches() throws {
        var random = TestRandom(seed: 4)
        let x = random.normal([2, 3, 6]), w = random.normal([4, 6])
        let y = try Tensor.matmul(x, w, transposeB: true)
        #expect(y.shape == [2, 3, 4])
        for i in 0..<2 {
            assertClose(try y.row(i), naiveMatMul(try x.row(i), w, false, true), rtol: 1e-5, atol: 1e-5)
        }
        let b = random.normal([2, 6, 3])
        let z = try Tensor.matmul(x, b)
        for i in 0..<2 {
            assertClose(try z.row(i), naiveMatMul(try x.row(i), try b.row(i), false, false), rtol: 1e-5, atol: 1e-5)
        }
        // A shared left matrix against a batch on the right.
        let s = random.normal([3, 6])
        let u = try Tensor.matmul(s, b)
        for i in 0..<2 {
            assertClose(try u.row(i), naiveMatMul(s, try b.row(i), false, false), rtol: 1e-5, atol: 1e-5)
        }
    }

    @Test func gemmAccumulatesAndMatvecAgrees() throws {
        var random = TestRandom(seed: 5)
        let a = random.normal([6, 4]), b = random.normal([4, 3])
        var c = random.normal([6, 3])
        let before = c
        try Tensor.gemm(a, b, alpha: 2, beta: 0.5, into: &c)
        let expected = try naiveMatMul(a, b, false, false).scaled(by: 2) + before.scaled(by: 0.5)
        assertClose(c, expected, rtol: 1e-5, atol: 1e-5)
        let x = random.normal([4])
        assertClose(try Tensor.matvec(a, x), try Tensor.matmul(a, x.reshaped([4, 1])).reshaped([6]), rtol: 1e-5, atol: 1e-5)
        let y = random.normal([6])
        assertClose(try Tensor.matvec(a, y, transposeA: true), try Tensor.matmul(a, y.reshaped([6, 1]), transposeA: true).reshaped([4]), rtol: 1e-5, atol: 1e-5)
    }

    @Test func mismatchedShapesNameBoth() {
        let a = try! Tensor(zeros: [3, 4]), b = try! Tensor(zeros: [5, 2])
        #expect(throws: TensorError.shapeMismatch(op: "matmul", lhs: [3, 4], rhs: [5, 2])) { try Tensor.matmul(a, b) }
        #expect(throws: TensorError.self) { try Tensor.matmul(Tensor(zeros: [2, 3, 4]), Tensor(zeros: [5, 4, 2])) }
        #expect(throws: TensorError.self) { try Tensor.matvec(a, Tensor(zeros: [3])) }
        var c = try! Tensor(zeros: [3, 3])
        #expect(throws: TensorError.self) { try Tensor.gemm(a, try Tensor(zeros: [4, 2]), into: &c) }
    }

    @Test func concurrentLargeProductsAgreeWithSequentialOnes() throws {
        // Products split across cores, run from many threads at once (as tests and parallel
        // attribution do), must neither interfere nor stall.
        var random = TestRandom(seed: 6)
        let inputs = (0..<6).map { _ in (random.normal([300, 200]), random.normal([200, 500])) }
        let sequential = try inputs.map { try Tensor.matmul($0.0, $0.1) }
        let results = ResultBox(count: inputs.count)
        DispatchQueue.concurrentPerform(iterations: inputs.count * 4) { i in
            let product = try? Tensor.matmul(inputs[i % inputs.count].0, inputs[i % inputs.count].1)
            results.set(i % inputs.count, product)
        }
        for (i, expected) in sequential.enumerated() {
            #expect(results.get(i) == expected)
        }
    }

    @Test func emptyContractionIsZero() throws {
        let c = try Tensor.matmul(Tensor(zeros: [3, 0]), Tensor(zeros: [0, 2]))
        #expect(c == (try Tensor(zeros: [3, 2])))
    }
}

/// Thread-safe slots for results computed on several threads.
private final class ResultBox: @unchecked Sendable {
    private var values: [Tensor?]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: Tensor?) { lock.lock(); values[i] = value; lock.unlock() }
    func get(_ i: Int) -> Tensor? { lock.lock(); defer { lock.unlock() }; return values[i] }
}
