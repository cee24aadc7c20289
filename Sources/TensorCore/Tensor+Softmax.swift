// Softmax and log-softmax along the last axis, numerically stable (the row maximum is
// subtracted first).

import Foundation

extension Tensor {
    private func lastAxisRows(op: String) throws -> (rows: Int, width: Int) {
        guard let width = shape.last, width > 0 else {
            throw TensorError.invalidShape(op: op, shape: shape, reason: "needs a non-empty last axis")
        }
        return (count / width, width)
    }

    /// Softmax over the last axis.
    public func softmax() throws -> Tensor {
        let (rows, width) = try lastAxisRows(op: "softmax")
        return Tensor(validShape: shape) { out in
            scalars.withUnsafeBufferPointer { x in
                for r in 0..<rows {
                    let src = x.baseAddress! + r * width, dst = out.baseAddress! + r * width
                    softmaxRow(src, dst, width)
                }
            }
        }
    }

    /// Log-softmax over the last axis.
    public func logSoftmax() throws -> Tensor {
        let (rows, width) = try lastAxisRows(op: "logSoftmax")
        return Tensor(validShape: shape) { out in
            scalars.withUnsafeBufferPointer { x in
                for r in 0..<rows {
                    let src = x.baseAddress! + r * width, dst = out.baseAddress! + r * width
                    let peak = VectorReduce.max(src, width)
                    for j in 0..<width { dst[j] = fastExp(src[j] - peak) }
                    let shift = peak + Float(Foundation.log(Double(VectorReduce.sum(dst, width))))
                    for j in 0..<width { dst[j] = src[j] - shift }
                }
            }
        }
    }
}

/// Softmax of one contiguous row; `src` and `dst` may be the same memory.
@inlinable @inline(__always)
public func softmaxRow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ width: Int) {
    let peak = VectorReduce.max(src, width)
    if UnsafePointer(dst) == src {
        // In place through one pointer: the compiler's overlap check would otherwise find the two
        // pointers overlapping and run the scalar loop (attention's patterns are softmaxed in place).
        for j in 0..<width { dst[j] = fastExp(dst[j] - peak) }
    } else {
        for j in 0..<width { dst[j] = fastExp(src[j] - peak) }
    }
    let inverse = 1 / VectorReduce.sum(dst, width)
    for j in 0..<width { dst[j] *= inverse }
}
