// The k largest entries of each row of the last axis.

extension Tensor {
    /// For each row of the last axis, the `k` largest values in descending order and their
    /// indices (ties broken by the lower index). Shapes: [..., k] for both.
    public func topK(_ k: Int) throws -> (values: Tensor, indices: [Int]) {
        guard let width = shape.last else {
            throw TensorError.invalidShape(op: "topK", shape: shape, reason: "needs rank ≥ 1")
        }
        guard k >= 0, k <= width else {
            throw TensorError.invalidArgument(op: "topK", reason: "k = \(k) is outside 0...\(width)")
        }
        let rows = width == 0 ? 0 : count / width
        var values = [Float](repeating: 0, count: rows * k)
        var indices = [Int](repeating: 0, count: rows * k)
        var scratch = [Float](repeating: 0, count: width)
        scalars.withUnsafeBufferPointer { x in
            for r in 0..<rows {
                let row = UnsafeBufferPointer(rebasing: x[(r * width)..<((r + 1) * width)])
                let picked = topKIndices(row, k, scratch: &scratch)
                for (j, i) in picked.enumerated() {
                    values[r * k + j] = row[i]
                    indices[r * k + j] = i
                }
            }
        }
        var outShape = shape
        outShape[outShape.count - 1] = k
        return (Tensor(validShape: outShape, scalars: values), indices)
    }
}

/// The value of rank `k` (1 = largest) among `values`, found by quickselect; reorders `values`.
public func selectLargest(_ values: inout [Float], rank k: Int) -> Float {
    precondition(k >= 1 && k <= values.count, "rank out of range")
    var lo = 0, hi = values.count - 1
    let target = k - 1
    return values.withUnsafeMutableBufferPointer { v in
        while lo < hi {
            let pivot = v[(lo + hi) / 2]
            var i = lo, j = hi
            while i <= j {
                while v[i] > pivot { i += 1 }
                while v[j] < pivot { j -= 1 }
                if i <= j { v.swapAt(i, j); i += 1; j -= 1 }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { break }
        }
        return v[target]
    }
}

/// Indices of the k largest values of `row`, largest first, ties by lower index. NaNs rank last.
/// Selects the k-th largest value with a quickselect on a scratch copy (linear time), then
/// gathers and sorts only the winners.
public func topKIndices(_ row: UnsafeBufferPointer<Float>, _ k: Int, scratch: inout [Float]) -> [Int] {
    let width = row.count
    guard k > 0 else { return [] }
    if k >= width {
        return (0..<width).sorted { ordered(row[$0], $0, row[$1], $1) }
    }
    if scratch.count < width { scratch = [Float](repeating: 0, count: width) }
    for i in 0..<width { scratch[i] = row[i].isNaN ? -.infinity : row[i] }
    // Quickselect for the value at rank k-1 in descending order.
    var lo = 0, hi = width - 1
    let target = k - 1
    while lo < hi {
        let pivot = scratch[(lo + hi) / 2]
        var i = lo, j = hi
        while i <= j {
            while scratch[i] > pivot { i += 1 }
            while scratch[j] < pivot { j -= 1 }
            if i <= j { scratch.swapAt(i, j); i += 1; j -= 1 }
        }
        if target <= j { hi = j } else if target >= i { lo = i } else { break }
    }
    let threshold = scratch[target]
    var winners = [Int]()
    winners.reserveCapacity(k)
    var ties = [Int]()
    for i in 0..<width {
        let v = row[i].isNaN ? -.infinity : row[i]
        if v > threshold { winners.append(i) } else if v == threshold { ties.append(i) }
    }
    winners.append(contentsOf: ties.prefix(k - winners.count))
    return winners.sorted { ordered(row[$0], $0, row[$1], $1) }
}

@inline(__always)
private func ordered(_ a: Float, _ ia: Int, _ b: Float, _ ib: Int) -> Bool {
    let x = a.isNaN ? -Float.infinity : a, y = b.isNaN ? -Float.infinity : b
    return x != y ? x > y : ia < ib
}
