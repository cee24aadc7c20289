// Reductions along an axis, and the reverse of broadcasting (summing back to a shape).

extension Tensor {
    /// Views the tensor as [outer, length, inner] around `axis`.
    private func around(_ axis: Int, op: String) throws -> (outer: Int, length: Int, inner: Int, axis: Int) {
        let a = try axisIndex(axis, op: op)
        return (shape[..<a].elementCount, shape[a], shape[(a + 1)...].elementCount, a)
    }

    private func reduce(
        axis: Int, keepingAxis: Bool, op: String, initial: Float, _ combine: (Float, Float) -> Float
    ) throws -> Tensor {
        let (outer, length, inner, a) = try around(axis, op: op)
        var outShape = shape
        if keepingAxis { outShape[a] = 1 } else { outShape.remove(at: a) }
        return Tensor(validShape: outShape) { out in
            scalars.withUnsafeBufferPointer { x in
                for o in 0..<outer {
                    let dst = out.baseAddress! + o * inner
                    for j in 0..<inner { dst[j] = initial }
                    for r in 0..<length {
                        let src = x.baseAddress! + (o * length + r) * inner
                        for j in 0..<inner { dst[j] = combine(dst[j], src[j]) }
                    }
                }
            }
        }
    }

    /// Sum along `axis` (removed unless `keepingAxis`).
    public func sum(axis: Int, keepingAxis: Bool = false) throws -> Tensor {
        try reduce(axis: axis, keepingAxis: keepingAxis, op: "sum", initial: 0, +)
    }

    /// Mean along `axis`.
    public func mean(axis: Int, keepingAxis: Bool = false) throws -> Tensor {
        let a = try axisIndex(axis, op: "mean")
        let length = shape[a]
        return try sum(axis: axis, keepingAxis: keepingAxis).scaled(by: length == 0 ? .nan : 1 / Float(length))
    }

    /// Maximum along `axis`.
    public func max(axis: Int, keepingAxis: Bool = false) throws -> Tensor {
        try reduce(axis: axis, keepingAxis: keepingAxis, op: "max", initial: -.infinity) { $0 > $1 ? $0 : $1 }
    }

    /// Sum of all elements, accumulated in Double.
    public func sum() -> Float {
        scalars.withUnsafeBufferPointer { x in
            // Vectorised partial sums per chunk of 4096; chunks are summed in Double.
            guard let base = x.baseAddress else { return 0 }
            var total = 0.0
            var i = 0
            while i < x.count {
                let end = Swift.min(i + 4096, x.count)
                total += Double(VectorReduce.sum(base + i, end - i))
                i = end
            }
            return Float(total)
        }
    }

    /// Mean of all elements.
    public func mean() -> Float { count == 0 ? .nan : sum() / Float(count) }

    /// Index of the largest element of each row of the last axis (first one on ties).
    public func argmaxLastAxis() throws -> [Int] {
        guard let width = shape.last, width > 0 else {
            throw TensorError.invalidShape(op: "argmax", shape: shape, reason: "needs a non-empty last axis")
        }
        return scalars.withUnsafeBufferPointer { x in
            (0..<(count / width)).map { row in
                var best = 0
                var value = x[row * width]
                for j in 1..<width where x[row * width + j] > value {
                    value = x[row * width + j]
                    best = j
                }
                return best
            }
        }
    }

    /// Sums this tensor down to `target`, undoing a broadcast from `target` to this shape
    /// (axes that were stretched or added are summed away). Used by gradients.
    public func sumToShape(_ target: [Int]) throws -> Tensor {
        if target == shape { return self }
        guard target.count <= rank else {
            throw TensorError.shapeMismatch(op: "sumToShape", lhs: shape, rhs: target)
        }
        let offset = rank - target.count
        var result = self
        // Sum the leading axes away in one pass by viewing as [lead, rest].
        if offset > 0 {
            let lead = shape[..<offset].elementCount
            let rest = count / Swift.max(lead, 1)
            result = try reshaped([lead, rest]).sum(axis: 0).reshaped(Array(shape[offset...]))
        }
        for (i, size) in target.enumerated() where size != result.shape[i] {
            guard size == 1 else { throw TensorError.shapeMismatch(op: "sumToShape", lhs: shape, rhs: target) }
            result = try result.sum(axis: i, keepingAxis: true)
        }
        return result
    }
}
