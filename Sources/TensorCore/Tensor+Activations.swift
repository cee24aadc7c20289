// Activation functions used by transformers and transcoders, as vectorised element-wise maps.

extension Tensor {
    /// max(x, 0).
    public func relu() -> Tensor { map { $0 > 0 ? $0 : 0 } }

    /// x · σ(x), the SwiGLU gate of Llama-family MLPs.
    public func silu() -> Tensor { map { $0 / (1 + fastExp(-$0)) } }

    /// σ(x).
    public func sigmoid() -> Tensor { map(fastSigmoid) }

    /// tanh(x).
    public func tanh() -> Tensor { map(fastTanh) }

    /// GELU with the tanh approximation (GPT-2, Gemma): ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    public func geluTanh() -> Tensor {
        map { x in 0.5 * x * (1 + fastTanh(0.797_884_56 * (x + 0.044_715 * x * x * x))) }
    }

    /// GELU with the exact error function: ½x(1 + erf(x/√2)).
    public func gelu() -> Tensor {
        map { x in 0.5 * x * (1 + fastErf(x * 0.707_106_77)) }
    }

    /// JumpReLU: x where x > θ (per last-axis element), otherwise 0.
    public func jumpReLU(threshold: Tensor) throws -> Tensor {
        guard threshold.rank == 1, threshold.count == (shape.last ?? 0) else {
            throw TensorError.shapeMismatch(op: "jumpReLU", lhs: shape, rhs: threshold.shape)
        }
        let width = threshold.count
        return Tensor(validShape: shape) { out in
            scalars.withUnsafeBufferPointer { x in
                threshold.scalars.withUnsafeBufferPointer { t in
                    for row in 0..<(width == 0 ? 0 : out.count / width) {
                        let base = row * width
                        for j in 0..<width { out[base + j] = x[base + j] > t[j] ? x[base + j] : 0 }
                    }
                }
            }
        }
    }
}
