// Scaled dot-product attention kernels with grouped-query heads.
//
// Shapes: queries q [n_q, h, e], keys k [n_k, g, e], values v [n_k, g, e], pattern [h, n_q, n_k].
// Query head i reads key/value group i / (h / g). Query row r sits at absolute position
// `queryOffset + r` and sees keys at positions ≤ that (keys start at position 0), which covers
// both a whole prompt (offset 0) and decoding with a KV cache (offset = cached length).
// A sliding window w keeps only the last w of those keys (the query's own included), and a
// soft-cap c maps each score s to c · tanh(s / c) before the softmax (Gemma 2).

import Foundation

public enum Attention {
    /// Causal softmax(q·kᵀ · scale) per head → pattern [h, n_q, n_k]; masked entries are exactly 0.
    public static func pattern(queries q: Tensor, keys k: Tensor, scale: Float, queryOffset: Int = 0,
                               window: Int? = nil, softcap: Float? = nil) throws -> Tensor {
        if let window, window <= 0 { throw TensorError.invalidArgument(op: "attention pattern", reason: "window \(window) must be positive") }
        guard q.rank == 3, k.rank == 3, q.shape[2] == k.shape[2], k.shape[1] > 0, q.shape[1] % k.shape[1] == 0 else {
            throw TensorError.shapeMismatch(op: "attention pattern (queries [n, h, e], keys [n, g, e])", lhs: q.shape, rhs: k.shape)
        }
        let (nq, h, e) = (q.shape[0], q.shape[1], q.shape[2])
        let (nk, g) = (k.shape[0], k.shape[1])
        guard queryOffset >= 0, queryOffset + nq <= nk else {
            throw TensorError.invalidArgument(op: "attention pattern", reason: "queries at \(queryOffset)..<\(queryOffset + nq) need keys up to that position, have \(nk)")
        }
        let perGroup = h / g
        return try Tensor(shape: [h, nq, nk]) { out in
            guard nq > 0, nk > 0 else { return }
            q.scalars.withUnsafeBufferPointer { bq in
            k.scalars.withUnsafeBufferPointer { bk in
            let (po, pq, pk) = (SharedPointer(out), SharedPointer(bq), SharedPointer(bk))
            Parallel.forEach(h) { i in
                let scores = po.floats + i * nq * nk
                // Query blocks only need keys up to their last position (causality).
                for block in stride(from: 0, to: nq, by: Attention.block) {
                    let rows = min(Attention.block, nq - block)
                    let keys = min(nk, queryOffset + block + rows)
                    BLAS.gemm(transposeA: false, transposeB: true, m: rows, n: keys, k: e, alpha: scale,
                              a: pq.floats + (block * h + i) * e, lda: h * e,
                              b: pk.floats + (i / perGroup) * e, ldb: g * e,
                              c: scores + block * nk, ldc: nk)
                }
                for r in 0..<nq {
                    let row = scores + r * nk
                    let visible = queryOffset + r + 1
                    let first = window.map { max(0, visible - $0) } ?? 0
                    if let softcap {
                        for j in first..<visible { row[j] = softcap * Foundation.tanh(row[j] / softcap) }
                    }
                    softmaxRow(row + first, row + first, visible - first)
                    for j in 0..<first { row[j] = 0 }
                    for j in visible..<nk { row[j] = 0 }
                }
            }
            }
            }
        }
    }

    /// out[r, i, :] = Σ_k pattern[i, r, k] · v[k, group(i), :] → [n_q, h, e].
    public static func mix(pattern p: Tensor, values v: Tensor) throws -> Tensor {
        guard p.rank == 3, v.rank == 3, p.shape[2] == v.shape[0], v.shape[1] > 0, p.shape[0] % v.shape[1] == 0 else {
            throw TensorError.shapeMismatch(op: "attention mix (pattern [h, n_q, n_k], values [n_k, g, e])", lhs: p.shape, rhs: v.shape)
        }
        let (h, nq, nk) = (p.shape[0], p.shape[1], p.shape[2])
        let (g, e) = (v.shape[1], v.shape[2])
        let perGroup = h / g
        return try Tensor(shape: [nq, h, e]) { out in
            guard !out.isEmpty else { return }
            guard nk > 0 else { out.initialize(repeating: 0); return }
            p.scalars.withUnsafeBufferPointer { bp in
            v.scalars.withUnsafeBufferPointer { bv in
            let (po, pp, pv) = (SharedPointer(out), SharedPointer(bp), SharedPointer(bv))
            Parallel.forEach(h) { i in
                // Keys past a causal query block have zero weight; the product skips them.
                for block in stride(from: 0, to: nq, by: Attention.block) {
                    let rows = min(Attention.block, nq - block)
                    let keys = min(nk, nk - nq + block + rows)
                    BLAS.gemm(transposeA: false, transposeB: false, m: rows, n: e, k: keys,
                              a: pp.floats + (i * nq + block) * nk, lda: nk,
                              b: pv.floats + (i / perGroup) * e, ldb: g * e,
                              c: po.floats + (block * h + i) * e, ldc: h * e)
                }
            }
            }
            }
        }
    }

    /// Rows per causal block.
    static let block = 64
}
