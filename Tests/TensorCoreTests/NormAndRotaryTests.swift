import Foundation
import Testing
import TensorCore
import TestSupport

@Suite struct NormTests {
    @Test func rmsNormMatchesDoubleReference() throws {
        var random = TestRandom(seed: 12)
        let x = random.normal([5, 16], std: 2), w = random.normal([16])
        let (y, scales) = try x.rmsNorm(weight: w, epsilon: 1e-5)
        for r in 0..<5 {
            let row = (0..<16).map { Double(x.scalars[r * 16 + $0]) }
            let s = 1 / (row.reduce(0) { $0 + $1 * $1 } / 16 + 1e-5).squareRoot()
            assertClose(scales.scalars[r], Float(s), rtol: 1e-5, atol: 0)
            for j in 0..<16 {
                assertClose(y.scalars[r * 16 + j], Float(row[j] * s * Double(w.scalars[j])), rtol: 1e-5, atol: 1e-6)
            }
        }
        #expect(throws: TensorError.shapeMismatch(op: "rmsNorm", lhs: [5, 16], rhs: [15])) {
            try x.rmsNorm(weight: Tensor(zeros: [15]), epsilon: 1e-5)
        }
    }

    @Test func layerNormHasZeroMeanUnitVariance() throws {
        var random = TestRandom(seed: 13)
        let x = random.normal([4, 32], std: 3).adding(5)
        let (y, _) = try x.layerNorm(weight: nil, bias: nil, epsilon: 1e-6)
        for r in 0..<4 {
            let row = (0..<32).map { Double(y.scalars[r * 32 + $0]) }
            let mean = row.reduce(0, +) / 32
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 32
            #expect(abs(mean) < 1e-5)
            #expect(abs(variance - 1) < 1e-4)
        }
    }
}

@Suite struct RotaryTests {
    let table = RotaryTable(inverseFrequencies: RotaryTable.inverseFrequencies(base: 10_000, dimension: 8), positions: 32)

    @Test func rotationPreservesNormsAndInverseUndoesIt() throws {
        var random = TestRandom(seed: 14)
        let x = random.normal([6, 2, 8])
        for style in [RotaryStyle.interleaved, .halfSplit] {
            let y = try x.applyingRotary(table, style: style, startPosition: 3)
            for r in 0..<12 {
                let a = (0..<8).reduce(Float(0)) { $0 + x.scalars[r * 8 + $1] * x.scalars[r * 8 + $1] }
                let b = (0..<8).reduce(Float(0)) { $0 + y.scalars[r * 8 + $1] * y.scalars[r * 8 + $1] }
                assertClose(b, a, rtol: 1e-5, atol: 1e-6)
            }
            let back = try y.applyingRotary(table, style: style, startPosition: 3, inverse: true)
            assertClose(back, x, rtol: 1e-5, atol: 1e-6)
        }
    }

    @Test func stylesAgreeUnderTheirPermutation() throws {
        // Interleaved pairs (2i, 2i+1) equal half-split pairs (i, i + e/2) after reordering.
        var random = TestRandom(seed: 15)
        let x = random.normal([4, 1, 8])
        let order = [0, 2, 4, 6, 1, 3, 5, 7]          // interleaved index for each half-split slot
        let permuted = try Tensor(shape: x.shape, scalars: (0..<4).flatMap { p in order.map { x.scalars[p * 8 + $0] } })
        let a = try x.applyingRotary(table, style: .interleaved)
        let b = try permuted.applyingRotary(table, style: .halfSplit)
        let aPermuted = try Tensor(shape: x.shape, scalars: (0..<4).flatMap { p in order.map { a.scalars[p * 8 + $0] } })
        assertClose(b, aPermuted, rtol: 1e-5, atol: 1e-6)
    }

    @Test func scoresDependOnlyOnRelativePosition() throws {
        var random = TestRandom(seed: 16)
        let q = random.normal([1, 1, 8]), k = random.normal([1, 1, 8])
        func score(_ pq: Int, _ pk: Int) throws -> Float {
            let a = try q.applyingRotary(table, style: .halfSplit, startPosition: pq)
            let b = try k.applyingRotary(table, style: .halfSplit, startPosition: pk)
            return zip(a.scalars, b.scalars).reduce(0) { $0 + $1.0 * $1.1 }
        }
        assertClose(try score(10, 7), try score(5, 2), rtol: 1e-4, atol: 1e-5)
        #expect(throws: TensorError.self) { try q.applyingRotary(table, style: .halfSplit, startPosition: 32) }
    }
}
