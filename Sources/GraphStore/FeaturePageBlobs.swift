// Compact encodings of a feature page's lists, stored as blobs in the `feature` table.
//
//   contexts    version u8 (1) · count u8 · per context: sequence u32 · start u16 · length u8 ·
//               peak u8 · length × activation f16
//   logit_lens  version u8 (1) · promoted u8 · suppressed u8 · per token: id u32 · score f32
//   sequences   (feature_scan) every scanned sequence's token ids as u32, sequence after sequence
// All little-endian. Decoding checks every length against the blob before reading.

import Foundation
import TensorCore
import Transcoders

enum FeaturePageBlobs {
    static func encode(contexts: [FeatureContext]) -> Data {
        var w = ByteWriter()
        w.u8(1)
        w.u8(min(contexts.count, 255))
        for c in contexts.prefix(255) {
            let length = min(c.activations.count, 255)
            w.u32(c.sequence)
            w.u16(c.start)
            w.u8(length)
            w.u8(min(c.peak, length - 1))
            for a in c.activations.prefix(length) { w.u16(Int(halfBitsFromFloat(a))) }
        }
        return w.data
    }

    static func decodeContexts(_ data: Data) throws -> [FeatureContext] {
        var r = ByteReader(data)
        guard try r.u8() == 1 else { throw ByteReader.Failure.version }
        return try (0..<r.u8()).map { _ in
            let sequence = try r.u32(), start = try r.u16(), length = try r.u8(), peak = try r.u8()
            let activations = try (0..<length).map { _ in floatFromHalfBits(UInt16(try r.u16())) }
            guard peak < max(length, 1) else { throw ByteReader.Failure.truncated }
            return FeatureContext(sequence: sequence, start: start, activations: activations, peak: peak)
        }
    }

    static func encode(promoted: [TokenScore], suppressed: [TokenScore]) -> Data {
        var w = ByteWriter()
        w.u8(1)
        w.u8(min(promoted.count, 255))
        w.u8(min(suppressed.count, 255))
        for t in promoted.prefix(255) + suppressed.prefix(255) {
            w.u32(t.token)
            w.f32(t.score)
        }
        return w.data
    }

    static func decodeLogitLens(_ data: Data) throws -> (promoted: [TokenScore], suppressed: [TokenScore]) {
        var r = ByteReader(data)
        guard try r.u8() == 1 else { throw ByteReader.Failure.version }
        let (p, s) = (try r.u8(), try r.u8())
        let all = try (0..<(p + s)).map { _ in TokenScore(token: try r.u32(), score: try r.f32()) }
        return (Array(all[..<p]), Array(all[p...]))
    }

    static func encode(sequences: [[Int]]) -> Data {
        var w = ByteWriter()
        for s in sequences { for t in s { w.u32(t) } }
        return w.data
    }

    static func decodeSequences(_ data: Data, length: Int) throws -> [[Int]] {
        guard length > 0, data.count % (4 * length) == 0 else { throw ByteReader.Failure.truncated }
        var r = ByteReader(data)
        return try (0..<(data.count / (4 * length))).map { _ in try (0..<length).map { _ in try r.u32() } }
    }
}

struct ByteWriter {
    var data = Data()
    mutating func u8(_ v: Int) { data.append(UInt8(truncatingIfNeeded: v)) }
    mutating func u16(_ v: Int) { withUnsafeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian) { data.append(contentsOf: $0) } }
    mutating func u32(_ v: Int) { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { data.append(contentsOf: $0) } }
    mutating func f32(_ v: Float) { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
}

struct ByteReader {
    enum Failure: Error { case truncated, version }
    let data: Data
    var offset = 0
    init(_ data: Data) { self.data = Data(data) }

    mutating func bytes(_ n: Int) throws -> UInt64 {
        guard offset + n <= data.count else { throw Failure.truncated }
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(data[offset + i]) << (8 * UInt64(i)) }
        offset += n
        return v
    }
    mutating func u8() throws -> Int { Int(try bytes(1)) }
    mutating func u16() throws -> Int { Int(try bytes(2)) }
    mutating func u32() throws -> Int { Int(try bytes(4)) }
    mutating func f32() throws -> Float { Float(bitPattern: UInt32(try bytes(4))) }
}
