import Testing
import TensorCore
import TestSupport

@Suite struct TensorShapeTests {
    @Test func initialiserRejectsBadCountsAndShapes() {
        #expect(throws: TensorError.countMismatch(op: "Tensor.init", shape: [2, 3], count: 5)) {
            try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5])
        }
        #expect(throws: TensorError.self) { try Tensor(zeros: [2, -1]) }
        #expect(throws: TensorError.self) { try Tensor(zeros: [Int.max / 2, 4]) }
    }

    @Test func reshapeInfersOneAxisAndChecksCounts() throws {
        let t = try Tensor(shape: [2, 6], scalars: (0..<12).map(Float.init))
        #expect(try t.reshaped([3, -1]).shape == [3, 4])
        #expect(throws: TensorError.shapeMismatch(op: "reshape", lhs: [2, 6], rhs: [5, -1])) { try t.reshaped([5, -1]) }
        #expect(throws: TensorError.self) { try t.reshaped([-1, -1]) }
    }

    @Test func permuteMatchesIndexArithmetic() throws {
        var random = TestRandom()
        let t = random.normal([2, 3, 4, 5])
        let axes = [2, 0, 3, 1]
        let p = try t.permuted(axes)
        #expect(p.shape == [4, 2, 5, 3])
        for a in 0..<2 { for b in 0..<3 { for c in 0..<4 { for d in 0..<5 {
            let source = t.scalars[((a * 3 + b) * 4 + c) * 5 + d]
            let target = p.scalars[((c * 2 + a) * 5 + d) * 3 + b]
            #expect(source == target)
        } } } }
        let back = try p.permuted([1, 3, 0, 2])
        #expect(back == t)
        #expect(throws: TensorError.self) { try t.permuted([0, 0, 1, 2]) }
    }

    @Test func transposeSwapsLastTwoAxes() throws {
        let t = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(try t.transposed() == Tensor(shape: [3, 2], scalars: [1, 4, 2, 5, 3, 6]))
        #expect(throws: TensorError.self) { try Tensor([1, 2]).transposed() }
    }

    @Test func sliceConcatenateAndStackRoundTrip() throws {
        var random = TestRandom()
        let t = random.normal([3, 5, 2])
        let a = try t.slice(axis: 1, 0..<2), b = try t.slice(axis: 1, 2..<5)
        #expect(a.shape == [3, 2, 2] && b.shape == [3, 3, 2])
        #expect(try Tensor.concatenate([a, b], axis: 1) == t)
        #expect(try Tensor.concatenate([a, b], axis: -2) == t)
        #expect(throws: TensorError.self) { try Tensor.concatenate([a, b], axis: 0) }
        #expect(throws: TensorError.self) { try t.slice(axis: 1, 3..<6) }
        #expect(throws: TensorError.axisOutOfRange(op: "slice", axis: 3, rank: 3)) { try t.slice(axis: 3, 0..<1) }
        let stacked = try Tensor.stack([t.row(0), t.row(1), t.row(2)])
        #expect(stacked == t)
        #expect(throws: TensorError.self) { try Tensor.stack([a, b]) }
        #expect(throws: TensorError.self) { try t.row(3) }
    }
}
