// Attribution rows by batched reverse mode on the frozen tape (ATTRIBUTION.md §5).
//
// A batch of targets is seeded at once: each target's read vector (W_enc row, or demeaned
// unembedding row) at its site and position, in its own seed row. One backward pass over the
// frozen tape of the batch's longest prefix then gives every row at once; on the way down, the
// cotangent reaching each MLP output is contracted with the decoder vectors of that layer's
// features (one product per position) and with its error vectors, and the cotangent reaching the
// embeddings with the token embeddings. Nodes above the batch's highest target layer are never
// visited, and positions after its last target are never built.

import Autodiff
import TensorCore

/// Targets of one backward pass.
struct TargetBatch {
    /// Layer each target reads at; `layers` of the model means the logits (final norm output).
    var layers: [Int]
    var positions: [Int]
    /// Read vectors [B, d].
    var vectors: Tensor
    var count: Int { layers.count }
}

final class RowComputer: @unchecked Sendable {
    let model: LocalReplacementModel
    /// Columns: every active feature, then errors and tokens (logit columns are all zero).
    let layout: NodeLayout
    private var tapes = [Int: FrozenTape]()

    init(model: LocalReplacementModel, logits: Int) {
        self.model = model
        self.layout = NodeLayout(features: model.activeFeatures.count, layers: model.layers, positions: model.positions, logits: logits)
    }

    var columns: Int { layout.logitStart }

    private func tape(length m: Int) throws -> FrozenTape {
        if let t = tapes[m] { return t }
        let t = try FrozenTape(model, length: m)
        // Keep few tapes: each holds a forward's values.
        if tapes.count >= 4 { tapes.removeAll() }
        tapes[m] = t
        return t
    }

    /// Rows [B, columns] of the batch's targets, written into `out` starting at row `offset`
    /// (out has `columns` columns and is zeroed by the caller).
    func compute(_ batch: TargetBatch, into out: UnsafeMutablePointer<Float>) throws {
        let (b, d) = (batch.count, model.configuration.width)
        let m = (batch.positions.max() ?? 0) + 1
        let frozen = try tape(length: m)
        var seeds = [Int: Tensor]()          // injection node id → [B, m, d]
        for r in 0..<b {
            let node = batch.layers[r] == model.layers ? frozen.finalOutput : frozen.mlpInputs[batch.layers[r]]
            if seeds[node.id] == nil { seeds[node.id] = try Tensor(zeros: [b, m, d]) }
            let base = (r * m + batch.positions[r]) * d
            for j in 0..<d { seeds[node.id]!.scalars[base + j] = batch.vectors.scalars[r * d + j] }
        }
        let nodes = Dictionary(uniqueKeysWithValues: (frozen.mlpInputs + [frozen.finalOutput]).map { ($0.id, $0) })
        var layerOfOutput = [Int: Int]()
        for (l, v) in frozen.mlpOutputs.enumerated() { layerOfOutput[v.id] = l }
        let embeddingId = frozen.embedding.id
        let ldc = columns
        let target = SharedPointer(out)
        try frozen.tape.backward(seeds: seeds.map { (nodes[$0.key]!, $0.value) }, keep: []) { variable, g in
            if let l = layerOfOutput[variable.id] {
                self.contract(g, layer: l, length: m, rows: b, into: target, ldc: ldc)
            } else if variable.id == embeddingId {
                self.contractTokens(g, length: m, rows: b, into: target, ldc: ldc)
            }
        }
    }

    /// Feature and error columns of layer l from the cotangent g [B, m, d] at its MLP output:
    /// every feature writing to l (its own layer's, or every earlier layer's across layers) gets
    /// g · a W_dec[·, l] added to its column, so a cross-layer feature's edge sums its decoders.
    private func contract(_ g: Tensor, layer l: Int, length m: Int, rows b: Int, into out: SharedPointer, ldc: Int) {
        let d = model.configuration.width
        let r = model
        let layout = self.layout
        let (writers, first) = (r.writerLayers[l], r.writerRanges[l].lowerBound)
        g.scalars.withUnsafeBufferPointer { pg in
            r.writeVectors[l].scalars.withUnsafeBufferPointer { dec in
                r.errors[l].scalars.withUnsafeBufferPointer { err in
                    let (gp, dp, ep) = (SharedPointer(pg), SharedPointer(dec), SharedPointer(err))
                    Parallel.forChunks(m) { positions in
                        for p in positions {
                            for s in writers {
                                let range = r.featureRanges[s][p]
                                guard !range.isEmpty else { continue }
                                // A[t, i] += g_t(p) · a_i W_dec[i, l] for the features i at (s, p).
                                BLAS.gemm(transposeA: false, transposeB: true, m: b, n: range.count, k: d,
                                          a: gp.floats + p * d, lda: m * d, b: dp.floats + (range.lowerBound - first) * d, ldb: d,
                                          beta: 1, c: out.floats + range.lowerBound, ldc: ldc)
                            }
                            if p > 0 {
                                BLAS.gemm(transposeA: false, transposeB: true, m: b, n: 1, k: d,
                                          a: gp.floats + p * d, lda: m * d, b: ep.floats + p * d, ldb: d,
                                          c: out.floats + layout.error(layer: l, position: p), ldc: ldc)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Token columns from the cotangent at the embeddings.
    private func contractTokens(_ g: Tensor, length m: Int, rows b: Int, into out: SharedPointer, ldc: Int) {
        let d = model.configuration.width
        let layout = self.layout
        g.scalars.withUnsafeBufferPointer { pg in
            model.embeddings.scalars.withUnsafeBufferPointer { emb in
                for p in 0..<m {
                    BLAS.gemm(transposeA: false, transposeB: true, m: b, n: 1, k: d,
                              a: pg.baseAddress! + p * d, lda: m * d, b: emb.baseAddress! + p * d, ldb: d,
                              c: out.floats + layout.token(position: p), ldc: ldc)
                }
            }
        }
    }
}
