// Losses: mean squared error and cross-entropy, each a rank-0 value.

import TensorCore

extension Variable {
    /// mean((self − target)²) over all elements; `target` is a constant of the same shape.
    public func meanSquaredError(_ target: Tensor) throws -> Variable {
        let difference = try value - target
        guard difference.shape == shape else {
            throw TensorError.shapeMismatch(op: "meanSquaredError", lhs: shape, rhs: target.shape)
        }
        let n = Float(max(difference.count, 1))
        let loss = Tensor(scalar: difference.squared().sum() / n)
        return tape.record(loss, inputs: [self], name: "meanSquaredError") { g, _ in
            // d/dx = 2 (x − t) / N, scaled per seed by g.
            let perSeed = try g.reshaped([g.shape[0]] + [Int](repeating: 1, count: difference.rank))
            return [try perSeed * difference.scaled(by: 2 / n)]
        }
    }

    /// Mean over rows of −log softmax(self)[target]; `self` is [rows, classes].
    public func crossEntropy(targets: [Int]) throws -> Variable {
        guard shape.count == 2, targets.count == shape[0] else {
            throw TensorError.shapeMismatch(op: "crossEntropy", lhs: shape, rhs: [targets.count])
        }
        let classes = shape[1]
        for t in targets where t < 0 || t >= classes {
            throw TensorError.indexOutOfRange(op: "crossEntropy", index: t, bound: classes)
        }
        let logProbabilities = try value.logSoftmax()
        let rows = Float(max(targets.count, 1))
        let total = targets.enumerated().reduce(0.0) { $0 - Double(logProbabilities.scalars[$1.offset * classes + $1.element]) }
        return tape.record(Tensor(scalar: Float(total) / rows), inputs: [self], name: "crossEntropy") { g, _ in
            // d/dx = (softmax − one-hot) / rows
            var d = logProbabilities.exp()
            for (r, t) in targets.enumerated() { d.scalars[r * classes + t] -= 1 }
            let perSeed = try g.reshaped([g.shape[0], 1, 1])
            return [try perSeed * d.scaled(by: 1 / rows)]
        }
    }
}
