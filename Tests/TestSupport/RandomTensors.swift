// Reproducible random inputs for tests.

import TensorCore

/// A seeded source of test tensors.
public struct TestRandom {
    public var generator: SeededGenerator

    public init(seed: UInt64 = 42) { generator = SeededGenerator(seed: seed) }

    /// Normal samples.
    public mutating func normal(_ shape: [Int], std: Float = 1) -> Tensor {
        try! Tensor.randomNormal(shape, standardDeviation: std, using: &generator)
    }

    /// Uniform samples in [low, high).
    public mutating func uniform(_ shape: [Int], _ low: Float = -1, _ high: Float = 1) -> Tensor {
        try! Tensor.randomUniform(shape, low: low, high: high, using: &generator)
    }

    /// Samples whose magnitudes stay at least `gap` away from zero (for ops with a kink at 0).
    public mutating func awayFromZero(_ shape: [Int], gap: Float = 0.1) -> Tensor {
        uniform(shape, -1, 1).map { $0 >= 0 ? $0 + gap : $0 - gap }
    }

    /// Values in `0..<bound`.
    public mutating func indices(_ count: Int, below bound: Int) -> [Int] {
        (0..<count).map { _ in Int(generator.next() % UInt64(bound)) }
    }

    /// A row-stochastic causal attention pattern [h, n, n] (rows sum to 1, zero above the diagonal).
    public mutating func causalPattern(heads: Int, positions n: Int) -> Tensor {
        var p = uniform([heads, n, n], 0.1, 1)
        for h in 0..<heads {
            for q in 0..<n {
                var total: Float = 0
                for k in 0..<n {
                    if k > q { p.scalars[(h * n + q) * n + k] = 0 }
                    total += p.scalars[(h * n + q) * n + k]
                }
                for k in 0...q { p.scalars[(h * n + q) * n + k] /= total }
            }
        }
        return p
    }
}
