// Element-wise arithmetic with NumPy broadcasting, and unary maps.
//
// Broadcasting follows NumPy: shapes are aligned at their last axes and an axis of size 1 (or a
// missing leading axis) stretches to match. The kernels are specialised per operation so that
// the inner loop is a plain vectorisable loop; the common transformer cases ([n, d] with [d],
// [n, d] with [n, 1], same shape, scalar) never touch the general strided walk.

/// A binary element-wise operation, specialised at compile time.
public protocol BinaryKernel {
    static var name: String { get }
    static func apply(_ a: Float, _ b: Float) -> Float
}

public enum AddKernel: BinaryKernel {
    public static let name = "add"
    @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a + b }
}
public enum SubtractKernel: BinaryKernel {
    public static let name = "subtract"
    @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a - b }
}
public enum MultiplyKernel: BinaryKernel {
    public static let name = "multiply"
    @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a * b }
}
public enum DivideKernel: BinaryKernel {
    public static let name = "divide"
    @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a / b }
}
public enum MaximumKernel: BinaryKernel {
    public static let name = "maximum"
    @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a > b ? a : b }
}

extension Tensor {
    /// The shape two operands broadcast to.
    public static func broadcastShape(_ lhs: [Int], _ rhs: [Int], op: String) throws -> [Int] {
        let rank = Swift.max(lhs.count, rhs.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let a = i < rank - lhs.count ? 1 : lhs[i - (rank - lhs.count)]
            let b = i < rank - rhs.count ? 1 : rhs[i - (rank - rhs.count)]
            guard a == b || a == 1 || b == 1 else {
                throw TensorError.shapeMismatch(op: op, lhs: lhs, rhs: rhs)
            }
            out[i] = a == 1 ? b : a
        }
        return out
    }

    /// Strides of `shape` when read as if broadcast to `outShape` (0 along stretched axes).
    static func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
        let own = shape.rowMajorStrides
        let offset = outShape.count - shape.count
        return outShape.indices.map { i in
            i < offset || shape[i - offset] == 1 ? 0 : own[i - offset]
        }
    }

    /// Applies `K` element-wise with broadcasting.
    public static func binary<K: BinaryKernel>(_ a: Tensor, _ b: Tensor, _ kernel: K.Type) throws -> Tensor {
        if a.shape == b.shape {
            return Tensor(validShape: a.shape) { out in
                a.scalars.withUnsafeBufferPointer { x in
                    b.scalars.withUnsafeBufferPointer { y in
                        for i in 0..<out.count { out[i] = K.apply(x[i], y[i]) }
                    }
                }
            }
        }
        let outShape = try broadcastShape(a.shape, b.shape, op: K.name)
        if b.count == 1 {
            let s = b.scalars[0]
            return Tensor(validShape: outShape) { out in
                a.scalars.withUnsafeBufferPointer { x in
                    if x.count == out.count {
                        for i in 0..<out.count { out[i] = K.apply(x[i], s) }
                    } else {
                        for i in 0..<out.count { out[i] = K.apply(x[0], s) }
                    }
                }
            }
        }
        let sa = broadcastStrides(a.shape, to: outShape)
        let sb = broadcastStrides(b.shape, to: outShape)
        // Collapse to [outer, inner] where the inner run has fixed strides (1 or 0) in both.
        let inner = outShape.last ?? 1
        let ia = sa.last ?? 0, ib = sb.last ?? 0
        let outerShape = Array(outShape.dropLast())
        let outerA = Array(sa.dropLast()), outerB = Array(sb.dropLast())
        return Tensor(validShape: outShape) { out in
            a.scalars.withUnsafeBufferPointer { x in
                b.scalars.withUnsafeBufferPointer { y in
                    var index = [Int](repeating: 0, count: outerShape.count)
                    var offA = 0, offB = 0, written = 0
                    for _ in 0..<outerShape.elementCount {
                        let o = out.baseAddress! + written
                        let xa = x.baseAddress! + offA, yb = y.baseAddress! + offB
                        switch (ia, ib) {
                        case (1, 1): for j in 0..<inner { o[j] = K.apply(xa[j], yb[j]) }
                        case (1, _): let v = yb[0]; for j in 0..<inner { o[j] = K.apply(xa[j], v) }
                        case (_, 1): let u = xa[0]; for j in 0..<inner { o[j] = K.apply(u, yb[j]) }
                        default: let u = K.apply(xa[0], yb[0]); for j in 0..<inner { o[j] = u }
                        }
                        written += inner
                        var axis = outerShape.count - 1
                        while axis >= 0 {
                            index[axis] += 1
                            offA += outerA[axis]; offB += outerB[axis]
                            if index[axis] < outerShape[axis] { break }
                            offA -= outerA[axis] * index[axis]; offB -= outerB[axis] * index[axis]
                            index[axis] = 0
                            axis -= 1
                        }
                    }
                }
            }
        }
    }

    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try binary(a, b, AddKernel.self) }
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try binary(a, b, SubtractKernel.self) }
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try binary(a, b, MultiplyKernel.self) }
    public static func / (a: Tensor, b: Tensor) throws -> Tensor { try binary(a, b, DivideKernel.self) }
    public static func maximum(_ a: Tensor, _ b: Tensor) throws -> Tensor { try binary(a, b, MaximumKernel.self) }

    /// Adds `other` (same shape) into this tensor in place, scaled by `alpha`.
    public mutating func add(_ other: Tensor, scaledBy alpha: Float = 1) throws {
        guard other.shape == shape else {
            throw TensorError.shapeMismatch(op: "add in place", lhs: shape, rhs: other.shape)
        }
        scalars.withUnsafeMutableBufferPointer { x in
            other.scalars.withUnsafeBufferPointer { y in
                if alpha == 1 {
                    for i in 0..<x.count { x[i] += y[i] }
                } else {
                    for i in 0..<x.count { x[i] += alpha * y[i] }
                }
            }
        }
    }

    /// Every element multiplied by `factor`.
    public func scaled(by factor: Float) -> Tensor { map { $0 * factor } }

    /// Every element plus `value`.
    public func adding(_ value: Float) -> Tensor { map { $0 + value } }

    /// The negation.
    public static prefix func - (a: Tensor) -> Tensor { a.map { -$0 } }

    /// Applies `transform` to every element. Small closures inline and the loop vectorises.
    @inline(__always)
    public func map(_ transform: (Float) -> Float) -> Tensor {
        Tensor(validShape: shape) { out in
            scalars.withUnsafeBufferPointer { x in
                for i in 0..<out.count { out[i] = transform(x[i]) }
            }
        }
    }

    /// Combines two same-shaped tensors element by element.
    @inline(__always)
    public func zipMap(_ other: Tensor, op: String, _ transform: (Float, Float) -> Float) throws -> Tensor {
        guard other.shape == shape else {
            throw TensorError.shapeMismatch(op: op, lhs: shape, rhs: other.shape)
        }
        return Tensor(validShape: shape) { out in
            scalars.withUnsafeBufferPointer { x in
                other.scalars.withUnsafeBufferPointer { y in
                    for i in 0..<out.count { out[i] = transform(x[i], y[i]) }
                }
            }
        }
    }

    /// Element-wise e^x.
    public func exp() -> Tensor { map(fastExp) }
    /// Element-wise square.
    public func squared() -> Tensor { map { $0 * $0 } }
    /// Element-wise square root.
    public func squareRoot() -> Tensor { map { $0.squareRoot() } }
    /// Element-wise absolute value.
    public func magnitude() -> Tensor { map { abs($0) } }

    /// True when every element is finite.
    public var isFinite: Bool {
        scalars.withUnsafeBufferPointer { x in
            var bad = false
            for v in x where !v.isFinite { bad = true; break }
            return !bad
        }
    }
}
