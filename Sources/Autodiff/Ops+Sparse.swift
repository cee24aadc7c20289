// Sparsifying activations used by transcoders. Their pullbacks pass the cotangent through the
// entries that were kept and block the rest.

import TensorCore

extension Variable {
    /// Keeps the k largest entries of each row of the last axis (others become 0).
    public func topKActivation(_ k: Int) throws -> Variable {
        let (_, indices) = try value.topK(k)
        let width = shape.last ?? 0
        var mask = try Tensor(zeros: shape)
        for (n, i) in indices.enumerated() { mask.scalars[(n / max(k, 1)) * width + i] = 1 }
        return tape.record(try value * mask, inputs: [self], name: "topKActivation") { g, _ in [try g * mask] }
    }

    /// JumpReLU: x where x > θ (θ per last-axis entry, a constant), otherwise 0.
    public func jumpReLU(threshold: Tensor) throws -> Variable {
        let y = try value.jumpReLU(threshold: threshold)
        let mask = try value.zipMap(Tensor(repeating: 0, shape: shape) + threshold, op: "jumpReLU") { $0 > $1 ? 1 : 0 }
        return tape.record(y, inputs: [self], name: "jumpReLU") { g, _ in [try g * mask] }
    }
}
