// Scalar kernels written so that release builds vectorise the loops that call them.
//
// Foundation's `exp`, `tanh` and `Float.rounded()` become one library call per element on the
// default x86-64 target, which stops vectorisation; `a.addingProduct(b, c)` becomes an `fmaf`
// call. These versions use only +, −, ×, ÷, comparisons and bit casts, which map to vector
// instructions. Accuracy: `fastExp` is within 2 ulp of `expf` on [-87, 88] (tested).

/// e^x for Float, vectorisable. Underflows to 0 below −87.3 and overflows to +inf above 88.7.
@inlinable @inline(__always)
public func fastExp(_ x: Float) -> Float {
    // exp(x) = 2^n · exp(r), n = round(x / ln 2), r = x − n·ln 2 ∈ [−ln2/2, ln2/2].
    let clamped = min(max(x, -87.33654), 88.72283)
    // Round to nearest by adding 1.5·2^23: the float addition itself rounds.
    let shifter: Float = 12_582_912.0
    let t = clamped * 1.442_695_04 + shifter
    let n = t - shifter
    let r = (clamped - n * 0.693_359_375) - n * -2.121_944_4e-4
    // Cephes polynomial for exp(r) on the reduced range.
    var p: Float = 1.987_569_15e-4
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_6e-2
    p = p * r + 1.666_666_5e-1
    p = p * r + 5.000_000_1e-1
    p = p * (r * r) + r + 1
    // 2^n built from its exponent bits; the shifter's low mantissa bits hold n.
    let nInt = Int32(bitPattern: t.bitPattern) &- 0x4B40_0000
    // Split the power in two so that n = 128 (x near the overflow bound) does not wrap.
    let half = nInt >> 1
    let scaleA = Float(bitPattern: UInt32(bitPattern: (half &+ 127) << 23))
    let scaleB = Float(bitPattern: UInt32(bitPattern: (nInt &- half &+ 127) << 23))
    let value = p * scaleA * scaleB
    return x > 88.72283 ? Float.infinity : (x < -87.33654 ? 0 : value)
}

/// The logistic function 1 / (1 + e^−x), vectorisable.
@inlinable @inline(__always)
public func fastSigmoid(_ x: Float) -> Float {
    1 / (1 + fastExp(-x))
}

/// tanh(x), vectorisable, via 1 − 2 / (e^{2x} + 1).
@inlinable @inline(__always)
public func fastTanh(_ x: Float) -> Float {
    let clamped = min(max(x, -20), 20)
    return 1 - 2 / (fastExp(2 * clamped) + 1)
}

/// erf(x), vectorisable; Abramowitz & Stegun 7.1.26 refined (absolute error below 1.5e-7).
@inlinable @inline(__always)
public func fastErf(_ x: Float) -> Float {
    let a = abs(x)
    let t = 1 / (1 + 0.327_591_1 * a)
    var p: Float = 1.061_405_429
    p = p * t - 1.453_152_027
    p = p * t + 1.421_413_741
    p = p * t - 0.284_496_736
    p = p * t + 0.254_829_592
    let y = 1 - p * t * fastExp(-a * a)
    return x < 0 ? -y : y
}

/// Reductions over contiguous Float memory with eight independent lanes, so the loops are
/// not serialised by the latency of one running sum (Swift does not reassociate floating-point
/// additions on its own).
public enum VectorReduce {
    @inlinable @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// Σ x[i]
    @inlinable @inline(__always)
    public static func sum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count { lanes += load(x, i); i += 8 }
        var total = lanes.sum()
        while i < count { total += x[i]; i += 1 }
        return total
    }

    /// Σ x[i]²
    @inlinable @inline(__always)
    public static func sumOfSquares(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count { let v = load(x, i); lanes += v * v; i += 8 }
        var total = lanes.sum()
        while i < count { total += x[i] * x[i]; i += 1 }
        return total
    }

    /// Σ x[i]·y[i]
    @inlinable @inline(__always)
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count { lanes += load(x, i) * load(y, i); i += 8 }
        var total = lanes.sum()
        while i < count { total += x[i] * y[i]; i += 1 }
        return total
    }

    /// max x[i] (−∞ for an empty range; NaNs are ignored).
    @inlinable @inline(__always)
    public static func max(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var lanes = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i + 8 <= count {
            let v = load(x, i)
            lanes.replace(with: v, where: v .> lanes)
            i += 8
        }
        var peak = lanes.max()
        while i < count { if x[i] > peak { peak = x[i] }; i += 1 }
        return peak
    }
}
