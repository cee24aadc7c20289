// Normalisation layers: fully differentiable versions (for training), and the frozen RMSNorm of
// the local replacement model, where the per-row scale is a cached constant and the op is linear.

import TensorCore

extension Variable {
    /// RMSNorm over the last axis, differentiable in the input and the weight [d].
    public func rmsNorm(weight: Variable, epsilon: Float) throws -> Variable {
        let x = value, w = weight.value
        let (y, scales) = try x.rmsNorm(weight: w, epsilon: epsilon)
        let width = Float(w.count)
        return tape.record(y, inputs: [self, weight], name: "rmsNorm") { g, needed in
            let s = try scales.reshaped(Array(x.shape.dropLast()) + [1])
            let xs = try x * s                                   // x̂ = x · s
            var gx: Tensor? = nil
            if needed[0] {
                // gx = s · (g w − x̂ · mean(g w x̂))
                let gw = try g * w
                let m = try (gw * xs).sum(axis: -1, keepingAxis: true).scaled(by: 1 / width)
                gx = try (gw - (xs * m)) * s
            }
            let gWeight = needed[1] ? try unbroadcast(g * xs, to: w.shape) : nil
            return [gx, gWeight]
        }
    }

    /// RMSNorm with frozen per-row scales ([rows]) and a constant weight ([d]): y = x · s · w.
    /// Linear in x; this is how attribution treats every normalisation.
    public func frozenRMSNorm(scales: Tensor, weight: Tensor?) throws -> Variable {
        let rowShape = Array(shape.dropLast()) + [1]
        guard scales.count == rowShape.elementCount else {
            throw TensorError.shapeMismatch(op: "frozenRMSNorm scales", lhs: shape, rhs: scales.shape)
        }
        let s = try scales.reshaped(rowShape)
        let factor = try weight.map { try s * $0 } ?? s           // [rows..., d] or [rows..., 1]
        return tape.record(try value * factor, inputs: [self], name: "frozenRMSNorm") { g, _ in
            [try g * factor]
        }
    }

    /// LayerNorm with frozen per-row scales ([rows]), a constant weight and bias ([d]):
    /// y = (x − mean(x)) · s · w + b. Affine in x (centring is linear and its own transpose).
    public func frozenLayerNorm(scales: Tensor, weight: Tensor?, bias: Tensor?) throws -> Variable {
        let rowShape = Array(shape.dropLast()) + [1]
        guard scales.count == rowShape.elementCount else {
            throw TensorError.shapeMismatch(op: "frozenLayerNorm scales", lhs: shape, rhs: scales.shape)
        }
        let s = try scales.reshaped(rowShape)
        let factor = try weight.map { try s * $0 } ?? s
        var y = try (value - value.mean(axis: -1, keepingAxis: true)) * factor
        if let bias { y = try y + bias }
        return tape.record(y, inputs: [self], name: "frozenLayerNorm") { g, _ in
            let h = try g * factor
            return [try h - h.mean(axis: -1, keepingAxis: true)]
        }
    }

    /// LayerNorm over the last axis, differentiable in the input, weight and bias ([d] each).
    public func layerNorm(weight: Variable, bias: Variable, epsilon: Float) throws -> Variable {
        let x = value, w = weight.value
        let (y, scales) = try x.layerNorm(weight: w, bias: bias.value, epsilon: epsilon)
        let width = Float(w.count)
        return tape.record(y, inputs: [self, weight, bias], name: "layerNorm") { g, needed in
            let s = try scales.reshaped(Array(x.shape.dropLast()) + [1])
            let centred = try x - x.mean(axis: -1, keepingAxis: true)
            let xhat = try centred * s
            var gx: Tensor? = nil
            if needed[0] {
                // gx = s · (ĝ − mean(ĝ) − x̂ · mean(ĝ x̂)), ĝ = g w
                let gh = try g * w
                let m1 = try gh.sum(axis: -1, keepingAxis: true).scaled(by: 1 / width)
                let m2 = try (gh * xhat).sum(axis: -1, keepingAxis: true).scaled(by: 1 / width)
                gx = try ((gh - m1) - (xhat * m2)) * s
            }
            return [gx,
                    needed[1] ? try unbroadcast(g * xhat, to: w.shape) : nil,
                    needed[2] ? try unbroadcast(g, to: w.shape) : nil]
        }
    }
}
