import Foundation
import Testing
import TensorCore
import TestSupport

@Suite struct ReductionTests {
    @Test func axisReductionsMatchLoops() throws {
        var random = TestRandom(seed: 8)
        let t = random.normal([3, 4, 5])
        let s1 = try t.sum(axis: 1)
        let m2 = try t.max(axis: -1)
        #expect(s1.shape == [3, 5] && m2.shape == [3, 4])
        for a in 0..<3 {
            for c in 0..<5 {
                let expected = (0..<4).reduce(Float(0)) { $0 + t.scalars[(a * 4 + $1) * 5 + c] }
                assertClose(s1.scalars[a * 5 + c], expected, rtol: 1e-6, atol: 1e-6)
            }
            for b in 0..<4 {
                #expect(m2.scalars[a * 4 + b] == (0..<5).map { t.scalars[(a * 4 + b) * 5 + $0] }.max()!)
            }
        }
        #expect(try t.mean(axis: 0, keepingAxis: true).shape == [1, 4, 5])
        assertClose(t.sum(), t.scalars.reduce(0, +), rtol: 1e-5, atol: 1e-5)
        #expect(throws: TensorError.axisOutOfRange(op: "sum", axis: 3, rank: 3)) { try t.sum(axis: 3) }
    }

    @Test func sumToShapeUndoesBroadcast() throws {
        var random = TestRandom(seed: 9)
        let g = random.normal([2, 3, 4])
        let toBias = try g.sumToShape([4])
        let toColumn = try g.sumToShape([3, 1])
        for j in 0..<4 {
            let expected = (0..<6).reduce(Float(0)) { $0 + g.scalars[$1 * 4 + j] }
            assertClose(toBias.scalars[j], expected, rtol: 1e-5, atol: 1e-6)
        }
        for i in 0..<3 {
            var expected: Float = 0
            for a in 0..<2 { for j in 0..<4 { expected += g.scalars[(a * 3 + i) * 4 + j] } }
            assertClose(toColumn.scalars[i], expected, rtol: 1e-5, atol: 1e-6)
        }
        #expect(throws: TensorError.self) { try g.sumToShape([5]) }
    }

    @Test func argmaxTakesTheFirstOfTies() throws {
        let t = try Tensor(shape: [2, 3], scalars: [1, 3, 3, -1, -2, -1])
        #expect(try t.argmaxLastAxis() == [1, 0])
    }
}

@Suite struct SoftmaxTests {
    @Test func softmaxMatchesDoubleReferenceAndIsStable() throws {
        var random = TestRandom(seed: 10)
        let t = random.normal([4, 9], std: 3).adding(1000)   // large offsets must not overflow
        let p = try t.softmax(), lp = try t.logSoftmax()
        for r in 0..<4 {
            let row = (0..<9).map { Double(t.scalars[r * 9 + $0]) }
            let peak = row.max()!
            let total = row.reduce(0) { $0 + Foundation.exp($1 - peak) }
            for j in 0..<9 {
                let expected = Foundation.exp(row[j] - peak) / total
                assertClose(p.scalars[r * 9 + j], Float(expected), rtol: 1e-5, atol: 1e-7)
                assertClose(lp.scalars[r * 9 + j], Float(Foundation.log(expected)), rtol: 1e-5, atol: 1e-4)
            }
        }
        #expect(throws: TensorError.self) { try Tensor(zeros: [3, 0]).softmax() }
    }
}
