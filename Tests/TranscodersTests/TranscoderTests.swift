import Foundation
import Testing
import TensorCore
@testable import Transcoders
import TestSupport

/// Dense reference: activation applied to z, then a · W_dec + b_dec (+ W_skip x).
private func naiveReconstruction(_ t: Transcoder, _ x: Tensor) throws -> (Tensor, [[Int]]) {
    let z = try Tensor.matmul(x, t.encoder, transposeB: true) + t.encoderBias
    let (n, f) = (z.shape[0], z.shape[1])
    var a = z
    var active = [[Int]]()
    for r in 0..<n {
        let row = Array(z.scalars[(r * f)..<((r + 1) * f)])
        var keep = Set<Int>()
        switch t.activation {
        case .relu: keep = Set((0..<f).filter { row[$0] > 0 })
        case .jumpReLU(let theta): keep = Set((0..<f).filter { row[$0] > theta.scalars[$0] })
        case .topK(let k): keep = Set((0..<f).sorted { row[$0] > row[$1] }.prefix(k).filter { row[$0] > 0 })
        }
        for i in 0..<f where !keep.contains(i) { a.scalars[r * f + i] = 0 }
        active.append(keep.sorted())
    }
    var y = try Tensor.matmul(a, try t.decoder) + t.decoderBias
    if let skip = t.skip { y = try y + Tensor.matmul(x, skip, transposeB: true) }
    return (y, active)
}

@Suite struct TranscoderTests {
    @Test(arguments: ["relu", "jumprelu", "topk", "skip"])
    func encodeAndDecodeMatchTheDenseDefinition(_ kind: String) throws {
        var random = TestRandom(seed: 70)
        let threshold = random.uniform([12], 0, 0.5)
        let set = try TinyTranscoders.random(layers: 1, width: 6, features: 12, activation: { _ in
            kind == "jumprelu" ? .jumpReLU(threshold: threshold) : kind == "topk" ? .topK(k: 3) : .relu
        }, skip: kind == "skip")
        let x = random.normal([5, 6])
        let (expected, active) = try naiveReconstruction(try set[0], x)
        let sparse = try set[0].encode(x)
        #expect((0..<5).map { r in sparse.row(r).map(\.feature) } == active)
        assertClose(try set[0].decode(sparse, input: x), expected, rtol: 1e-5, atol: 1e-5)
        if kind == "skip" { let t = try set[0]; #expect(throws: TranscoderError.self) { try t.decode(sparse) } }
    }

    @Test func shapesAreCheckedOnConstruction() throws {
        var random = TestRandom(seed: 71)
        #expect(throws: TranscoderError.self) {
            try Transcoder(layer: 0, encoder: random.normal([4, 3]), encoderBias: random.normal([5]), decoder: random.normal([4, 3]),
                           decoderBias: random.normal([3]), activation: .relu)
        }
        #expect(throws: TranscoderError.self) {
            try Transcoder(layer: 0, encoder: random.normal([4, 3]), encoderBias: random.normal([4]), decoder: random.normal([4, 3]),
                           decoderBias: random.normal([3]), activation: .topK(k: 9))
        }
    }
}
