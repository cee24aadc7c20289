// Shape manipulation: reshape, permute, slice, concatenate, row access.

extension Tensor {
    /// Resolves a possibly negative axis against the rank.
    public func axisIndex(_ axis: Int, op: String) throws -> Int {
        let resolved = axis < 0 ? axis + rank : axis
        guard resolved >= 0, resolved < rank else {
            throw TensorError.axisOutOfRange(op: op, axis: axis, rank: rank)
        }
        return resolved
    }

    /// The same values under a new shape; one size may be -1 and is inferred.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var resolved = newShape
        let inferred = newShape.indices.filter { newShape[$0] == -1 }
        guard inferred.count <= 1 else {
            throw TensorError.invalidShape(op: "reshape", shape: newShape, reason: "more than one -1")
        }
        if let axis = inferred.first {
            let known = newShape.enumerated().filter { $0.offset != axis }.map(\.element).elementCount
            guard known > 0, count % known == 0 else {
                throw TensorError.shapeMismatch(op: "reshape", lhs: shape, rhs: newShape)
            }
            resolved[axis] = count / known
        }
        try Tensor.validate(resolved, op: "reshape")
        guard resolved.elementCount == count else {
            throw TensorError.shapeMismatch(op: "reshape", lhs: shape, rhs: newShape)
        }
        return Tensor(validShape: resolved, scalars: scalars)
    }

    /// The axes reordered: output axis `i` is input axis `axes[i]`.
    public func permuted(_ axes: [Int]) throws -> Tensor {
        guard axes.count == rank, Set(axes) == Set(0..<rank) else {
            throw TensorError.invalidArgument(op: "permute", reason: "\(axes) is not a permutation of the axes of \(shape)")
        }
        if axes == Array(0..<rank) { return self }
        let outShape = axes.map { shape[$0] }
        let inStrides = shape.rowMajorStrides
        let permutedStrides = axes.map { inStrides[$0] }
        // The innermost output axis is copied in a tight loop; the rest are walked by an odometer.
        let inner = outShape.last ?? 1
        let innerStride = permutedStrides.last ?? 1
        let outer = Array(outShape.dropLast())
        let outerStrides = Array(permutedStrides.dropLast())
        return Tensor(validShape: outShape) { out in
            scalars.withUnsafeBufferPointer { src in
                var index = [Int](repeating: 0, count: outer.count)
                var base = 0
                var written = 0
                let outerCount = outer.elementCount
                for _ in 0..<outerCount {
                    for j in 0..<inner { out[written + j] = src[base + j * innerStride] }
                    written += inner
                    // Advance the odometer over the outer axes.
                    var axis = outer.count - 1
                    while axis >= 0 {
                        index[axis] += 1
                        base += outerStrides[axis]
                        if index[axis] < outer[axis] { break }
                        base -= outerStrides[axis] * index[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
    }

    /// A rank-2 tensor transposed (or, for higher ranks, the last two axes swapped).
    public func transposed() throws -> Tensor {
        guard rank >= 2 else {
            throw TensorError.invalidShape(op: "transpose", shape: shape, reason: "needs rank 2 or more")
        }
        var axes = Array(0..<rank)
        axes.swapAt(rank - 1, rank - 2)
        return try permuted(axes)
    }

    /// The elements with index in `range` along `axis`.
    public func slice(axis: Int, _ range: Range<Int>) throws -> Tensor {
        let a = try axisIndex(axis, op: "slice")
        guard range.lowerBound >= 0, range.upperBound <= shape[a] else {
            throw TensorError.indexOutOfRange(op: "slice", index: range.upperBound, bound: shape[a] + 1)
        }
        let outerCount = shape[..<a].elementCount
        let innerCount = shape[(a + 1)...].elementCount
        var outShape = shape
        outShape[a] = range.count
        let chunk = range.count * innerCount
        return Tensor(validShape: outShape) { out in
            scalars.withUnsafeBufferPointer { src in
                for o in 0..<outerCount {
                    let from = (o * shape[a] + range.lowerBound) * innerCount
                    for j in 0..<chunk { out[o * chunk + j] = src[from + j] }
                }
            }
        }
    }

    /// Tensors joined along `axis`; every other axis must agree.
    public static func concatenate(_ parts: [Tensor], axis: Int) throws -> Tensor {
        guard let first = parts.first else {
            throw TensorError.invalidArgument(op: "concatenate", reason: "no tensors given")
        }
        let a = try first.axisIndex(axis, op: "concatenate")
        for part in parts.dropFirst() {
            var lhs = first.shape, rhs = part.shape
            guard lhs.count == rhs.count else {
                throw TensorError.shapeMismatch(op: "concatenate", lhs: first.shape, rhs: part.shape)
            }
            lhs[a] = 0; rhs[a] = 0
            guard lhs == rhs else {
                throw TensorError.shapeMismatch(op: "concatenate", lhs: first.shape, rhs: part.shape)
            }
        }
        var outShape = first.shape
        outShape[a] = parts.reduce(0) { $0 + $1.shape[a] }
        let outerCount = first.shape[..<a].elementCount
        let innerCount = first.shape[(a + 1)...].elementCount
        var out = [Float]()
        out.reserveCapacity(outShape.elementCount)
        for o in 0..<outerCount {
            for part in parts {
                let chunk = part.shape[a] * innerCount
                out.append(contentsOf: part.scalars[(o * chunk)..<((o + 1) * chunk)])
            }
        }
        return Tensor(validShape: outShape, scalars: out)
    }

    /// Rows `range` of a tensor viewed as `[rows, rest]` (slicing along the first axis).
    public func rows(_ range: Range<Int>) throws -> Tensor {
        try slice(axis: 0, range)
    }

    /// Row `i` of the first axis, with that axis removed.
    public func row(_ i: Int) throws -> Tensor {
        guard rank >= 1, i >= 0, i < shape[0] else {
            throw TensorError.indexOutOfRange(op: "row", index: i, bound: shape.first ?? 0)
        }
        let width = count / Swift.max(shape[0], 1)
        return Tensor(validShape: Array(shape.dropFirst()), scalars: Array(scalars[(i * width)..<((i + 1) * width)]))
    }

    /// Stacks equally shaped tensors along a new leading axis.
    public static func stack(_ parts: [Tensor]) throws -> Tensor {
        guard let first = parts.first else {
            throw TensorError.invalidArgument(op: "stack", reason: "no tensors given")
        }
        var out = [Float]()
        out.reserveCapacity(first.count * parts.count)
        for part in parts {
            guard part.shape == first.shape else {
                throw TensorError.shapeMismatch(op: "stack", lhs: first.shape, rhs: part.shape)
            }
            out.append(contentsOf: part.scalars)
        }
        return Tensor(validShape: [parts.count] + first.shape, scalars: out)
    }
}

extension Array where Element == Int {
    /// Row-major strides for a tensor of this shape.
    public var rowMajorStrides: [Int] {
        var strides = [Int](repeating: 1, count: count)
        var running = 1
        for axis in indices.reversed() {
            strides[axis] = running
            running *= self[axis]
        }
        return strides
    }
}

extension ArraySlice where Element == Int {
    /// The product of the sizes.
    public var elementCount: Int { reduce(1, *) }
}
