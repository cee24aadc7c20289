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
}
