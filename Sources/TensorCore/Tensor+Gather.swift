// Row gather (embedding lookup) and its adjoint, row scatter-add.

extension Tensor {
    /// Rows `indices` of a rank-2 table ([rows, width]) → [indices.count, width].
    public func gatherRows(_ indices: [Int]) throws -> Tensor {
        guard rank == 2 else {
            throw TensorError.invalidShape(op: "gatherRows", shape: shape, reason: "expected a rank-2 table")
        }
        let (rows, width) = (shape[0], shape[1])
        for i in indices where i < 0 || i >= rows {
            throw TensorError.indexOutOfRange(op: "gatherRows", index: i, bound: rows)
        }
        return Tensor(validShape: [indices.count, width]) { out in
            scalars.withUnsafeBufferPointer { table in
                for (r, i) in indices.enumerated() {
                    let src = table.baseAddress! + i * width, dst = out.baseAddress! + r * width
                    for j in 0..<width { dst[j] = src[j] }
                }
            }
        }
    }

    /// Adds row r of `values` ([indices.count, width]) into row indices[r] of this table.
    public mutating func scatterAddRows(_ indices: [Int], _ values: Tensor) throws {
        guard rank == 2, values.rank == 2, values.shape[1] == shape[1], values.shape[0] == indices.count else {
            throw TensorError.shapeMismatch(op: "scatterAddRows", lhs: shape, rhs: values.shape)
        }
        let (rows, width) = (shape[0], shape[1])
        for i in indices where i < 0 || i >= rows {
            throw TensorError.indexOutOfRange(op: "scatterAddRows", index: i, bound: rows)
        }
        scalars.withUnsafeMutableBufferPointer { table in
            values.scalars.withUnsafeBufferPointer { src in
                for (r, i) in indices.enumerated() {
                    let from = src.baseAddress! + r * width, to = table.baseAddress! + i * width
                    for j in 0..<width { to[j] += from[j] }
                }
            }
        }
    }
}
