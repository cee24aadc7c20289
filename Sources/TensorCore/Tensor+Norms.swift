// Normalisations over the last axis. Both return the per-row scale they applied, because
// attribution freezes exactly that scale (ATTRIBUTION.md §1: for RMSNorm 1/rms(x), for
// LayerNorm 1/std(x)).

extension Tensor {
    private func normRows(_ weight: Tensor?, op: String) throws -> (rows: Int, width: Int) {
        guard let width = shape.last, width > 0 else {
            throw TensorError.invalidShape(op: op, shape: shape, reason: "needs a non-empty last axis")
        }
        if let weight, weight.shape != [width] {
            throw TensorError.shapeMismatch(op: op, lhs: shape, rhs: weight.shape)
        }
        return (count / width, width)
    }

    /// RMSNorm: y = x · s · w with s = 1 / sqrt(mean(x²) + eps) per row.
    /// Returns the output and the scales s, shape [rows].
    public func rmsNorm(weight: Tensor?, epsilon: Float) throws -> (output: Tensor, scales: Tensor) {
        let (rows, width) = try normRows(weight, op: "rmsNorm")
        var scales = [Float](repeating: 0, count: rows)
        let output = Tensor(validShape: shape) { out in
            scalars.withUnsafeBufferPointer { x in
                for r in 0..<rows {
                    let src = x.baseAddress! + r * width, dst = out.baseAddress! + r * width
                    let s = 1 / (VectorReduce.sumOfSquares(src, width) / Float(width) + epsilon).squareRoot()
                    scales[r] = s
                    if let weight {
                        weight.scalars.withUnsafeBufferPointer { w in
                            for j in 0..<width { dst[j] = src[j] * s * w[j] }
                        }
                    } else {
                        for j in 0..<width { dst[j] = src[j] * s }
                    }
                }
            }
        }
        return (output, Tensor(validShape: [rows], scalars: scales))
    }

    /// LayerNorm: y = (x − mean) · s · w + b with s = 1 / sqrt(var + eps) per row.
    /// Returns the output and the scales s, shape [rows].
    public func layerNorm(weight: Tensor?, bias: Tensor?, epsilon: Float) throws -> (output: Tensor, scales: Tensor) {
        let (rows, width) = try normRows(weight, op: "layerNorm")
        if let bias, bias.shape != [width] {
            throw TensorError.shapeMismatch(op: "layerNorm", lhs: shape, rhs: bias.shape)
        }
        var scales = [Float](repeating: 0, count: rows)
        let w = weight?.scalars ?? [Float](repeating: 1, count: width)
        let b = bias?.scalars ?? [Float](repeating: 0, count: width)
        let output = Tensor(validShape: shape) { out in
            scalars.withUnsafeBufferPointer { x in
                for r in 0..<rows {
                    let src = x.baseAddress! + r * width, dst = out.baseAddress! + r * width
                    let mean = VectorReduce.sum(src, width) / Float(width)
                    var variance: Float = 0
                    for j in 0..<width { dst[j] = src[j] - mean }
                    variance = VectorReduce.sumOfSquares(dst, width)
                    let s = 1 / (variance / Float(width) + epsilon).squareRoot()
                    scales[r] = s
                    for j in 0..<width { dst[j] = dst[j] * s * w[j] + b[j] }
                }
            }
        }
        return (output, Tensor(validShape: [rows], scalars: scales))
    }
}
