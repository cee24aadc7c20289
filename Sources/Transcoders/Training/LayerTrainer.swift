// The training state of one layer's transcoder and its optimiser step.
//
// Inputs and outputs are normalised per layer (x' = x·s_x, y' = y·s_y with s = 1/RMS, measured
// on the first batch), so one learning rate suits every layer; the saved transcoder works on raw
// activations (W_enc·s_x, W_dec/s_y, b_dec/s_y).

import Autodiff
import Foundation
import TensorCore

final class LayerTrainer: @unchecked Sendable {
    let layer: Int
    let encoder: Parameter, encoderBias: Parameter, decoder: Parameter, decoderBias: Parameter
    let skip: Parameter?
    /// log θ / `thresholdScale` per feature, for JumpReLU training: the scale lets one Adam
    /// learning rate move thresholds by a useful factor within a short run (an Adam step changes
    /// a parameter by about the learning rate, so log θ moves `thresholdScale` times faster).
    let logThreshold: Parameter?
    static let thresholdScale: Float = 10
    let adam: Adam
    var inputScale: Float = 0
    var outputScale: Float = 0
    /// Moving average of recent BatchTopK cutoffs: the JumpReLU threshold of the saved transcoder.
    var cutoff: Float = 0
    var cutoffSteps = 0
    /// Token count when each feature last fired.
    var lastFired: [Int]
    /// Recent training statistics (exponential moving averages).
    var fvu = 1.0
    var l0 = 0.0
    /// The last step's cutoff, which speeds up the next selection.
    var lastCutoff: Float = 0
    let workspace = TrainingWorkspace()

    var parameters: [Parameter] { [encoder, encoderBias, decoder, decoderBias] + (skip.map { [$0] } ?? []) + (logThreshold.map { [$0] } ?? []) }

    /// How many layers this layer's features write to (1, or L − l for a cross-layer transcoder).
    let span: Int

    /// `span` > 1: the decoder [f, span·d] holds a vector for each layer from this one on, those
    /// after this layer's starting at zero.
    /// `jumpReLU`: learn a threshold per feature (starting at `initialThreshold`).
    init(layer: Int, features f: Int, width d: Int, learningRate: Float, seed: UInt64, skip useSkip: Bool, span: Int = 1,
         jumpReLU: Bool = false, initialThreshold: Float = 0.2) throws {
        self.layer = layer
        self.span = span
        var random = SeededGenerator(seed: seed &+ UInt64(layer) &* 7919)
        // Encoder rows: random unit vectors; decoder rows the same directions at a tenth of the
        // length, so the untrained reconstruction adds little variance (FVU starts near 1).
        var wDec = try Tensor.randomNormal([f, d], using: &random)
        normaliseRows(&wDec, rows: f, width: d)
        encoder = Parameter(wDec, name: "W_enc")
        encoderBias = Parameter(try Tensor(zeros: [f]), name: "b_enc")
        if span == 1 {
            decoder = Parameter(wDec.scaled(by: 0.1), name: "W_dec")
        } else {
            let own = wDec.scaled(by: 0.1)
            var w = try Tensor(zeros: [f, span * d])
            for i in 0..<f { for j in 0..<d { w.scalars[i * span * d + j] = own.scalars[i * d + j] } }
            decoder = Parameter(w, name: "W_dec")
        }
        skip = useSkip ? Parameter(try Tensor(zeros: [d, d]), name: "W_skip") : nil
        decoderBias = Parameter(try Tensor(zeros: [d]), name: "b_dec")
        logThreshold = jumpReLU
            ? Parameter(try Tensor(repeating: Foundation.log(initialThreshold) / Self.thresholdScale, shape: [f]), name: "log_threshold_scaled") : nil
        adam = Adam(learningRate: learningRate)
        lastFired = [Int](repeating: 0, count: f)
    }

    /// Sets the normalisation scales and b_dec from the first batch.
    func calibrate(inputs x: Tensor, outputs y: Tensor) throws {
        inputScale = 1 / max(Float(x.squared().mean()).squareRoot(), 1e-6)
        outputScale = 1 / max(Float(y.squared().mean()).squareRoot(), 1e-6)
        decoderBias.value = try y.scaled(by: outputScale).mean(axis: 0)
    }

    /// One optimiser step on rows x, y ([n, d], raw). Returns the batch FVU.
    @discardableResult
    func step(inputs rawX: Tensor, outputs rawY: Tensor, options: TrainingOptions, learningRate: Float, tokensSeen: Int) throws -> Double {
        let x = rawX.scaled(by: inputScale), y = rawY.scaled(by: outputScale)
        let (n, d) = (y.shape[0], y.shape[1])
        let dead = lastFired.map { tokensSeen - $0 > options.deadAfterTokens }
        // Normalise the squared error by the batch's variance, so the loss reads as an FVU.
        let variance = Double(try (y - y.mean(axis: 0)).squared().sum())
        let tape = Tape()
        let (loss, selection) = try Variable.batchTopKTranscoderLoss(
            input: x, target: y, encoder: tape.parameter(encoder), encoderBias: tape.parameter(encoderBias),
            decoder: tape.parameter(decoder), decoderBias: tape.parameter(decoderBias), skip: skip.map { tape.parameter($0) },
            loss: BatchTopKLoss(k: options.k, auxK: options.auxK, normaliser: Float(Double(n * d) / max(variance, 1e-12)),
                                auxWeight: options.auxWeight),
            dead: dead, cutoffHint: lastCutoff, workspace: workspace)
        lastCutoff = selection.cutoff
        try tape.backward(seeds: [(loss, try Tensor(repeating: 1, shape: [1]))], keep: [])
        adam.learningRate = learningRate
        adam.step(parameters)

        for f in selection.active.features { lastFired[Int(f)] = tokensSeen + n }
        cutoffSteps += 1
        cutoff = cutoffSteps == 1 ? selection.cutoff : 0.95 * cutoff + 0.05 * selection.cutoff
        let batchFVU = Double(selection.fvu)
        fvu = cutoffSteps == 1 ? batchFVU : 0.9 * fvu + 0.1 * batchFVU
        l0 = cutoffSteps == 1 ? selection.active.meanL0 : 0.9 * l0 + 0.1 * selection.active.meanL0
        return batchFVU
    }

    /// One step of an SAE recipe with dense activations on rows x ([n, d], raw; the target is x
    /// itself), then every decoder row back to unit length (the decoder-norm constraint, so the
    /// penalty cannot be dodged by shrinking activations and growing decoders):
    ///   l1:       ReLU features, loss = FVU + λ · Σ_i a_i per token (the classic recipe);
    ///   jumprelu: a = z · H(z − θ) with θ learned, loss = FVU + λ · L0 per token (`JumpReLUOp`).
    @discardableResult
    func stepDense(inputs rawX: Tensor, options: TrainingOptions, learningRate: Float, tokensSeen: Int) throws -> Double {
        let x = rawX.scaled(by: inputScale)
        let (n, d) = (x.shape[0], x.shape[1])
        let f = encoder.value.shape[0]
        let variance = max(Double(try (x - x.mean(axis: 0)).squared().sum()), 1e-12)
        let tape = Tape()
        let z = try tape.constant(x).linear(tape.parameter(encoder), bias: tape.parameter(encoderBias))
        let a: Variable, penalty: Variable
        if let logThreshold {
            let t = tape.parameter(logThreshold)
            let logT = t.scaled(by: Self.thresholdScale)
            a = try z.jumpReLU(logThreshold: logT, bandwidth: options.jumpReLUBandwidth)
            penalty = try z.jumpReLUL0(logThreshold: logT, bandwidth: options.jumpReLUBandwidth).scaled(by: options.sparsityCoefficient)
        } else {
            a = z.relu()
            penalty = a.sumAll().scaled(by: options.sparsityCoefficient / Float(n))
        }
        let reconstruction = try a.linear(tape.parameter(decoder).transposed(), bias: tape.parameter(decoderBias))
        let loss = try reconstruction.meanSquaredError(x).scaled(by: Float(Double(n * d) / variance)) + penalty
        try tape.backward(seeds: [(loss, try Tensor(repeating: 1, shape: [1]))], keep: [])
        adam.learningRate = learningRate
        adam.step(parameters)
        normaliseRows(&decoder.value, rows: f, width: d)
        // Statistics of the rows before the step.
        var active = 0
        a.value.scalars.withUnsafeBufferPointer { p in
            for r in 0..<n { for i in 0..<f where p[r * f + i] != 0 { active += 1; lastFired[i] = tokensSeen + n } }
        }
        let batchFVU = Double(try (reconstruction.value - x).squared().sum()) / variance
        cutoffSteps += 1
        fvu = cutoffSteps == 1 ? batchFVU : 0.9 * fvu + 0.1 * batchFVU
        let batchL0 = Double(active) / Double(n)
        l0 = cutoffSteps == 1 ? batchL0 : 0.9 * l0 + 0.1 * batchL0
        return batchFVU
    }

    /// Statistics after a step taken elsewhere (the joint cross-layer step).
    func record(active: SparseActivations, cutoff selected: Float, fvu batchFVU: Double, tokensSeen: Int, rows n: Int) {
        for f in active.features { lastFired[Int(f)] = tokensSeen + n }
        cutoffSteps += 1
        cutoff = cutoffSteps == 1 ? selected : 0.95 * cutoff + 0.05 * selected
        fvu = cutoffSteps == 1 ? batchFVU : 0.9 * fvu + 0.1 * batchFVU
        l0 = cutoffSteps == 1 ? active.meanL0 : 0.9 * l0 + 0.1 * active.meanL0
    }

    /// Fraction of features that have not fired within the dead window.
    func deadFraction(tokensSeen: Int, window: Int) -> Double {
        Double(lastFired.filter { tokensSeen - $0 > window }.count) / Double(lastFired.count)
    }

    /// The trained transcoder on raw activations, as a JumpReLU with the mean BatchTopK cutoff.
    /// `outputScales[t]`: the output scale of layer t (what each cross-layer decoder is divided by).
    /// `l1`: trained with the L1 recipe, so a ReLU (no threshold).
    func transcoder(outputScales: [Float]? = nil, l1: Bool = false) throws -> Transcoder {
        let f = encoder.value.shape[0], d = encoder.value.shape[1]
        var w = decoder.value.scaled(by: 1 / outputScale)
        if span > 1, let outputScales {
            w = try Tensor(shape: [f, span, d]) { out in
                for i in 0..<f { for k in 0..<span { for j in 0..<d {
                    out[(i * span + k) * d + j] = decoder.value.scalars[(i * span + k) * d + j] / outputScales[layer + k]
                } } }
            }
        }
        return try Transcoder(
            layer: layer, encoder: encoder.value.scaled(by: inputScale), encoderBias: encoderBias.value,
            decoder: w, decoderBias: decoderBias.value.scaled(by: 1 / outputScale),
            skip: skip?.value.scaled(by: inputScale / outputScale),
            activation: l1 ? .relu : .jumpReLU(threshold: try logThreshold.map { $0.value.map { Foundation.exp($0 * Self.thresholdScale) } } ?? Tensor(repeating: cutoff, shape: [f])))
    }
}

/// Scales each row of `w` ([rows, width]) to unit length.
func normaliseRows(_ w: inout Tensor, rows: Int, width d: Int) {
    w.scalars.withUnsafeMutableBufferPointer { p in
        for i in 0..<rows {
            var norm: Float = 0
            for j in 0..<d { norm += p[i * d + j] * p[i * d + j] }
            let inverse = 1 / max(norm.squareRoot(), 1e-8)
            for j in 0..<d { p[i * d + j] *= inverse }
        }
    }
}
