// Element-wise nonlinearities. The pullback multiplies the cotangent by f'(x), broadcasting the
// derivative over the seed batch.

import TensorCore

extension Variable {
    /// Records y = f(x) whose pullback is g · f'(x), with f'(x) computed once in the forward.
    /// The derivative is computed only when a gradient can flow.
    private func unary(_ name: String, _ y: Tensor, derivative: @autoclosure () -> Tensor) -> Variable {
        guard requiresGradient else { return tape.constant(y, name: name) }
        let d = derivative()
        return tape.record(y, inputs: [self], name: name) { g, _ in [try g * d] }
    }

    public func relu() -> Variable {
        unary("relu", value.relu(), derivative: value.map { $0 > 0 ? 1 : 0 })
    }

    public func silu() -> Variable {
        // d/dx x·σ(x) = σ(x) · (1 + x · (1 − σ(x)))
        unary("silu", value.silu(), derivative: value.map { x in
            let s = fastSigmoid(x)
            return s * (1 + x * (1 - s))
        })
    }

    public func sigmoid() -> Variable {
        let y = value.sigmoid()
        return unary("sigmoid", y, derivative: y.map { $0 * (1 - $0) })
    }

    public func tanh() -> Variable {
        let y = value.tanh()
        return unary("tanh", y, derivative: y.map { 1 - $0 * $0 })
    }

    public func exp() -> Variable {
        let y = value.exp()
        return unary("exp", y, derivative: y)
    }

    public func squared() -> Variable {
        unary("square", value.squared(), derivative: value.scaled(by: 2))
    }

    /// GELU with the exact error function.
    public func gelu() -> Variable {
        // d/dx ½x(1 + erf(x/√2)) = ½(1 + erf(x/√2)) + x · φ(x)
        unary("gelu", value.gelu(), derivative: value.map { x in
            0.5 * (1 + fastErf(x * 0.707_106_77)) + x * 0.398_942_28 * fastExp(-0.5 * x * x)
        })
    }

    /// GELU with the tanh approximation.
    public func geluTanh() -> Variable {
        unary("geluTanh", value.geluTanh(), derivative: value.map { x in
            let c: Float = 0.797_884_56
            let t = fastTanh(c * (x + 0.044_715 * x * x * x))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044_715 * x * x)
        })
    }
}
