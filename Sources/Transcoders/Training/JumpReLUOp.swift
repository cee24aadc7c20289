// JumpReLU training (Rajamanoharan et al., 2024, "Jumping ahead"): activations a = z · H(z − θ)
// with a learned threshold θ = exp(log θ) per feature, and an L0 penalty Σ_i H(z_i − θ_i). The
// step function has no useful derivative, so θ learns through straight-through pseudo-derivatives
// with a rectangle kernel K(u) = 1[|u| < ½] of bandwidth ε:
//   ∂a/∂z = H(z − θ)                      (the usual gradient where the feature is on)
//   ∂a/∂θ = −(θ / ε) · K((z − θ) / ε)      (only z within ε/2 of the threshold moves it)
//   ∂H(z − θ)/∂θ = −(1 / ε) · K((z − θ) / ε),  and the L0 term passes no gradient to z.
// Both ops take log θ, so the chain rule adds the factor θ.

import Autodiff
import Foundation
import TensorCore

extension Variable {
    /// a = z · H(z − exp(logThreshold)) for z [n, f], logThreshold [f].
    func jumpReLU(logThreshold: Variable, bandwidth: Float) throws -> Variable {
        let z = value, logT = logThreshold.value
        guard z.rank == 2, logT.shape == [z.shape[1]] else {
            throw TensorError.shapeMismatch(op: "jumpReLU", lhs: z.shape, rhs: logT.shape)
        }
        let (n, f) = (z.shape[0], z.shape[1])
        let theta = logT.scalars.map { Foundation.exp($0) }
        var a = z, gate = [Float](repeating: 0, count: n * f), kernel = [Float](repeating: 0, count: n * f)
        for r in 0..<n {
            for i in 0..<f {
                let v = z.scalars[r * f + i], u = (v - theta[i]) / bandwidth
                gate[r * f + i] = v > theta[i] ? 1 : 0
                kernel[r * f + i] = abs(u) < 0.5 ? 1 : 0
                a.scalars[r * f + i] = v * gate[r * f + i]
            }
        }
        return tape.record(a, inputs: [self, logThreshold], name: "jumpReLU") { g, needed in
            let b = g.shape[0]
            var gz: Tensor? = nil, gt: Tensor? = nil
            if needed[0] {
                var out = g
                for s in 0..<b { for k in 0..<(n * f) { out.scalars[s * n * f + k] *= gate[k] } }
                gz = out
            }
            if needed[1] {
                var out = try Tensor(zeros: [b, f])
                for s in 0..<b {
                    for r in 0..<n {
                        for i in 0..<f where kernel[r * f + i] != 0 {
                            // ∂a/∂θ · ∂θ/∂logθ = −(θ/ε) · K · θ
                            out.scalars[s * f + i] -= g.scalars[s * n * f + r * f + i] * theta[i] * theta[i] / bandwidth
                        }
                    }
                }
                gt = out
            }
            return [gz, gt]
        }
    }

    /// The mean over rows of Σ_i H(z_ri − θ_i) (a rank-0 value); its gradient reaches log θ only.
    func jumpReLUL0(logThreshold: Variable, bandwidth: Float) throws -> Variable {
        let z = value, logT = logThreshold.value
        let (n, f) = (z.shape[0], z.shape[1])
        let theta = logT.scalars.map { Foundation.exp($0) }
        var count = 0
        var near = [Float](repeating: 0, count: f)
        for r in 0..<n {
            for i in 0..<f {
                let v = z.scalars[r * f + i]
                if v > theta[i] { count += 1 }
                if abs((v - theta[i]) / bandwidth) < 0.5 { near[i] += 1 }
            }
        }
        let value = Tensor(scalar: Float(count) / Float(max(n, 1)))
        return tape.record(value, inputs: [self, logThreshold], name: "jumpReLUL0") { g, needed in
            guard needed[1] else { return [nil, nil] }
            let b = g.shape[0]
            var out = try Tensor(zeros: [b, f])
            for s in 0..<b {
                for i in 0..<f { out.scalars[s * f + i] = -g.scalars[s] * near[i] / Float(max(n, 1)) / bandwidth * theta[i] }
            }
            return [nil, out]
        }
    }
}
