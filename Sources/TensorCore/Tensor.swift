// TensorCore: the numeric foundation of Circuitry.
//
// A `Tensor` is a dense Float32 array in row-major order (the last axis is contiguous) with a
// shape that every operation checks before it touches memory. Shape errors on anything a user
// can reach are thrown as `TensorError` values naming both shapes; nothing here traps.
//
// Dimension letters used in comments throughout the package (one glossary for all targets):
//   b  batch of seeds / prompts        n  positions (tokens)       d  model width (residual)
//   h  attention heads (query)         g  key/value head groups    e  head dimension
//   m  MLP hidden width                f  transcoder features      v  vocabulary
//   l  layers                          k  top-k / contraction length

import Foundation

/// A Float32, row-major tensor with a checked shape.
public struct Tensor: Sendable, Equatable {
    /// Sizes of each axis; an empty shape is a scalar holding one value.
    public private(set) var shape: [Int]
    /// The values in row-major order; `scalars.count == shape.product`.
    public var scalars: [Float]

    /// A tensor from a shape and matching values.
    public init(shape: [Int], scalars: [Float]) throws {
        try Tensor.validate(shape, op: "Tensor.init")
        guard shape.elementCount == scalars.count else {
            throw TensorError.countMismatch(op: "Tensor.init", shape: shape, count: scalars.count)
        }
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor filled with one value.
    public init(repeating value: Float, shape: [Int]) throws {
        try Tensor.validate(shape, op: "Tensor.init")
        self.shape = shape
        self.scalars = [Float](repeating: value, count: shape.elementCount)
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) throws {
        try self.init(repeating: 0, shape: shape)
    }

    /// A tensor of the given shape whose values `body` writes (it must write every element).
    public init(shape: [Int], fill body: (UnsafeMutableBufferPointer<Float>) -> Void) throws {
        try Tensor.validate(shape, op: "Tensor.init")
        self.init(validShape: shape, fill: body)
    }

    /// A rank-0 tensor holding one value.
    public init(scalar: Float) {
        self.shape = []
        self.scalars = [scalar]
    }

    /// A rank-1 tensor holding `values`.
    public init(_ values: [Float]) {
        self.shape = [values.count]
        self.scalars = values
    }

    /// Internal: a tensor whose shape is already known to be valid, filled by `body` (which must
    /// write every element).
    init(validShape shape: [Int], fill body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let count = shape.elementCount
        self.shape = shape
        self.scalars = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            body(buffer)
            initialized = count
        }
    }

    /// Internal: wraps values whose count is already known to match `shape`.
    init(validShape shape: [Int], scalars: [Float]) {
        self.shape = shape
        self.scalars = scalars
    }

    /// Number of elements.
    public var count: Int { scalars.count }
    /// Number of axes.
    public var rank: Int { shape.count }

    /// The single value of a one-element tensor.
    public var scalarValue: Float? { scalars.count == 1 ? scalars[0] : nil }

    /// Checks that a shape has no negative sizes and an element count that does not overflow.
    public static func validate(_ shape: [Int], op: String) throws {
        var total = 1
        for size in shape {
            guard size >= 0 else {
                throw TensorError.invalidShape(op: op, shape: shape, reason: "negative axis size")
            }
            let (product, overflow) = total.multipliedReportingOverflow(by: size)
            guard !overflow, product <= Int(Int32.max) * 64 else {
                throw TensorError.invalidShape(op: op, shape: shape, reason: "too many elements")
            }
            total = product
        }
    }
}

extension Array where Element == Int {
    /// The product of the sizes: the number of elements of a tensor of this shape.
    public var elementCount: Int { reduce(1, *) }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = scalars.prefix(8).map { String(format: "%.4g", Double($0)) }.joined(separator: ", ")
        return "Tensor\(shape)[\(preview)\(scalars.count > 8 ? ", …" : "")]"
    }
}
