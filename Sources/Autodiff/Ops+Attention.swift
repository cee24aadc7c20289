// Attention as a differentiable op.
//
// `attend` mixes value vectors across positions with a pattern: for query head i (which reads
// key/value group i / (h / g), grouped-query attention),
//     out[q, i, :] = Σ_k P[i, q, k] · v[k, group(i), :]
// With the pattern recorded as a constant this is the frozen attention of the local replacement
// model, linear in v; the pullback to v is then a product with Pᵀ per head. The pattern's own
// cotangent is also provided so the op can be checked and used in full attention.

import TensorCore

extension Variable {
    /// Mixes values `self` ([n_k, g, e]) with `pattern` ([h, n_q, n_k]) → [n_q, h, e].
    public func attend(pattern: Variable) throws -> Variable {
        let v = value, p = pattern.value
        guard v.rank == 3, p.rank == 3, p.shape[2] == v.shape[0], p.shape[0] % max(v.shape[1], 1) == 0 else {
            throw TensorError.shapeMismatch(op: "attend (values [n, g, e], pattern [h, n_q, n_k])", lhs: v.shape, rhs: p.shape)
        }
        let geometry = AttentionGeometry(keys: v.shape[0], groups: v.shape[1], headDim: v.shape[2],
                                         heads: p.shape[0], queries: p.shape[1])
        let out = try Attention.mix(pattern: p, values: v)
        return tape.record(out, inputs: [self, pattern], name: "attend") { g, needed in
            let batch = g.shape[0]
            var gv: Tensor? = nil
            var gp: Tensor? = needed[1] ? try Tensor(zeros: [batch] + p.shape) : nil
            if g.count == 0 || geometry.isEmpty { return [gv, gp] }
            if needed[0] { gv = try geometry.valueCotangent(g, pattern: p) }
            if gp != nil {
                // Seeds write disjoint slices of the pattern's cotangent, so they run as parallel tasks.
                g.scalars.withUnsafeBufferPointer { pg in
                    let upstream = SharedPointer(pg)
                    gp!.scalars.withUnsafeMutableBufferPointer { out in
                        let target = SharedPointer(out)
                        Parallel.forChunks(batch) { seeds in
                            for s in seeds { geometry.patternCotangent(upstream, seed: s, values: v, into: target) }
                        }
                    }
                }
            }
            return [gv, gp]
        }
    }

    /// Sets entries above the diagonal of the last two axes ([..., n_q, n_k], query i sees keys
    /// ≤ i + offset) to −∞, so a following softmax gives them zero weight.
    public func causalMasked(offset: Int = 0) throws -> Variable {
        guard shape.count >= 2 else {
            throw TensorError.invalidShape(op: "causalMasked", shape: shape, reason: "needs rank ≥ 2")
        }
        let (nq, nk) = (shape[shape.count - 2], shape[shape.count - 1])
        let mask = try Tensor(shape: [nq, nk], scalars: (0..<(nq * nk)).map { i -> Float in i % nk <= i / nk + offset ? 1 : 0 })
        var y = value
        y.scalars.withUnsafeMutableBufferPointer { x in
            for i in 0..<x.count where mask.scalars[i % (nq * nk)] == 0 { x[i] = -.infinity }
        }
        return tape.record(y, inputs: [self], name: "causalMasked") { g, _ in [try g * mask] }
    }
}

/// Sizes of one attention mix and the strided products of its pullback (the forward is
/// TensorCore's `Attention.mix`).
struct AttentionGeometry: Sendable {
    let keys: Int, groups: Int, headDim: Int, heads: Int, queries: Int
    var headsPerGroup: Int { heads / groups }
    var isEmpty: Bool { keys == 0 || groups == 0 || headDim == 0 || heads == 0 || queries == 0 }

    /// The values' cotangent for every seed at once: gv[s, k, group(i), :] = Σ_i Σ_q P_i[q, k] · g[s, q, i, :].
    /// With g rearranged to [h, q, (s, e)], each head is one product P_iᵀ · G_i, accumulated per group.
    func valueCotangent(_ g: Tensor, pattern p: Tensor) throws -> Tensor {
        let batch = g.shape[0]
        let perHead = try g.permuted([2, 1, 0, 3])                 // [h, n_q, b, e]
        var grouped = try Tensor(zeros: [groups, keys, batch * headDim])
        let width = batch * headDim
        perHead.scalars.withUnsafeBufferPointer { pg in
            p.scalars.withUnsafeBufferPointer { pp in
                grouped.scalars.withUnsafeMutableBufferPointer { out in
                    let (g, pattern, target) = (SharedPointer(pg), SharedPointer(pp), SharedPointer(out))
                    Parallel.forEach(groups) { group in
                        for i in (group * headsPerGroup)..<((group + 1) * headsPerGroup) {
                            BLAS.gemm(transposeA: true, transposeB: false, m: keys, n: width, k: queries,
                                      a: pattern.floats + i * queries * keys, lda: keys,
                                      b: g.floats + i * queries * width, ldb: width,
                                      beta: 1, c: target.floats + group * keys * width, ldc: width)
                        }
                    }
                }
            }
        }
        return try grouped.reshaped([groups, keys, batch, headDim]).permuted([2, 1, 0, 3])   // [b, n_k, g, e]
    }

    /// gp[s, i] = g[s, :, i, :] · V_group(i)ᵀ for every head i.
    func patternCotangent(_ g: SharedPointer, seed s: Int, values v: Tensor, into gp: SharedPointer) {
        if isEmpty { return }
        let gStride = queries * heads * headDim, pStride = heads * queries * keys
        v.scalars.withUnsafeBufferPointer { pv in
            for i in 0..<heads {
                BLAS.gemm(transposeA: false, transposeB: true, m: queries, n: keys, k: headDim,
                          a: g.floats + s * gStride + i * headDim, lda: heads * headDim,
                          b: pv.baseAddress! + (i / headsPerGroup) * headDim, ldb: groups * headDim,
                          c: gp.floats + s * pStride + i * queries * keys, ldc: keys)
            }
        }
    }
}
