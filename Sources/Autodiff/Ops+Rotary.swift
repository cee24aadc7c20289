// Rotary position embeddings. A rotation's transpose is the rotation by the opposite angle, so
// the pullback rotates the cotangent backwards.

import TensorCore

extension Variable {
    /// Rotates [n, h, e] heads for positions start..<start + n.
    public func rotary(_ table: RotaryTable, style: RotaryStyle, startPosition: Int = 0) throws -> Variable {
        let y = try value.applyingRotary(table, style: style, startPosition: startPosition)
        return tape.record(y, inputs: [self], name: "rotary") { g, _ in
            let rows = try (0..<g.shape[0]).map { s in
                try g.row(s).applyingRotary(table, style: style, startPosition: startPosition, inverse: true)
            }
            return [try Tensor.stack(rows)]
        }
    }
}
