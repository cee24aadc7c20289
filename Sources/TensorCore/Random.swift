// Deterministic random numbers: the same seed gives the same tensors on every machine.

import Foundation

/// xoshiro256** seeded through SplitMix64; fast, reproducible, not cryptographic.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var words: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        words = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// The generator's state, to save and restore a stream exactly (checkpoints).
    public var state: [UInt64] {
        get { [words.0, words.1, words.2, words.3] }
        set { if newValue.count == 4 { words = (newValue[0], newValue[1], newValue[2], newValue[3]) } }
    }

    public mutating func next() -> UInt64 {
        let result = ((words.1 &* 5) << 7 | (words.1 &* 5) >> 57) &* 9
        let t = words.1 << 17
        words.2 ^= words.0
        words.3 ^= words.1
        words.1 ^= words.2
        words.0 ^= words.3
        words.2 ^= t
        words.3 = (words.3 << 45) | (words.3 >> 19)
        return result
    }

    /// A uniform Float in [0, 1).
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / Float(1 << 24))
    }

    /// A standard normal sample (Box–Muller).
    public mutating func nextNormal() -> Float {
        let u1 = Double(next() >> 11) * (1.0 / Double(1 << 53))
        let u2 = Double(next() >> 11) * (1.0 / Double(1 << 53))
        return Float((-2 * Foundation.log(Swift.max(u1, 1e-300))).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }
}

extension Tensor {
    /// Normal samples with the given standard deviation.
    public static func randomNormal(_ shape: [Int], standardDeviation: Float = 1, using generator: inout SeededGenerator) throws -> Tensor {
        try validate(shape, op: "randomNormal")
        return Tensor(validShape: shape, scalars: (0..<shape.elementCount).map { _ in generator.nextNormal() * standardDeviation })
    }

    /// Uniform samples in [low, high).
    public static func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1, using generator: inout SeededGenerator) throws -> Tensor {
        try validate(shape, op: "randomUniform")
        return Tensor(validShape: shape, scalars: (0..<shape.elementCount).map { _ in low + (high - low) * generator.nextUniform() })
    }
}
