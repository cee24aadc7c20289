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
                scores.scalars.withUnsafeBufferPointer { s in
                    for r in range {
                        let row = UnsafeBufferPointer(rebasing: s[(r * v)..<((r + 1) * v)])
                        let (top, bottom, sum) = extremes(row, k)
                        let mean = Float(sum / Double(v))
                        results.set(r, (top.map { TokenScore(token: $0, score: row[$0] - mean) },
                                        bottom.map { TokenScore(token: $0, score: row[$0] - mean) }))
                    }
                }
            }
            out.append(contentsOf: results.values)
        }
        return out
    }
}

/// The indices of the k largest (largest first) and k smallest (smallest first) values of a row,
/// ties to the lower index, and the row's sum: one pass keeping two short sorted lists.
func extremes(_ row: UnsafeBufferPointer<Float>, _ k: Int) -> (top: [Int], bottom: [Int], sum: Double) {
    var topValues = [Float](repeating: -.infinity, count: k), topIndices = [Int](repeating: -1, count: k)
    var bottomValues = [Float](repeating: .infinity, count: k), bottomIndices = [Int](repeating: -1, count: k)
    var sum = 0.0
    for i in 0..<row.count {
        let x = row[i]
        sum += Double(x)
        if x > topValues[k - 1] {
            var j = k - 1
            while j > 0 && x > topValues[j - 1] {
                topValues[j] = topValues[j - 1]
                topIndices[j] = topIndices[j - 1]
                j -= 1
            }
            topValues[j] = x
            topIndices[j] = i
        }
        if x < bottomValues[k - 1] {
            var j = k - 1
            while j > 0 && x < bottomValues[j - 1] {
                bottomValues[j] = bottomValues[j - 1]
                bottomIndices[j] = bottomIndices[j - 1]
                j -= 1
            }
            bottomValues[j] = x
            bottomIndices[j] = i
        }
    }
    return (topIndices.filter { $0 >= 0 }, bottomIndices.filter { $0 >= 0 }, sum)
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
