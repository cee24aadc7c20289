// Shape ops move values around without arithmetic; their pullbacks move cotangents back.

import TensorCore

extension Variable {
    public func reshaped(_ newShape: [Int]) throws -> Variable {
        let inShape = shape
        return tape.record(try value.reshaped(newShape), inputs: [self], name: "reshape") { g, _ in
            [try g.reshaped([g.shape[0]] + inShape)]
        }
    }

    /// Output axis i is input axis axes[i].
    public func permuted(_ axes: [Int]) throws -> Variable {
        let y = try value.permuted(axes)
        var inverse = [Int](repeating: 0, count: axes.count)
        for (i, axis) in axes.enumerated() { inverse[axis] = i }
        return tape.record(y, inputs: [self], name: "permute") { g, _ in
            // The seed batch stays the leading axis.
            [try g.permuted([0] + inverse.map { $0 + 1 })]
        }
    }

    /// The last two axes swapped.
    public func transposed() throws -> Variable {
        var axes = Array(0..<shape.count)
        guard axes.count >= 2 else {
            throw TensorError.invalidShape(op: "transpose", shape: shape, reason: "needs rank 2 or more")
        }
        axes.swapAt(axes.count - 1, axes.count - 2)
        return try permuted(axes)
    }

    public func slice(axis: Int, _ range: Range<Int>) throws -> Variable {
        let a = try value.axisIndex(axis, op: "slice")
        let inShape = shape
        return tape.record(try value.slice(axis: a, range), inputs: [self], name: "slice") { g, _ in
            // Zeros before and after the slice along the axis.
            var parts = [Tensor]()
            var before = g.shape, after = g.shape
            before[a + 1] = range.lowerBound
            after[a + 1] = inShape[a] - range.upperBound
            if range.lowerBound > 0 { parts.append(try Tensor(zeros: before)) }
            parts.append(g)
            if after[a + 1] > 0 { parts.append(try Tensor(zeros: after)) }
            return [try Tensor.concatenate(parts, axis: a + 1)]
        }
    }

    public static func concatenate(_ parts: [Variable], axis: Int) throws -> Variable {
        guard let first = parts.first else {
            throw TensorError.invalidArgument(op: "concatenate", reason: "no values given")
        }
        let y = try Tensor.concatenate(parts.map(\.value), axis: axis)
        let a = try first.value.axisIndex(axis, op: "concatenate")
        let sizes = parts.map { $0.shape[a] }
        return first.tape.record(y, inputs: parts, name: "concatenate") { g, needed in
            var start = 0
            return try sizes.enumerated().map { i, size in
                defer { start += size }
                return needed[i] ? try g.slice(axis: a + 1, start..<(start + size)) : nil
            }
        }
    }

    /// Rows `indices` of a rank-2 table (an embedding lookup).
    public func gatherRows(_ indices: [Int]) throws -> Variable {
        let tableShape = shape
        return tape.record(try value.gatherRows(indices), inputs: [self], name: "gatherRows") { g, _ in
            let batch = g.shape[0]
            var out = try Tensor(zeros: [batch] + tableShape)
            // Scatter each seed's rows into its own copy of the table.
            let flatIndices = (0..<batch).flatMap { s in indices.map { s * tableShape[0] + $0 } }
            var flat = try out.reshaped([batch * tableShape[0], tableShape[1]])
            try flat.scatterAddRows(flatIndices, g.reshaped([batch * indices.count, tableShape[1]]))
            out = try flat.reshaped([batch] + tableShape)
            return [out]
        }
    }
}
