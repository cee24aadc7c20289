// The unpruned adjacency in a compact, exact encoding, kept so a stored graph can be re-pruned
// at other thresholds without recomputing attribution.
//
//   "CADJ" · version u32 (1) · N u32 · for each row: a bitmap of ceil(N/8) bytes marking nonzero
//   columns · then every nonzero Float32 in row-major order
// Rows of error and token nodes are all zero and feature rows are zero outside their causal
// cone, so this is a fraction of N²·4 bytes, and decoding restores every weight bit for bit.

import Foundation
import TensorCore

enum SparseAdjacency {
    static func encode(_ a: Tensor) -> Data {
        let n = a.shape[0]
        let bitmapBytes = (n + 7) / 8
        var bitmap = [UInt8](repeating: 0, count: n * bitmapBytes)
        var values = [Float]()
        a.scalars.withUnsafeBufferPointer { p in
            for r in 0..<n {
                for c in 0..<n where p[r * n + c].bitPattern != 0 {
                    bitmap[r * bitmapBytes + c / 8] |= UInt8(1 << (c % 8))
                    values.append(p[r * n + c])
                }
            }
        }
        var data = Data("CADJ".utf8)
        withUnsafeBytes(of: UInt32(1).littleEndian) { data.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(n).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: bitmap)
        values.withUnsafeBytes { data.append(contentsOf: $0) }
        return data
    }

    static func decode(_ data: Data, graph: String) throws -> Tensor {
        guard data.count >= 12, data.prefix(4) == Data("CADJ".utf8) else { throw GraphStoreError.invalidBlob(graph: graph, reason: "bad header") }
        return try data.withUnsafeBytes { raw -> Tensor in
            let version = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            let n = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
            guard version == 1, n <= 1 << 20 else { throw GraphStoreError.invalidBlob(graph: graph, reason: "unknown version or size") }
            let bitmapBytes = (n + 7) / 8
            guard data.count >= 12 + n * bitmapBytes else { throw GraphStoreError.invalidBlob(graph: graph, reason: "truncated") }
            var out = try Tensor(zeros: [n, n])
            var offset = 12 + n * bitmapBytes
            try out.scalars.withUnsafeMutableBufferPointer { p in
                for r in 0..<n {
                    for c in 0..<n where raw[12 + r * bitmapBytes + c / 8] & UInt8(1 << (c % 8)) != 0 {
                        guard offset + 4 <= data.count else { throw GraphStoreError.invalidBlob(graph: graph, reason: "truncated values") }
                        p[r * n + c] = raw.loadUnaligned(fromByteOffset: offset, as: Float.self)
                        offset += 4
                    }
                }
            }
            guard offset == data.count else { throw GraphStoreError.invalidBlob(graph: graph, reason: "trailing bytes") }
            return out
        }
    }
}
