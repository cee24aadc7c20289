// One optimiser step of a cross-layer transcoder (CLT): every layer's features trained jointly
// against every layer's MLP output.
//
// For a batch of n rows, with inputs x_s and targets y_t normalised per layer (as the per-layer
// trainer does):
//   z_s = x_s · W_enc_sᵀ + b_enc_s;  a_s = BatchTopK(z_s) (k·n entries over the batch, per layer)
//   ŷ_t = Σ_{s ≤ t} a_s · W_dec[s → t] + b_dec_t (+ x_t · W_skip_tᵀ)
//   L   = (1/L) Σ_t FVU_t + α · AuxK,  FVU_t = ‖ŷ_t − y_t‖² / Σ‖y_t − ȳ_t‖²
// AuxK: each layer's dead features (top-k_aux positive pre-activations per row) reconstruct the
// residual of their own layer's output through their own-layer decoder, as in the per-layer
// trainer. Gradients are formed directly (no tape): through every kept entry
//   ∂L/∂a_si = Σ_t g_t · W_dec[s → t][i]  passes straight to z_si,
// so the backward pass visits only the kept entries and their decoders. Each layer's
// parameters then take their own Adam step.

import Foundation
import TensorCore

enum CrossLayerStep {
    /// One joint step on raw rows (inputs[l], outputs[l]: [n, d]). Returns each layer's batch FVU.
    @discardableResult
    static func step(_ trainers: [LayerTrainer], inputs rawX: [Tensor], outputs rawY: [Tensor], options: TrainingOptions,
                     learningRate: Float, tokensSeen: Int) throws -> [Double] {
        let result = try gradients(trainers, inputs: rawX, outputs: rawY, options: options, tokensSeen: tokensSeen)
        Parallel.forEach(trainers.count) { s in
            let t = trainers[s]
            t.adam.learningRate = learningRate
            t.adam.step(t.parameters)
            t.record(active: result.active[s], cutoff: result.cutoffs[s], fvu: result.fvu[s], tokensSeen: tokensSeen, rows: rawX[0].shape[0])
        }
        return result.fvu
    }

    struct Result {
        /// The main term of the loss, (1/L) Σ_t FVU_t (what finite differences check).
        var loss: Double
        var fvu: [Double]
        var active: [SparseActivations]
        var cutoffs: [Float]
    }

    /// Sets every parameter's gradient of the loss on these rows and returns the loss's parts.
    static func gradients(_ trainers: [LayerTrainer], inputs rawX: [Tensor], outputs rawY: [Tensor], options: TrainingOptions,
                          tokensSeen: Int) throws -> Result {
        let L = trainers.count
        let (n, d) = (rawX[0].shape[0], rawX[0].shape[1])
        let f = trainers[0].encoder.value.shape[0]
        let x = (0..<L).map { rawX[$0].scaled(by: trainers[$0].inputScale) }
        let y = (0..<L).map { rawY[$0].scaled(by: trainers[$0].outputScale) }
        // 1. Encoders and BatchTopK, per layer.
        let active = Slots<SparseActivations>(L), aux = Slots<SparseActivations>(L), cutoffs = Slots<Float>(L)
        let failure = FailureBox()
        Parallel.forEach(L) { s in
            do {
                let t = trainers[s]
                var z = try Tensor.matmul(x[s], t.encoder.value, transposeB: true)
                try z.addRowVector(t.encoderBias.value)
                let dead = t.lastFired.map { tokensSeen - $0 > options.deadAfterTokens }
                let cutoff = batchCutoff(z, keep: max(min(options.k * n, n * f), 1), hint: t.lastCutoff)
                let chosen = selectBatchTopK(z, rows: n, features: f, cutoff: cutoff, dead: dead, auxK: options.auxK)
                (active[s], aux[s], cutoffs[s]) = (chosen.active, chosen.aux, cutoff)
                t.lastCutoff = cutoff
            } catch { failure.record(error) }
        }
        if let error = failure.error { throw error }
        // 2. Reconstructions, errors and their gradients, per target layer.
        let gy = Slots<Tensor>(L), gAux = Slots<Tensor>(L), fvu = Slots<Double>(L)
        Parallel.forEach(L) { t in
            do {
                var reconstruction = try trainers[t].skip.map { try Tensor.matmul(x[t], $0.value, transposeB: true) } ?? Tensor(zeros: [n, d])
                try reconstruction.addRowVector(trainers[t].decoderBias.value)
                var auxiliary = try Tensor(zeros: [n, d])
                reconstruction.scalars.withUnsafeMutableBufferPointer { out in
                    for s in 0...t {
                        let span = L - s, k = t - s
                        trainers[s].decoder.value.scalars.withUnsafeBufferPointer { w in
                            let a = active[s]
                            for r in 0..<n {
                                let o = out.baseAddress! + r * d
                                for e in a.rowStarts[r]..<a.rowStarts[r + 1] {
                                    let v = a.values[e], row = w.baseAddress! + (Int(a.features[e]) * span + k) * d
                                    for j in 0..<d { o[j] += v * row[j] }
                                }
                            }
                        }
                    }
                }
                let own = aux[t], span = L - t
                auxiliary.scalars.withUnsafeMutableBufferPointer { out in
                    trainers[t].decoder.value.scalars.withUnsafeBufferPointer { w in
                        for r in 0..<n {
                            let o = out.baseAddress! + r * d
                            for e in own.rowStarts[r]..<own.rowStarts[r + 1] {
                                let v = own.values[e], row = w.baseAddress! + Int(own.features[e]) * span * d
                                for j in 0..<d { o[j] += v * row[j] }
                            }
                        }
                    }
                }
                let error = try reconstruction - y[t]
                let variance = max(Double(try (y[t] - y[t].mean(axis: 0)).squared().sum()), 1e-12)
                let squared = Double(error.squared().sum())
                fvu[t] = squared / variance
                // ∂L/∂ŷ_t = 2/(L·variance)·(ŷ − y);  ∂L/∂ê_t = 2α/(L·variance)·(ê − r), r = y − ŷ
                let scale = Float(2 / (Double(L) * variance))
                gy[t] = error.scaled(by: scale)
                gAux[t] = try (auxiliary + error).scaled(by: scale * options.auxWeight)
            } catch { failure.record(error) }
        }
        if let error = failure.error { throw error }
        // 3. Gradients of each layer's parameters. Row r of G_s [n, span·d] holds g_s[r], g_{s+1}[r],
        //    …: what the layer's decoders of one feature meet, laid out as its decoder row is, so
        //    each kept entry costs one long dot product and one long update.
        Parallel.forEach(L) { s in
            do {
                let t = trainers[s], span = L - s, width = span * d
                var g = try Tensor(zeros: [n, width])
                g.scalars.withUnsafeMutableBufferPointer { out in
                    for k in 0..<span {
                        gy[s + k].scalars.withUnsafeBufferPointer { src in
                            for r in 0..<n { (out.baseAddress! + r * width + k * d).update(from: src.baseAddress! + r * d, count: d) }
                        }
                    }
                }
                var gEnc = try Tensor(zeros: [f, d]), gBEnc = try Tensor(zeros: [f]), gDec = try Tensor(zeros: [f, width])
                let a = active[s], dead = aux[s], ga = gAux[s]
                x[s].scalars.withUnsafeBufferPointer { px in
                g.scalars.withUnsafeBufferPointer { pg in
                ga.scalars.withUnsafeBufferPointer { pa in
                t.decoder.value.scalars.withUnsafeBufferPointer { w in
                gEnc.scalars.withUnsafeMutableBufferPointer { ge in
                gBEnc.scalars.withUnsafeMutableBufferPointer { gb in
                gDec.scalars.withUnsafeMutableBufferPointer { gd in
                    for r in 0..<n {
                        let xr = px.baseAddress! + r * d, gr = pg.baseAddress! + r * width, gar = pa.baseAddress! + r * d
                        for e in a.rowStarts[r]..<a.rowStarts[r + 1] {
                            let i = Int(a.features[e]), v = a.values[e], offset = i * width
                            let grad = VectorReduce.dot(gr, w.baseAddress! + offset, width)
                            let row = gd.baseAddress! + offset, encoderRow = ge.baseAddress! + i * d
                            for j in 0..<width { row[j] += v * gr[j] }
                            for j in 0..<d { encoderRow[j] += grad * xr[j] }
                            gb[i] += grad
                        }
                        for e in dead.rowStarts[r]..<dead.rowStarts[r + 1] {
                            let i = Int(dead.features[e]), v = dead.values[e], offset = i * width
                            let grad = VectorReduce.dot(gar, w.baseAddress! + offset, d)
                            let row = gd.baseAddress! + offset, encoderRow = ge.baseAddress! + i * d
                            for j in 0..<d { row[j] += v * gar[j]; encoderRow[j] += grad * xr[j] }
                            gb[i] += grad
                        }
                    }
                } } } } } } }
                t.encoder.gradient = gEnc
                t.encoderBias.gradient = gBEnc
                t.decoder.gradient = gDec
                t.decoderBias.gradient = try gy[s].sum(axis: 0)
                if let skip = t.skip { skip.gradient = try Tensor.matmul(gy[s], x[s], transposeA: true) }
            } catch { failure.record(error) }
        }
        if let error = failure.error { throw error }
        let layerFVU = (0..<L).map { fvu[$0] }
        return Result(loss: layerFVU.reduce(0, +) / Double(L), fvu: layerFVU, active: (0..<L).map { active[$0] },
                      cutoffs: (0..<L).map { cutoffs[$0] })
    }
}

/// Results of parallel tasks, one slot per task.
final class Slots<T>: @unchecked Sendable {
    private var items: [T?]
    private let lock = NSLock()
    init(_ count: Int) { items = Array(repeating: nil, count: count) }
    subscript(i: Int) -> T {
        get { lock.lock(); defer { lock.unlock() }; return items[i]! }
        set { lock.lock(); items[i] = newValue; lock.unlock() }
    }
}
