// Rotary position embeddings (RoPE).
//
// Each pair of dimensions (a, b) of a query or key head is rotated by angle position · ω_i.
// Which dimensions pair up depends on the checkpoint's layout:
//   - `.interleaved`: pairs (0, 1), (2, 3), …  (GGUF files of Llama models; llama.cpp permutes
//     the query and key weights into this order when converting);
//   - `.halfSplit`: pairs (i, i + e/2)        (Hugging Face checkpoints, GPT-NeoX, Qwen GGUFs).
// Both compute the same attention scores from their own weights.

import Foundation

/// Which dimensions of a head are rotated together.
public enum RotaryStyle: String, Sendable, Codable {
    case interleaved
    case halfSplit
}

/// Precomputed cos and sin of position · ω_i, for positions 0..<positions.
public struct RotaryTable: Sendable {
    /// Number of rotated dimensions per head (even; at most the head dimension).
    public let dimension: Int
    /// Number of positions covered.
    public let positions: Int
    /// [positions, dimension / 2]
    let cosines: [Float]
    /// [positions, dimension / 2]
    let sines: [Float]

    /// The standard frequencies ω_i = base^(−2i/dimension).
    public static func inverseFrequencies(base: Double, dimension: Int) -> [Double] {
        (0..<(dimension / 2)).map { i in 1 / Foundation.pow(base, Double(2 * i) / Double(dimension)) }
    }

    /// A table for the given frequencies (angles computed in Double).
    public init(inverseFrequencies: [Double], positions: Int) {
        self.dimension = inverseFrequencies.count * 2
        self.positions = positions
        var cosines = [Float](), sines = [Float]()
        cosines.reserveCapacity(positions * inverseFrequencies.count)
        sines.reserveCapacity(positions * inverseFrequencies.count)
        for p in 0..<positions {
            for w in inverseFrequencies {
                let angle = Double(p) * w
                cosines.append(Float(Foundation.cos(angle)))
                sines.append(Float(Foundation.sin(angle)))
            }
        }
        self.cosines = cosines
        self.sines = sines
    }
}

extension Tensor {
    /// Rotates heads of `self` ([n, h, e]) for positions `start..<start + n`. With `inverse`, rotates
    /// by the negative angle, which is the transpose of the rotation (its vector–Jacobian product).
    public func applyingRotary(
        _ table: RotaryTable, style: RotaryStyle, startPosition: Int = 0, inverse: Bool = false
    ) throws -> Tensor {
        guard rank == 3, table.dimension <= shape[2], table.dimension % 2 == 0 else {
            throw TensorError.invalidShape(op: "rotary", shape: shape, reason: "expected [n, h, e] with e ≥ \(table.dimension)")
        }
        let (n, h, e) = (shape[0], shape[1], shape[2])
        guard startPosition >= 0, startPosition + n <= table.positions else {
            throw TensorError.indexOutOfRange(op: "rotary", index: startPosition + n, bound: table.positions + 1)
        }
        let half = table.dimension / 2
        let sign: Float = inverse ? -1 : 1
        var out = self
        out.scalars.withUnsafeMutableBufferPointer { x in
            table.cosines.withUnsafeBufferPointer { cosines in
                table.sines.withUnsafeBufferPointer { sines in
                    for p in 0..<n {
                        let c = cosines.baseAddress! + (startPosition + p) * half
                        let s = sines.baseAddress! + (startPosition + p) * half
                        for head in 0..<h {
                            let v = x.baseAddress! + (p * h + head) * e
                            for i in 0..<half {
                                let (ia, ib) = style == .interleaved ? (2 * i, 2 * i + 1) : (i, i + half)
                                let a = v[ia], b = v[ib]
                                let sn = sign * s[i]
                                v[ia] = a * c[i] - b * sn
                                v[ib] = a * sn + b * c[i]
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
