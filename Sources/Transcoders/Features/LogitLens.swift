// The logit-lens view of what a feature writes: its decoder row pushed straight to the logits,
//
//   s = W_U · (γ ⊙ W_dec[i])        γ: the final norm's weight [d], W_U: the unembedding [v, d]
//   s ← s − mean(s)                  demeaned over the vocabulary
//
// and the tokens with the largest and smallest scores. The final norm's 1/rms is a positive
// number that depends on the residual stream, so it scales the scores but leaves the ranks alone.

import Foundation
import TensorCore

public enum LogitLens {
    /// For every feature of `decoder` ([f, d]): the `count` most promoted and most suppressed
    /// tokens. `finalNorm` is γ [d], `unembedding` W_U [v, d]. Rows go through in chunks so the
    /// [chunk, v] score block stays small.
    public static func tokens(decoder: Tensor, finalNorm: Tensor, unembedding: Tensor, count: Int,
                              chunk: Int = 256) throws -> [(promoted: [TokenScore], suppressed: [TokenScore])] {
        let (f, d) = (decoder.shape[0], decoder.shape[1])
        guard finalNorm.shape == [d], unembedding.rank == 2, unembedding.shape[1] == d else {
            throw TensorError.shapeMismatch(op: "logit lens", lhs: decoder.shape, rhs: unembedding.shape)
        }
        let v = unembedding.shape[0]
        let k = min(count, v)
        var out = [(promoted: [TokenScore], suppressed: [TokenScore])]()
        out.reserveCapacity(f)
        for first in stride(from: 0, to: f, by: chunk) {
            let rows = min(chunk, f - first)
            let scaled = try Tensor(shape: [rows, d]) { buffer in
                decoder.scalars.withUnsafeBufferPointer { w in
                    finalNorm.scalars.withUnsafeBufferPointer { g in
                        for r in 0..<rows {
                            for j in 0..<d { buffer[r * d + j] = w[(first + r) * d + j] * g[j] }
                        }
                    }
                }
            }
            let scores = try Tensor.matmul(scaled, unembedding, transposeB: true)
            let results = ChunkResults(rows)
            Parallel.forChunks(rows) { range in
                var scratch = [Float](), negated = [Float](repeating: 0, count: v)
                scores.scalars.withUnsafeBufferPointer { s in
                    for r in range {
                        let row = UnsafeBufferPointer(rebasing: s[(r * v)..<((r + 1) * v)])
                        var sum = 0.0
                        for x in row { sum += Double(x) }
                        let mean = Float(sum / Double(v))
                        for i in 0..<v { negated[i] = -row[i] }
                        let top = topKIndices(row, k, scratch: &scratch).map { TokenScore(token: $0, score: row[$0] - mean) }
                        let bottom = negated.withUnsafeBufferPointer { topKIndices($0, k, scratch: &scratch) }
                            .map { TokenScore(token: $0, score: row[$0] - mean) }
                        results.set(r, (top, bottom))
                    }
                }
            }
            out.append(contentsOf: results.values)
        }
        return out
    }
}

/// Per-row results written from parallel tasks (disjoint rows).
private final class ChunkResults: @unchecked Sendable {
    private(set) var values: [(promoted: [TokenScore], suppressed: [TokenScore])]
    private let lock = NSLock()
    init(_ count: Int) { values = Array(repeating: ([], []), count: count) }
    func set(_ i: Int, _ value: (promoted: [TokenScore], suppressed: [TokenScore])) {
        lock.lock()
        values[i] = value
        lock.unlock()
    }
}
