import Testing
import TensorCore
import TestSupport

@Suite struct GatherTopKTests {
    @Test func gatherAndScatterAreAdjoint() throws {
        var random = TestRandom(seed: 17)
        let table = random.normal([6, 3])
        let rows = try table.gatherRows([4, 0, 4])
        #expect(try rows.row(0) == table.row(4))
        #expect(try rows.row(2) == table.row(4))
        var sink = try Tensor(zeros: [6, 3])
        try sink.scatterAddRows([4, 0, 4], rows)
        assertClose(try sink.row(4), try table.row(4).scaled(by: 2), rtol: 0, atol: 0)
        #expect(throws: TensorError.indexOutOfRange(op: "gatherRows", index: 6, bound: 6)) { try table.gatherRows([6]) }
        #expect(throws: TensorError.self) { try sink.scatterAddRows([-1], try Tensor(zeros: [1, 3])) }
    }

    @Test(arguments: [1, 5, 31, 64])
    func topKMatchesSorting(_ k: Int) throws {
        var random = TestRandom(seed: UInt64(k))
        let t = random.normal([3, 64])
        let (values, indices) = try t.topK(k)
        for r in 0..<3 {
            let expected = (0..<64).sorted { t.scalars[r * 64 + $0] > t.scalars[r * 64 + $1] }.prefix(k)
            #expect(Array(indices[(r * k)..<((r + 1) * k)]) == Array(expected))
            #expect(values.scalars[r * k] == t.scalars[r * 64 + expected.first!])
        }
        #expect(throws: TensorError.self) { try t.topK(65) }
    }

    @Test func topKBreaksTiesByLowerIndex() throws {
        let t = try Tensor(shape: [1, 6], scalars: [1, 3, 2, 3, 3, 0])
        #expect(try t.topK(2).indices == [1, 3])
    }
}
