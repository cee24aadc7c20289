// Direct logit attribution: how much each component writes straight into a logit (or a logit
// difference) at the last position, through the final norm with its scale frozen at the value
// the real run had. The residual stream there is a sum of what each component added,
//
//   x = embed (+ positions) + Σ_l attn_out_l + Σ_l mlp_out_l,
//
// and with the final norm's scale s frozen the (uncapped) logit of a direction u is linear in it:
//
//   RMSNorm:   logit_u = s · Σ_i x_i w_i u_i
//   LayerNorm: logit_u = s · Σ_i (x_i − mean(x)) w_i u_i + Σ_i b_i u_i     (b·u: the "final norm bias")
//
// so each component's share is the same expression on its own vector, and the shares add up to the
// logit exactly (up to rounding). A head's share is its slice of hook_z through its slice of W_O
// (and, for a model with a norm after attention, that norm's frozen scale and weight); the output
// projection's bias, where a model has one, is its own term. The accumulated stream after each
// layer is read the same way (TransformerLens's accumulated_resid with apply_ln). Soft-capped
// models: these are shares of the logit before the cap.

import LanguageModels
import TensorCore

public struct DirectLogitAttribution: Sendable {
    /// The share of the stream before the first block (embedding, scaled, plus learned positions).
    public var embed: Double
    /// [layer]: attention's and the MLP's shares.
    public var attention: [Double], mlp: [Double]
    /// [layer][head]
    public var heads: [[Double]]
    /// [layer]: the attention output projection's bias (zero for models without one).
    public var attentionBias: [Double]
    /// The final norm's bias term (LayerNorm models; zero otherwise).
    public var finalNormBias: Double
    /// [embed, after layer 0, …, after the last layer]: the accumulated stream's share.
    public var accumulated: [Double]
    /// The sum of every share, and the model's own (uncapped) logit or difference, for comparison.
    public var total: Double, logit: Double

    /// Attributes direction `u` ([d]: W_U[a], or W_U[a] − W_U[b]) at the last position of `tokens`.
    public static func run(model: TransformerModel, tokens: [Int], direction u: [Float]) throws -> DirectLogitAttribution {
        guard !tokens.isEmpty else { throw AnalysisError.emptyPrompt }
        let c = model.configuration
        let (n, d, L, h, e) = (tokens.count, c.width, c.layers, c.heads, c.headDimension)
        let run = try model.forward([tokens], cache: .matching { point in
            switch point {
            case .residPre(0), .attnOut, .mlpOut, .attnZ, .attnPostNormScale, .residPost, .finalNormScale: true
            default: false
            }
        }, logits: .none)
        let last = n - 1
        let s = Double(run.cache[.finalNormScale]!.scalars[last])
        let w = model.finalNorm.scalars
        let centred = c.normKind == .layer
        // The share of a vector v: s · Σ (v_i − mean) w_i u_i.
        func share(_ v: ArraySlice<Float>) -> Double {
            let mean = centred ? v.reduce(0.0) { $0 + Double($1) } / Double(d) : 0
            var total = 0.0
            for (i, x) in v.enumerated() { total += (Double(x) - mean) * Double(w[i]) * Double(u[i]) }
            return s * total
        }
        func lastRow(_ point: HookPoint) -> ArraySlice<Float> {
            let t = run.cache[point]!
            let width = t.shape.last!
            return t.scalars[(last * width)..<((last + 1) * width)]
        }
        let embed = share(lastRow(.residPre(layer: 0)))
        let attention = (0..<L).map { share(lastRow(.attnOut(layer: $0))) }
        let mlp = (0..<L).map { share(lastRow(.mlpOut(layer: $0))) }
        var heads = [[Double]](), biases = [Double]()
        for l in 0..<L {
            let weights = model.layers[l]
            let z = Array(lastRow(.attnZ(layer: l)))                                      // [h·e]
            // A norm after attention is linear in its input once its scale is frozen.
            let post: (scale: Float, weight: [Float])? = weights.postAttentionNorm.map {
                (run.cache[.attnPostNormScale(layer: l)]!.scalars[last], $0.scalars)
            }
            var row = [Double]()
            for head in 0..<h {
                var out = [Float](repeating: 0, count: d)                                  // W_O[:, head] · z_head
                for r in 0..<d {
                    var sum: Float = 0
                    for k in 0..<e { sum += weights.output.scalars[r * h * e + head * e + k] * z[head * e + k] }
                    out[r] = post.map { sum * $0.scale * $0.weight[r] } ?? sum
                }
                row.append(share(out[...]))
            }
            heads.append(row)
            biases.append(weights.outputBias.map { share($0.scalars[...]) } ?? 0)
        }
        let finalBias = model.finalNormBias.map { b in zip(b.scalars, u).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } } ?? 0
        let accumulated = [embed + finalBias] + (0..<L).map { share(lastRow(.residPost(layer: $0))) + finalBias }
        let total = embed + attention.reduce(0, +) + mlp.reduce(0, +) + finalBias
        // The model's own value: the final normalised row times u.
        let final = try model.finalNormalized(try Tensor(shape: [1, d], scalars: Array(lastRow(.residPost(layer: L - 1)))))
        let logit = zip(final.scalars, u).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        return DirectLogitAttribution(embed: embed, attention: attention, mlp: mlp, heads: heads, attentionBias: biases,
                                      finalNormBias: finalBias, accumulated: accumulated,
                                      total: total, logit: logit)
    }

    /// The unembedding direction of a metric's tokens: W_U[a] or W_U[a] − W_U[b].
    public static func direction(model: TransformerModel, target a: Int, minus b: Int? = nil) throws -> [Float] {
        let v = model.configuration.vocabularySize, d = model.configuration.width
        for id in [a] + (b.map { [$0] } ?? []) where !(0..<v).contains(id) {
            throw LanguageModelError.tokenOutOfRange(id: id, vocabularySize: v)
        }
        let U = model.unembedding.scalars
        return (0..<d).map { i in U[a * d + i] - (b.map { U[$0 * d + i] } ?? 0) }
    }
}
