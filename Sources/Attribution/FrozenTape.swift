// The local replacement model recorded on an Autodiff tape, over the first m positions.
//
// Per layer l (every pattern, scale and weight is a constant):
//   a     = x ⊙ s_attn ⊙ w_attn                      frozen RMSNorm
//   o     = attend(a · W_vᵀ (+ b_v), P_l) · W_oᵀ      attention with the pattern frozen
//   mid   = x + o
//   u     = mid ⊙ s_mlp ⊙ w_mlp                      feature targets read here (mlp.hook_in)
//   x     = mid + y_l (+ u · W_skipᵀ)                y_l: a leaf whose cotangent is the gradient
//                                                    at the MLP output, where sources write
// then f = x ⊙ s_final ⊙ w_final, where logit targets read. Because attention is causal, the
// first m positions of this computation do not depend on later positions: a batch of targets at
// positions < m needs only this prefix.

import Autodiff
import TensorCore

struct FrozenTape {
    let tape: Tape
    let length: Int
    /// Token embeddings [m, d] (token sources read their gradient here).
    let embedding: Variable
    /// Per layer: the MLP input u [m, d] (feature targets inject here).
    let mlpInputs: [Variable]
    /// Per layer: the MLP output leaf [m, d] (feature and error sources read their gradient here).
    let mlpOutputs: [Variable]
    /// The final norm's output [m, d] (logit targets inject here).
    let finalOutput: Variable

    /// Which sources the tape's leaves hold: all of them (the real forward values), none (token
    /// embeddings, feature writes and errors all zero: the part of every activation that no node
    /// carries), or only the writes of some active features (those a budget left out of a graph,
    /// so the values are what no node of that graph carries).
    enum Sources { case all, none, features(Set<Int>) }

    init(_ r: LocalReplacementModel, length m: Int, sources: Sources = .all) throws {
        let c = r.configuration
        let (d, g, e, h) = (c.width, c.keyValueHeads, c.headDimension, c.heads)
        let tape = Tape()
        func prefix(_ t: Tensor) throws -> Tensor { m == r.positions ? t : try t.slice(axis: 0, 0..<m) }
        var all = false
        if case .all = sources { all = true }
        let embedding = tape.input(all ? try prefix(r.embeddings) : try Tensor(zeros: [m, d]), name: "embedding")
        var x = embedding
        var inputs = [Variable](), outputs = [Variable]()
        for l in 0..<c.layers {
            let a = try x.frozenRMSNorm(scales: prefix(r.attentionScales[l]), weight: r.attentionNormWeights[l])
            var v = try a.linear(tape.constant(r.valueWeights[l]))
            if let bias = r.valueBiases[l] { v = try v + tape.constant(bias) }
            var pattern = r.patterns[l]
            if m < r.positions { pattern = try pattern.slice(axis: 1, 0..<m).slice(axis: 2, 0..<m) }
            let mixed = try v.reshaped([m, g, e]).attend(pattern: tape.constant(pattern))
            let o = try mixed.reshaped([m, h * e]).linear(tape.constant(r.outputWeights[l]))
            let mid = try x + o
            let u = try mid.frozenRMSNorm(scales: prefix(r.mlpScales[l]), weight: r.mlpNormWeights[l])
            // The leaf holds the part of the MLP output that is not the skip term, so the
            // tape's forward values equal the real forward pass.
            let leaf: Tensor = switch sources {
            case .all: try prefix(r.constants[l]) + prefix(r.sourceOutputs(layer: l))
            case .none: try prefix(r.constants[l])
            case let .features(kept): try prefix(r.constants[l]) + prefix(r.sourceOutputs(layer: l, errors: false, only: kept))
            }
            let y = tape.input(leaf, name: "mlp_out \(l)")
            var next = try mid + y
            if let skip = r.skips[l] { next = try next + u.linear(tape.constant(skip)) }
            inputs.append(u)
            outputs.append(y)
            x = next
        }
        finalOutput = try x.frozenRMSNorm(scales: prefix(r.finalScales), weight: r.finalNormWeight)
        self.tape = tape
        self.length = m
        self.embedding = embedding
        self.mlpInputs = inputs
        self.mlpOutputs = outputs
    }
}

extension LocalReplacementModel {
    /// Σ of the sources written at each position of layer l: features' a·W_dec plus the error [n, d]
    /// (without the error, or only the features of `only`, when asked).
    func sourceOutputs(layer l: Int, errors withErrors: Bool = true, only: Set<Int>? = nil) throws -> Tensor {
        var out = withErrors ? errors[l] : try Tensor(zeros: errors[l].shape)
        let d = configuration.width
        for p in 0..<positions {
            for i in featureRanges[l][p] where only?.contains(i) ?? true {
                for j in 0..<d { out.scalars[p * d + j] += decoderVectors.scalars[i * d + j] }
            }
        }
        return out
    }
}
