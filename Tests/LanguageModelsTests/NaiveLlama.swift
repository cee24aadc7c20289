// An independent reference forward pass for tiny models: plain loops in Double, written from
// the Hugging Face definition (half-split RoPE), sharing no code with LanguageModels.

import Foundation
import TensorCore
import TestSupport

struct NaiveLlama {
    let spec: TinyModelSpec
    let w: [String: [Double]]

    init(_ model: TinyModel) {
        spec = model.spec
        w = model.weights.mapValues { $0.scalars.map(Double.init) }
    }

    private func rms(_ x: [Double], _ weight: [Double]) -> [Double] {
        let s = 1 / (x.reduce(0) { $0 + $1 * $1 } / Double(x.count) + Double(spec.rmsEpsilon)).squareRoot()
        return x.indices.map { x[$0] * s * weight[$0] }
    }

    /// y = W x (+ b) with W [out, in].
    private func linear(_ name: String, _ x: [Double], out: Int, bias: String? = nil) -> [Double] {
        let m = w[name]!
        let b: [Double]? = bias.flatMap { w[$0] }
        var y = [Double](repeating: 0, count: out)
        for o in 0..<out {
            var total: Double = b?[o] ?? 0
            for i in 0..<x.count { total += m[o * x.count + i] * x[i] }
            y[o] = total
        }
        return y
    }

    private func rotate(_ v: [Double], position: Int) -> [Double] {
        let e = spec.headDimension
        var frequencies = (0..<(e / 2)).map { 1 / pow(spec.ropeBase, Double(2 * $0) / Double(e)) }
        if let s = spec.llama3Scaling { frequencies = TinyModel.llama3Frequencies(frequencies, s) }
        var out = v
        for i in 0..<(e / 2) {
            let angle = Double(position) * frequencies[i]
            out[i] = v[i] * cos(angle) - v[i + e / 2] * sin(angle)
            out[i + e / 2] = v[i] * sin(angle) + v[i + e / 2] * cos(angle)
        }
        return out
    }

    /// Logits [n][v] for `tokens`; `patch(layer, position)` may replace resid_pre there.
    func logits(_ tokens: [Int], patch: (Int, Int) -> [Double]? = { _, _ in nil }) -> [[Double]] {
        let (d, h, g, e, m, v) = (spec.width, spec.heads, spec.keyValueHeads, spec.headDimension, spec.mlpWidth, spec.vocabularySize)
        let embedding = w["model.embed_tokens.weight"]!
        var x = tokens.map { Array(embedding[($0 * d)..<(($0 + 1) * d)]) }
        for l in 0..<spec.layers {
            let p = "model.layers.\(l)."
            for i in x.indices { if let replacement = patch(l, i) { x[i] = replacement } }
            let a = x.map { rms($0, w[p + "input_layernorm.weight"]!) }
            var qs = [[[Double]]](), ks = [[[Double]]](), vs = [[[Double]]]()
            for (i, ai) in a.enumerated() {
                let q = linear(p + "self_attn.q_proj.weight", ai, out: h * e, bias: p + "self_attn.q_proj.bias")
                let k = linear(p + "self_attn.k_proj.weight", ai, out: g * e, bias: p + "self_attn.k_proj.bias")
                let value = linear(p + "self_attn.v_proj.weight", ai, out: g * e, bias: p + "self_attn.v_proj.bias")
                var qh = (0..<h).map { Array(q[($0 * e)..<(($0 + 1) * e)]) }
                var kh = (0..<g).map { Array(k[($0 * e)..<(($0 + 1) * e)]) }
                if spec.queryKeyNorm {
                    qh = qh.map { rms($0, w[p + "self_attn.q_norm.weight"]!) }
                    kh = kh.map { rms($0, w[p + "self_attn.k_norm.weight"]!) }
                }
                qs.append(qh.map { rotate($0, position: i) })
                ks.append(kh.map { rotate($0, position: i) })
                vs.append((0..<g).map { Array(value[($0 * e)..<(($0 + 1) * e)]) })
            }
            for i in x.indices {
                var z = [Double]()
                for head in 0..<h {
                    let group = head / (h / g)
                    let scores: [Double] = (0...i).map { j in
                        var dot = 0.0
                        for c in 0..<e { dot += qs[i][head][c] * ks[j][group][c] }
                        return dot / Double(e).squareRoot()
                    }
                    let peak = scores.max()!
                    let weights = scores.map { exp($0 - peak) }
                    let total = weights.reduce(0, +)
                    for c in 0..<e {
                        var mixed = 0.0
                        for j in 0...i { mixed += weights[j] / total * vs[j][group][c] }
                        z.append(mixed)
                    }
                }
                let o = linear(p + "self_attn.o_proj.weight", z, out: d)
                x[i] = zip(x[i], o).map(+)
            }
            for i in x.indices {
                let u = rms(x[i], w[p + "post_attention_layernorm.weight"]!)
                let gate = linear(p + "mlp.gate_proj.weight", u, out: m)
                let up = linear(p + "mlp.up_proj.weight", u, out: m)
                let hidden = zip(gate, up).map { $0 / (1 + exp(-$0)) * $1 }
                x[i] = zip(x[i], linear(p + "mlp.down_proj.weight", hidden, out: d)).map(+)
            }
        }
        let head = w["lm_head.weight"] ?? embedding
        return x.map { xi in
            let f = rms(xi, w["model.norm.weight"]!)
            return (0..<v).map { t in
                var total = 0.0
                for c in 0..<d { total += head[t * d + c] * f[c] }
                return total
            }
        }
    }
}
