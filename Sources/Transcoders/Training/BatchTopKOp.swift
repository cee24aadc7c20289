// The training loss of a BatchTopK transcoder as one Autodiff op, with a sparse pullback.
//
// Forward, for a batch of n rows x [n, d] (normalised MLP inputs) and targets y [n, d]:
//   z  = x · W_encᵀ + b_enc                             dense [n, f]
//   keep the k·n largest positive z over the whole batch (BatchTopK; the smallest kept value is
//   the batch's cutoff), a = z on kept entries
//   ŷ  = a · W_dec + b_dec (+ x · W_skipᵀ)              the reconstruction
//   ê  = Σ_{j ∈ aux(r)} z_rj · W_dec[j]                 AuxK: each row's top-k_aux positive
//                                                       pre-activations among dead features
//   L  = c · mean((ŷ − y)²) + c·α · mean((ê − r)²)      r = y − ŷ held constant; c normalises
//                                                       the first term to the FVU
// The pullback forms ∂L/∂ŷ and ∂L/∂ê directly and visits only kept and aux entries (k of f per
// row), so the backward pass costs a small fraction of the dense encoder product. Gradients
// reach W_enc, b_enc, W_dec, b_dec and W_skip (one dense product); x and y are data.

import Autodiff
import TensorCore

/// Reusable memory for the pre-activations of a training step ([n, f] can exceed 30 MB, which
/// would otherwise be mapped and zeroed afresh by the system on every step).
final class TrainingWorkspace: @unchecked Sendable {
    var preactivations: Tensor?
}

/// The cutoff of BatchTopK: the `keep`-th largest of `z`, and at least 0. Scans only the entries
/// above half of `hint` (the previous step's cutoff) when there are enough of them, which gives
/// the same answer as scanning everything.
func batchCutoff(_ z: Tensor, keep: Int, hint: Float) -> Float {
    if hint > 0 {
        let floor = hint * 0.5
        var candidates = [Float]()
        candidates.reserveCapacity(keep * 2)
        z.scalars.withUnsafeBufferPointer { p in for v in p where v > floor { candidates.append(v) } }
        if candidates.count >= keep { return max(selectLargest(&candidates, rank: keep), 0) }
    }
    var all = z.scalars
    return max(selectLargest(&all, rank: keep), 0)
}

/// What one forward chose, kept for the pullback and for statistics.
struct BatchTopKSelection: Sendable {
    let active: SparseActivations
    let aux: SparseActivations
    /// The smallest kept pre-activation (the batch threshold).
    let cutoff: Float
    /// The first loss term alone: the batch's fraction of variance unexplained.
    let fvu: Float
}

/// The coefficients of the loss.
struct BatchTopKLoss {
    var k: Int
    var auxK: Int
    /// c: scales the mean squared error to the FVU (n·d / Σ‖y − ȳ‖²).
    var normaliser: Float
    /// α: weight of the AuxK term.
    var auxWeight: Float
}

extension Variable {
    static func batchTopKTranscoderLoss(
        input x: Tensor, target y: Tensor, encoder: Variable, encoderBias: Variable, decoder: Variable,
        decoderBias: Variable, skip: Variable? = nil, loss: BatchTopKLoss, dead: [Bool],
        cutoffHint: Float = 0, workspace: TrainingWorkspace? = nil
    ) throws -> (loss: Variable, selection: BatchTopKSelection) {
        let tape = encoder.tape
        let (n, d) = (x.shape[0], x.shape[1])
        let f = encoder.shape[0]
        guard y.shape == x.shape, decoder.shape == [f, d] else {
            throw TensorError.shapeMismatch(op: "batchTopKTranscoderLoss", lhs: x.shape, rhs: y.shape)
        }
        let wDec = decoder.value
        var z = workspace?.preactivations?.shape == [n, f] ? workspace!.preactivations! : try Tensor(zeros: [n, f])
        workspace?.preactivations = nil                      // hand the buffer over (no copy on write)
        try Tensor.gemm(x, encoder.value, transposeB: true, into: &z)
        try z.addRowVector(encoderBias.value)
        defer { workspace?.preactivations = z }

        // BatchTopK: the cutoff is the (k·n)-th largest pre-activation, and only positive ones count.
        let cutoff = batchCutoff(z, keep: max(min(loss.k * n, n * f), 1), hint: cutoffHint)
        let (active, aux) = selectBatchTopK(z, rows: n, features: f, cutoff: cutoff, dead: dead, auxK: loss.auxK)

        // ŷ − y and ê − r, where r = y − ŷ.
        var reconstruction = try skip.map { try Tensor.matmul(x, $0.value, transposeB: true) } ?? Tensor(zeros: [n, d])
        try reconstruction.addRowVector(decoderBias.value)
        var auxiliary = try Tensor(zeros: [n, d])
        wDec.scalars.withUnsafeBufferPointer { w in
            reconstruction.scalars.withUnsafeMutableBufferPointer { yh in
                auxiliary.scalars.withUnsafeMutableBufferPointer { e in
                    for r in 0..<n {
                        accumulate(active, row: r, decoder: w.baseAddress!, width: d, into: yh.baseAddress! + r * d)
                        accumulate(aux, row: r, decoder: w.baseAddress!, width: d, into: e.baseAddress! + r * d)
                    }
                }
            }
        }
        let error = try reconstruction - y
        let auxError = try auxiliary + error                    // ê − r = ê − (y − ŷ)
        let scale = loss.normaliser / Float(n * d)
        let mainTerm = error.squared().sum() * scale
        let auxTerm = auxError.squared().sum() * scale * loss.auxWeight
        let selection = BatchTopKSelection(active: active, aux: aux, cutoff: cutoff, fvu: mainTerm)

        let inputs = [encoder, encoderBias, decoder, decoderBias] + (skip.map { [$0] } ?? [])
        // The pullback must not capture a Variable: it holds its tape, and the tape holds the pullback.
        let hasSkip = skip != nil
        let variable = tape.record(Tensor(scalar: mainTerm + auxTerm), inputs: inputs, name: "batchTopKTranscoderLoss") { g, needed in
            let seeds = g.shape[0]
            var gWEnc = try Tensor(zeros: [seeds, f, d]), gBEnc = try Tensor(zeros: [seeds, f])
            var gWDec = try Tensor(zeros: [seeds, f, d]), gBDec = try Tensor(zeros: [seeds, d])
            var gSkip: Tensor? = hasSkip && needed.count > 4 && needed[4] ? try Tensor(zeros: [seeds, d, d]) : nil
            for s in 0..<seeds {
                // ∂L/∂ŷ = 2c/(nd)·(ŷ − y);  ∂L/∂ê = 2cα/(nd)·(ê − r)
                let seed = g.scalars[s]
                let gy = error.scaled(by: 2 * scale * seed), ge = auxError.scaled(by: 2 * scale * loss.auxWeight * seed)
                backpropagate(gy: gy, ge: ge, x: x, decoder: wDec, active: active, aux: aux, seed: s,
                              gWEnc: &gWEnc, gBEnc: &gBEnc, gWDec: &gWDec, gBDec: &gBDec)
                if gSkip != nil {
                    // ∂L/∂W_skip = ∂L/∂ŷᵀ · x: [d, n] · [n, d]
                    let product = try Tensor.matmul(gy, x, transposeA: true)
                    gSkip!.scalars.replaceSubrange((s * d * d)..<((s + 1) * d * d), with: product.scalars)
                }
            }
            var grads: [Tensor?] = [needed[0] ? gWEnc : nil, needed[1] ? gBEnc : nil, needed[2] ? gWDec : nil, needed[3] ? gBDec : nil]
            if hasSkip { grads.append(gSkip) }
            return grads
        }
        return (variable, selection)
    }
}

/// Kept entries (above the cutoff) and each row's AuxK entries among dead features.
func selectBatchTopK(_ z: Tensor, rows n: Int, features f: Int, cutoff: Float, dead: [Bool], auxK: Int)
    -> (active: SparseActivations, aux: SparseActivations) {
    var starts = [0], features = [Int32](), values = [Float]()
    var auxStarts = [0], auxFeatures = [Int32](), auxValues = [Float]()
    let anyDead = auxK > 0 && dead.contains(true)
    var row = [Float]()
    z.scalars.withUnsafeBufferPointer { pz in
        for r in 0..<n {
            let zr = pz.baseAddress! + r * f
            // The cutoff is the (k·n)-th largest value itself, so it is kept (when positive).
            if cutoff > 0 {
                for i in 0..<f where zr[i] >= cutoff { features.append(Int32(i)); values.append(zr[i]) }
            } else {
                for i in 0..<f where zr[i] > 0 { features.append(Int32(i)); values.append(zr[i]) }
            }
            starts.append(features.count)
            if anyDead {
                var candidates = [(Float, Int32)]()
                for i in 0..<f where dead[i] && zr[i] > 0 { candidates.append((zr[i], Int32(i))) }
                if candidates.count > auxK {
                    row = candidates.map(\.0)
                    let floor = selectLargest(&row, rank: auxK)
                    candidates = Array(candidates.filter { $0.0 >= floor }.prefix(auxK))
                }
                for (v, i) in candidates { auxFeatures.append(i); auxValues.append(v) }
            }
            auxStarts.append(auxFeatures.count)
        }
    }
    return (SparseActivations(rows: n, width: f, rowStarts: starts, features: features, values: values),
            SparseActivations(rows: n, width: f, rowStarts: auxStarts, features: auxFeatures, values: auxValues))
}

/// out += Σ_{(i, a) in row r} a · W_dec[i]
@inline(__always)
private func accumulate(_ sparse: SparseActivations, row r: Int, decoder w: UnsafePointer<Float>, width d: Int,
                        into out: UnsafeMutablePointer<Float>) {
    for t in sparse.rowStarts[r]..<sparse.rowStarts[r + 1] {
        let v = sparse.values[t], wi = w + Int(sparse.features[t]) * d
        for j in 0..<d { out[j] += v * wi[j] }
    }
}

/// Adds the sparse part of the gradient for one seed: through every kept and aux entry,
/// ∂/∂a_i = g · W_dec[i] flows unchanged to z_i (the selection passes kept entries straight through).
private func backpropagate(
    gy: Tensor, ge: Tensor, x: Tensor, decoder: Tensor, active: SparseActivations, aux: SparseActivations, seed s: Int,
    gWEnc: inout Tensor, gBEnc: inout Tensor, gWDec: inout Tensor, gBDec: inout Tensor
) {
    let (n, d) = (x.shape[0], x.shape[1])
    let f = decoder.shape[0]
    gy.scalars.withUnsafeBufferPointer { pgy in
    ge.scalars.withUnsafeBufferPointer { pge in
    x.scalars.withUnsafeBufferPointer { px in
    decoder.scalars.withUnsafeBufferPointer { w in
    gWEnc.scalars.withUnsafeMutableBufferPointer { ge2 in
    gBEnc.scalars.withUnsafeMutableBufferPointer { gbe in
    gWDec.scalars.withUnsafeMutableBufferPointer { gd in
    gBDec.scalars.withUnsafeMutableBufferPointer { gbd in
        let (encoderRows, decoderRows) = (ge2.baseAddress! + s * f * d, gd.baseAddress! + s * f * d)
        let (encoderBias, decoderBias) = (gbe.baseAddress! + s * f, gbd.baseAddress! + s * d)
        for r in 0..<n {
            let xr = px.baseAddress! + r * d
            let targets = [(active, pgy.baseAddress! + r * d), (aux, pge.baseAddress! + r * d)]
            for j in 0..<d { decoderBias[j] += targets[0].1[j] }
            for (sparse, g) in targets {
                for t in sparse.rowStarts[r]..<sparse.rowStarts[r + 1] {
                    let i = Int(sparse.features[t]), a = sparse.values[t]
                    let ga = VectorReduce.dot(g, w.baseAddress! + i * d, d)
                    let decoderRow = decoderRows + i * d, encoderRow = encoderRows + i * d
                    for j in 0..<d { decoderRow[j] += a * g[j] }
                    for j in 0..<d { encoderRow[j] += ga * xr[j] }
                    encoderBias[i] += ga
                }
            }
        }
    } } } } } } } }
}
