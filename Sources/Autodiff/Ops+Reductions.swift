// Sums and means. The pullback of a reduction broadcasts the cotangent back over the reduced axis.

import TensorCore

extension Variable {
    /// Sum along `axis` (removed).
    public func sum(axis: Int) throws -> Variable {
        let a = try value.axisIndex(axis, op: "sum")
        let inShape = shape
        return tape.record(try value.sum(axis: a), inputs: [self], name: "sum") { g, _ in
            // Put the reduced axis back as size 1 and broadcast over it.
            var kept = g.shape
            kept.insert(1, at: a + 1)
            let ones = try Tensor(repeating: 1, shape: inShape)
            return [try g.reshaped(kept) * ones]
        }
    }

    /// Mean along `axis` (removed).
    public func mean(axis: Int) throws -> Variable {
        let a = try value.axisIndex(axis, op: "mean")
        return try sum(axis: a).scaled(by: 1 / Float(max(shape[a], 1)))
    }

    /// Sum of all elements, as a rank-0 value.
    public func sumAll() -> Variable {
        let inShape = shape
        return tape.record(Tensor(scalar: value.sum()), inputs: [self], name: "sumAll") { g, _ in
            let batch = g.shape[0]
            let perSeed = try g.reshaped([batch] + [Int](repeating: 1, count: inShape.count))
            return [try perSeed * Tensor(repeating: 1, shape: inShape)]
        }
    }

    /// Mean of all elements, as a rank-0 value.
    public func meanAll() -> Variable {
        sumAll().scaled(by: 1 / Float(max(value.count, 1)))
    }
}
