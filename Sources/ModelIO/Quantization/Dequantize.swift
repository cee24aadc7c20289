// Dequantisation of ggml blocks to Float32. Blocks are independent, so large tensors are split
// across cores. Each kernel is the block layout of QuantBlocks.swift read in order.

import Dispatch
import TensorCore

public enum Dequantize {
    /// Decodes `count` elements of `type` at `source` into `destination`.
    /// `count` must be a whole number of blocks (GGUFFile checks this when opening).
    public static func run(_ type: GGMLType, _ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        guard let (blockElements, blockBytes) = type.blockGeometry, count > 0 else { return }
        let blocks = count / blockElements
        let chunks = blocks >= 4096 ? 8 : 1
        let perChunk = (blocks + chunks - 1) / chunks
        let src = UInt(bitPattern: source), dst = UInt(bitPattern: destination)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let first = chunk * perChunk
            let last = min(blocks, first + perChunk)
            guard first < last else { return }
            let from = UnsafeRawPointer(bitPattern: src)! + first * blockBytes
            let to = UnsafeMutablePointer<Float>(bitPattern: dst)! + first * blockElements
            decode(type, from, blocks: last - first, into: to)
        }
    }

    private static func decode(_ type: GGMLType, _ p: UnsafeRawPointer, blocks: Int, into y: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32:
            UnsafeMutableRawPointer(y).copyMemory(from: p, byteCount: blocks * 4)
        case .f16:
            for i in 0..<blocks { y[i] = floatFromHalfBits(p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .bf16:
            for i in 0..<blocks { y[i] = floatFromBFloat16Bits(p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .q4_0:
            for b in 0..<blocks { q4_0(p.loadUnaligned(fromByteOffset: b * 18, as: BlockQ4_0.self), y + b * 32) }
        case .q4_1:
            for b in 0..<blocks { q4_1(p.loadUnaligned(fromByteOffset: b * 20, as: BlockQ4_1.self), y + b * 32) }
        case .q5_0:
            for b in 0..<blocks { q5_0(p.loadUnaligned(fromByteOffset: b * 22, as: BlockQ5_0.self), y + b * 32) }
        case .q5_1:
            for b in 0..<blocks { q5_1(p.loadUnaligned(fromByteOffset: b * 24, as: BlockQ5_1.self), y + b * 32) }
        case .q2_K:
            for b in 0..<blocks { q2_K(p.loadUnaligned(fromByteOffset: b * 84, as: BlockQ2_K.self), y + b * 256) }
        case .q3_K:
            for b in 0..<blocks { q3_K(p.loadUnaligned(fromByteOffset: b * 110, as: BlockQ3_K.self), y + b * 256) }
        case .q5_K:
            for b in 0..<blocks { q5_K(p.loadUnaligned(fromByteOffset: b * 176, as: BlockQ5_K.self), y + b * 256) }
        case .q8_0:
            for b in 0..<blocks { q8_0(p.loadUnaligned(fromByteOffset: b * 34, as: BlockQ8_0.self), y + b * 32) }
        case .q4_K:
            for b in 0..<blocks { q4_K(p.loadUnaligned(fromByteOffset: b * 144, as: BlockQ4_K.self), y + b * 256) }
        case .q6_K:
            for b in 0..<blocks { q6_K(p.loadUnaligned(fromByteOffset: b * 210, as: BlockQ6_K.self), y + b * 256) }
        default:
            for i in 0..<(blocks * (type.blockGeometry?.elements ?? 0)) { y[i] = .nan }
        }
    }

    @inline(__always)
    static func q4_0(_ block: BlockQ4_0, _ y: UnsafeMutablePointer<Float>) {
        let d = floatFromHalfBits(block.d)
        for j in 0..<16 {
            let q = block.qs[j]
            y[j] = d * Float(Int(q & 0x0F) - 8)
            y[j + 16] = d * Float(Int(q >> 4) - 8)
        }
    }

    @inline(__always)
    static func q4_1(_ block: BlockQ4_1, _ y: UnsafeMutablePointer<Float>) {
        let d = floatFromHalfBits(block.d), m = floatFromHalfBits(block.m)
        for j in 0..<16 {
            let q = block.qs[j]
            y[j] = d * Float(q & 0x0F) + m
            y[j + 16] = d * Float(q >> 4) + m
        }
    }

    @inline(__always)
    static func q8_0(_ block: BlockQ8_0, _ y: UnsafeMutablePointer<Float>) {
        let d = floatFromHalfBits(block.d)
        for j in 0..<32 { y[j] = d * Float(block.qs[j]) }
    }

    /// The 6-bit scale and min of sub-block j (0..<8) of a Q4_K block.
    @inline(__always)
    static func scaleMinK4(_ j: Int, _ s: InlineArray<12, UInt8>) -> (scale: UInt8, min: UInt8) {
        if j < 4 { return (s[j] & 63, s[j + 4] & 63) }
        return ((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4))
    }

    @inline(__always)
    static func q4_K(_ block: BlockQ4_K, _ y: UnsafeMutablePointer<Float>) {
        let d = floatFromHalfBits(block.d), dmin = floatFromHalfBits(block.dmin)
        // Four groups of 64 weights; each group uses 32 bytes of codes, low nibbles then high.
        for group in 0..<4 {
            let (s1, m1) = scaleMinK4(2 * group, block.scales)
            let (s2, m2) = scaleMinK4(2 * group + 1, block.scales)
            let (d1, o1) = (d * Float(s1), dmin * Float(m1))
            let (d2, o2) = (d * Float(s2), dmin * Float(m2))
            let out = y + group * 64
            for l in 0..<32 {
                let q = block.qs[group * 32 + l]
                out[l] = d1 * Float(q & 0x0F) - o1
                out[l + 32] = d2 * Float(q >> 4) - o2
            }
        }
    }

    @inline(__always)
    static func q6_K(_ block: BlockQ6_K, _ y: UnsafeMutablePointer<Float>) {
        let d = floatFromHalfBits(block.d)
        // Two halves of 128 weights; each uses 64 bytes of ql, 32 of qh and 8 scales.
        for half in 0..<2 {
            let (ql, qh, sc, out) = (half * 64, half * 32, half * 8, y + half * 128)
            for l in 0..<32 {
                let scale = l / 16
                let high = block.qh[qh + l]
                let q1 = Int((block.ql[ql + l] & 0x0F) | ((high & 3) << 4)) - 32
                let q2 = Int((block.ql[ql + l + 32] & 0x0F) | (((high >> 2) & 3) << 4)) - 32
                let q3 = Int((block.ql[ql + l] >> 4) | (((high >> 4) & 3) << 4)) - 32
                let q4 = Int((block.ql[ql + l + 32] >> 4) | (((high >> 6) & 3) << 4)) - 32
                out[l] = d * Float(block.scales[sc + scale]) * Float(q1)
                out[l + 32] = d * Float(block.scales[sc + scale + 2]) * Float(q2)
                out[l + 64] = d * Float(block.scales[sc + scale + 4]) * Float(q3)
                out[l + 96] = d * Float(block.scales[sc + scale + 6]) * Float(q4)
            }
        }
    }

    /// The 5-bit codes of weights j and j + 16 of a Q5 block: 4 bits from `qs[j]`, the fifth from
    /// bits j and j + 16 of the little-endian word `qh`.
    @inline(__always)
    static func q5Codes(_ qs: InlineArray<16, UInt8>, _ qh: InlineArray<4, UInt8>, _ j: Int) -> (Int, Int) {
        let high = UInt32(qh[0]) | UInt32(qh[1]) << 8 | UInt32(qh[2]) << 16 | UInt32(qh[3]) << 24
        let q = qs[j]
        return (Int(q & 0x0F) | Int((high >> UInt32(j)) & 1) << 4, Int(q >> 4) | Int((high >> UInt32(j + 16)) & 1) << 4)
    }

    @inline(__always)
    static func q5_0(_ block: BlockQ5_0, _ y: UnsafeMutablePointer<Float>) {
        let d = floatFromHalfBits(block.d)
        for j in 0..<16 {
            let (c0, c1) = q5Codes(block.qs, block.qh, j)
            y[j] = d * Float(c0 - 16)
            y[j + 16] = d * Float(c1 - 16)
        }
    }

    @inline(__always)
    static func q5_1(_ block: BlockQ5_1, _ y: UnsafeMutablePointer<Float>) {
        let d = floatFromHalfBits(block.d), m = floatFromHalfBits(block.m)
        for j in 0..<16 {
            let (c0, c1) = q5Codes(block.qs, block.qh, j)
            y[j] = d * Float(c0) + m
            y[j + 16] = d * Float(c1) + m
        }
    }

    @inline(__always)
    static func q2_K(_ block: BlockQ2_K, _ y: UnsafeMutablePointer<Float>) {
        let d = floatFromHalfBits(block.d), dmin = floatFromHalfBits(block.dmin)
        // Two halves of 128 weights, each reading 32 code bytes four times (2 bits at a time);
        // every 16 weights take the next scale byte.
        var sub = 0
        for half in 0..<2 {
            for step in 0..<4 {
                let shift = UInt8(2 * step)
                for part in 0..<2 {
                    let sc = block.scales[sub]
                    let (dl, ml) = (d * Float(sc & 0x0F), dmin * Float(sc >> 4))
                    let out = y + sub * 16
                    for l in 0..<16 { out[l] = dl * Float((block.qs[half * 32 + part * 16 + l] >> shift) & 3) - ml }
                    sub += 1
                }
            }
        }
    }

    /// The sixteen 6-bit scales of a Q3_K block (each still offset by 32).
    @inline(__always)
    static func scalesK3(_ s: InlineArray<12, UInt8>) -> InlineArray<16, Int> {
        var out = InlineArray<16, Int>(repeating: 0)
        for j in 0..<16 {
            let low = j < 8 ? s[j] & 0x0F : s[j - 8] >> 4
            let high = (s[8 + j % 4] >> UInt8(2 * (j / 4))) & 3
            out[j] = Int(low | high << 4)
        }
        return out
    }

    @inline(__always)
    static func q3_K(_ block: BlockQ3_K, _ y: UnsafeMutablePointer<Float>) {
        let d = floatFromHalfBits(block.d)
        let scales = scalesK3(block.scales)
        var sub = 0, mask: UInt8 = 1
        for half in 0..<2 {
            for step in 0..<4 {
                let shift = UInt8(2 * step)
                for part in 0..<2 {
                    let dl = d * Float(scales[sub] - 32)
                    let out = y + sub * 16
                    for l in 0..<16 {
                        let i = part * 16 + l
                        let q = Int((block.qs[half * 32 + i] >> shift) & 3) - (block.hmask[i] & mask != 0 ? 0 : 4)
                        out[l] = dl * Float(q)
                    }
                    sub += 1
                }
                mask <<= 1
            }
        }
    }

    @inline(__always)
    static func q5_K(_ block: BlockQ5_K, _ y: UnsafeMutablePointer<Float>) {
        let d = floatFromHalfBits(block.d), dmin = floatFromHalfBits(block.dmin)
        for group in 0..<4 {
            let (s1, m1) = scaleMinK4(2 * group, block.scales)
            let (s2, m2) = scaleMinK4(2 * group + 1, block.scales)
            let (d1, o1) = (d * Float(s1), dmin * Float(m1))
            let (d2, o2) = (d * Float(s2), dmin * Float(m2))
            let (bit1, bit2) = (UInt8(1) << UInt8(2 * group), UInt8(2) << UInt8(2 * group))
            let out = y + group * 64
            for l in 0..<32 {
                let q = block.qs[group * 32 + l], h = block.qh[l]
                out[l] = d1 * Float(Int(q & 0x0F) + (h & bit1 != 0 ? 16 : 0)) - o1
                out[l + 32] = d2 * Float(Int(q >> 4) + (h & bit2 != 0 ? 16 : 0)) - o2
            }
        }
    }
}
