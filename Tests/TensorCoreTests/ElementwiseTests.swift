import Testing
import TensorCore
import TestSupport

/// Broadcasting reference: index arithmetic written independently of the library's strides.
private func naiveBroadcast(_ a: Tensor, _ b: Tensor, _ op: (Float, Float) -> Float) -> Tensor {
    let rank = max(a.rank, b.rank)
    let sa = [Int](repeating: 1, count: rank - a.rank) + a.shape
    let sb = [Int](repeating: 1, count: rank - b.rank) + b.shape
    let out = (0..<rank).map { max(sa[$0], sb[$0]) }
    var values = [Float]()
    for flat in 0..<out.elementCount {
        var rest = flat, ia = 0, ib = 0, strideA = 1, strideB = 1
        for axis in (0..<rank).reversed() {
            let i = rest % out[axis]; rest /= out[axis]
            ia += (sa[axis] == 1 ? 0 : i) * strideA; strideA *= sa[axis]
            ib += (sb[axis] == 1 ? 0 : i) * strideB; strideB *= sb[axis]
        }
        values.append(op(a.scalars[ia], b.scalars[ib]))
    }
    return try! Tensor(shape: out, scalars: values)
}

@Suite struct ElementwiseTests {
    @Test(arguments: [
        ([4, 5], [4, 5]), ([4, 5], [5]), ([4, 5], [4, 1]), ([4, 5], [1]), ([3, 1, 5], [4, 1]),
        ([2, 3, 4], [3, 4]), ([1], [2, 3]), ([5], [3, 1]), ([2, 1, 3], [2, 4, 1]),
    ])
    func broadcastingMatchesReference(_ shapes: ([Int], [Int])) throws {
        var random = TestRandom(seed: UInt64(shapes.0.elementCount * 31 + shapes.1.elementCount))
        let a = random.normal(shapes.0), b = random.uniform(shapes.1, 0.5, 2)
        assertClose(try a + b, naiveBroadcast(a, b, +), rtol: 0, atol: 0)
        assertClose(try a - b, naiveBroadcast(a, b, -), rtol: 0, atol: 0)
        assertClose(try a * b, naiveBroadcast(a, b, *), rtol: 0, atol: 0)
        assertClose(try a / b, naiveBroadcast(a, b, /), rtol: 0, atol: 0)
        assertClose(try b * a, naiveBroadcast(b, a, *), rtol: 0, atol: 0)
    }

    @Test func incompatibleShapesNameBoth() {
        let a = try! Tensor(zeros: [4, 5]), b = try! Tensor(zeros: [4])
        #expect(throws: TensorError.shapeMismatch(op: "add", lhs: [4, 5], rhs: [4])) { try a + b }
        var c = a
        #expect(throws: TensorError.shapeMismatch(op: "add in place", lhs: [4, 5], rhs: [4])) { try c.add(b) }
    }

    @Test func inPlaceAddScales() throws {
        var a = Tensor([1, 2, 3])
        try a.add(Tensor([1, 1, 1]), scaledBy: 2)
        #expect(a == Tensor([3, 4, 5]))
    }
}
