// The unpruned adjacency in a compact, exact encoding, kept so a stored graph can be re-pruned
// at other thresholds without recomputing attribution. Re-pruning sorts and sums normalised
// weights, so it needs every weight exactly: both versions are lossless, bit for bit.
//
// Version 2 (written now):
//   "CADJ" · version u32 (2) · N u32 · nonzeros u32 · index bytes u32 · compressed index bytes u32
//   · compressed values bytes u32 · deflate(index) · deflate(values)
//   index: per row, the number of runs of nonzero columns, then each run as (gap from the end of
//   the previous run, length), all as LEB128 varints. Rows of error and token nodes are empty and
//   feature rows are nonzero in a few runs (their causal cone), so this is a few bytes per row.
//   values: the nonzero Float32s in row-major order, split into four byte planes (every first
//   byte, then every second, …), which deflate better than interleaved floats because the sign
//   and exponent bytes repeat. Attribution weights are otherwise close to noise: on the default
//   graph this is 13.2 MB against version 1's 16.8 MB (level 1: nearly level 6's size, in 0.4 s
//   instead of 0.9 s).
// Version 1 (read only): "CADJ" · 1 · N · an N×ceil(N/8) bitmap of nonzero columns · the nonzero
// Float32s.

import Attribution
import CZlib
import Foundation
import TensorCore

enum SparseAdjacency {
    static func encode(_ a: Tensor) throws -> Data {
        let n = a.shape[0]
        var index = [UInt8](), planes = [[UInt8]](repeating: [], count: 4)
        var nonzeros = 0
        func varint(_ v: Int) {
            var v = UInt(v)
            while v >= 0x80 { index.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
            index.append(UInt8(v))
        }
        a.scalars.withUnsafeBufferPointer { p in
            var runs = [(start: Int, length: Int)]()
            for r in 0..<n {
                runs.removeAll(keepingCapacity: true)
                var c = 0
                while c < n {
                    guard p[r * n + c].bitPattern != 0 else { c += 1; continue }
                    let start = c
                    while c < n && p[r * n + c].bitPattern != 0 {
                        let bits = p[r * n + c].bitPattern
                        for b in 0..<4 { planes[b].append(UInt8(truncatingIfNeeded: bits >> (8 * b))) }
                        c += 1
                    }
                    runs.append((start, c - start))
                    nonzeros += c - start
                }
                varint(runs.count)
                var end = 0
                for run in runs { varint(run.start - end); varint(run.length); end = run.start + run.length }
            }
        }
        let values = planes.flatMap { $0 }
        let (packedIndex, packedValues) = (try deflate(index), try deflate(values))
        var data = Data("CADJ".utf8)
        for field in [2, n, nonzeros, index.count, packedIndex.count, packedValues.count] {
            withUnsafeBytes(of: UInt32(field).littleEndian) { data.append(contentsOf: $0) }
        }
        data.append(contentsOf: packedIndex)
        data.append(contentsOf: packedValues)
        return data
    }

    /// The most bytes a decoded (dense) adjacency may take: 80% of physical memory, as for a trace.
    nonisolated(unsafe) static var memoryLimit: Double = MemoryEstimate.available

    static func decode(_ data: Data, graph: String) throws -> Tensor {
        func bad(_ reason: String) -> GraphStoreError { .invalidBlob(graph: graph, reason: reason) }
        guard data.count >= 12, data.prefix(4) == Data("CADJ".utf8) else { throw bad("bad header") }
        let bytes = [UInt8](data)
        func u32(_ offset: Int) -> Int {
            Int(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
        }
        let version = u32(4), n = u32(8)
        guard n <= 1 << 16 else { throw bad("\(n) nodes is more than a graph can have") }
        // The adjacency is dense once read: refuse before allocating one that cannot fit.
        let dense = 4 * Double(n) * Double(n)
        guard dense <= SparseAdjacency.memoryLimit else {
            throw bad(String(format: "%d nodes need %.1f GB as a dense adjacency, more than the %.1f GB allowed", n, dense / 1e9,
                             SparseAdjacency.memoryLimit / 1e9))
        }
        switch version {
        case 1: return try decodeVersion1(bytes, n: n, bad: bad)
        case 2: break
        default: throw bad("unknown version \(version)")
        }
        guard bytes.count >= 32 else { throw bad("truncated header") }
        let (nonzeros, indexBytes, packedIndex, packedValues) = (u32(12), u32(16), u32(20), u32(24))
        // zlib expands at most about 1,032-fold, so declared sizes beyond that are not this blob's.
        guard nonzeros <= n * n, 28 + packedIndex + packedValues == bytes.count, indexBytes <= 2 * 5 * (n * n + n),
              indexBytes <= 1100 * packedIndex + 64, 4 * nonzeros <= 1100 * packedValues + 64 else {
            throw bad("sizes do not match the blob")
        }
        let index = try inflate(bytes[28..<(28 + packedIndex)], to: indexBytes, bad: bad)
        let values = try inflate(bytes[(28 + packedIndex)...], to: 4 * nonzeros, bad: bad)
        var out = try Tensor(zeros: [n, n])
        var at = 0, k = 0
        func varint() throws -> Int {
            var v = 0, shift = 0
            while true {
                guard at < index.count, shift < 35 else { throw bad("truncated index") }
                let b = index[at]
                at += 1
                v |= Int(b & 0x7f) << shift
                if b < 0x80 { return v }
                shift += 7
            }
        }
        try out.scalars.withUnsafeMutableBufferPointer { p in
            for r in 0..<n {
                var end = 0
                for _ in 0..<(try varint()) {
                    let start = end + (try varint()), length = try varint()
                    guard start + length <= n, k + length <= nonzeros else { throw bad("a run leaves the row") }
                    for c in start..<(start + length) {
                        let bits = UInt32(values[k]) | UInt32(values[nonzeros + k]) << 8 | UInt32(values[2 * nonzeros + k]) << 16
                            | UInt32(values[3 * nonzeros + k]) << 24
                        p[r * n + c] = Float(bitPattern: bits)
                        k += 1
                    }
                    end = start + length
                }
            }
        }
        guard k == nonzeros, at == index.count else { throw bad("the index and the values disagree") }
        return out
    }

    static func decodeVersion1(_ bytes: [UInt8], n: Int, bad: (String) -> GraphStoreError) throws -> Tensor {
        let bitmapBytes = (n + 7) / 8
        guard bytes.count >= 12 + n * bitmapBytes else { throw bad("truncated") }
        var out = try Tensor(zeros: [n, n])
        var offset = 12 + n * bitmapBytes
        try out.scalars.withUnsafeMutableBufferPointer { p in
            for r in 0..<n {
                for c in 0..<n where bytes[12 + r * bitmapBytes + c / 8] & UInt8(1 << (c % 8)) != 0 {
                    guard offset + 4 <= bytes.count else { throw bad("truncated values") }
                    let bits = UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
                    p[r * n + c] = Float(bitPattern: bits)
                    offset += 4
                }
            }
        }
        guard offset == bytes.count else { throw bad("trailing bytes") }
        return out
    }

    static func deflate(_ input: [UInt8]) throws -> [UInt8] {
        var size = compressBound(uLong(input.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        let status = input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in compress2(o.baseAddress, &size, i.baseAddress, uLong(input.count), 1) }
        }
        guard status == Z_OK else { throw GraphStoreError.invalidRequest("compressing the adjacency failed (zlib status \(status))") }
        return Array(out.prefix(Int(size)))
    }

    static func inflate(_ input: ArraySlice<UInt8>, to count: Int, bad: (String) -> GraphStoreError) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max(count, 1))
        var size = uLong(count)
        let status = input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in uncompress(o.baseAddress, &size, i.baseAddress, uLong(input.count)) }
        }
        guard status == Z_OK, Int(size) == count else { throw bad("its compressed data is damaged") }
        return Array(out.prefix(count))
    }
}
