// Float16 (IEEE binary16) and BFloat16 conversion, on raw bit patterns.
//
// Swift's `Float16` conversions become a library call per element on the default x86-64 target
// (no F16C), so these are written with integer and float arithmetic that vectorises. Both
// directions round to nearest even and keep infinities and NaNs; Float16 subnormals are exact.
// Tests check every one of the 65,536 half values against Swift's own conversion.

/// Float16 bits → Float.
@inlinable @inline(__always)
public func floatFromHalfBits(_ h: UInt16) -> Float {
    let bits = UInt32(h)
    let sign = (bits & 0x8000) << 16
    let shifted = (bits & 0x7FFF) << 13              // exponent and mantissa in float position
    let exponent = shifted & 0x0F80_0000              // the half exponent, shifted
    var magnitude = shifted &+ ((127 - 15) << 23)     // rebias
    if exponent == 0x0F80_0000 {                      // inf / NaN: exponent all ones
        magnitude = magnitude &+ ((128 - 16) << 23)
    } else if exponent == 0 {                         // zero / subnormal: renormalise
        magnitude = magnitude &+ (1 << 23)
        magnitude = (Float(bitPattern: magnitude) - Float(bitPattern: 113 << 23)).bitPattern
    }
    return Float(bitPattern: magnitude | sign)
}

/// Float → Float16 bits, rounding to nearest even.
@inlinable @inline(__always)
public func halfBitsFromFloat(_ value: Float) -> UInt16 {
    var bits = value.bitPattern
    let sign = bits & 0x8000_0000
    bits ^= sign
    var out: UInt32
    if bits >= (127 + 16) << 23 {                     // overflow, inf or NaN
        out = bits > 0x7F80_0000 ? 0x7E00 : 0x7C00
    } else if bits < (113 << 23) {                    // result is subnormal or zero
        let magic = Float(bitPattern: ((127 - 15) + (23 - 10) + 1) << 23)
        let sum = Float(bitPattern: bits) + magic
        out = sum.bitPattern &- magic.bitPattern
    } else {
        let mantissaOdd = (bits >> 13) & 1
        bits = bits &+ (UInt32(bitPattern: Int32(15 - 127)) << 23) &+ 0xFFF
        bits = bits &+ mantissaOdd
        out = bits >> 13
    }
    return UInt16(truncatingIfNeeded: out | (sign >> 16))
}

/// BFloat16 bits → Float (exact).
@inlinable @inline(__always)
public func floatFromBFloat16Bits(_ b: UInt16) -> Float {
    Float(bitPattern: UInt32(b) << 16)
}

/// Float → BFloat16 bits, rounding to nearest even; NaN stays NaN.
@inlinable @inline(__always)
public func bfloat16BitsFromFloat(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x0040) }
    let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: rounded >> 16)
}

/// Bulk conversions between half-precision bit patterns and Float.
public enum HalfPrecision {
    /// Float16 bits → Float, `count` elements.
    public static func halfToFloat(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { dst[i] = floatFromHalfBits(src[i]) }
    }

    /// BFloat16 bits → Float, `count` elements.
    public static func bfloat16ToFloat(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { dst[i] = floatFromBFloat16Bits(src[i]) }
    }
}

extension Tensor {
    /// A tensor from Float16 bit patterns.
    public init(float16Bits bits: [UInt16], shape: [Int]) throws {
        try Tensor.validate(shape, op: "Tensor(float16Bits:)")
        guard bits.count == shape.elementCount else {
            throw TensorError.countMismatch(op: "Tensor(float16Bits:)", shape: shape, count: bits.count)
        }
        self.init(validShape: shape) { out in
            if out.isEmpty { return }
            bits.withUnsafeBufferPointer { HalfPrecision.halfToFloat($0.baseAddress!, out.baseAddress!, count: out.count) }
        }
    }

    /// A tensor from BFloat16 bit patterns.
    public init(bfloat16Bits bits: [UInt16], shape: [Int]) throws {
        try Tensor.validate(shape, op: "Tensor(bfloat16Bits:)")
        guard bits.count == shape.elementCount else {
            throw TensorError.countMismatch(op: "Tensor(bfloat16Bits:)", shape: shape, count: bits.count)
        }
        self.init(validShape: shape) { out in
            if out.isEmpty { return }
            bits.withUnsafeBufferPointer { HalfPrecision.bfloat16ToFloat($0.baseAddress!, out.baseAddress!, count: out.count) }
        }
    }

    /// The values as Float16 bit patterns (rounded to nearest even).
    public func float16Bits() -> [UInt16] { scalars.map(halfBitsFromFloat) }

    /// The values as BFloat16 bit patterns (rounded to nearest even).
    public func bfloat16Bits() -> [UInt16] { scalars.map(bfloat16BitsFromFloat) }
}
