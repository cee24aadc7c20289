// Content fingerprints of files: 64-bit, FNV-1a style over 8-byte words (fast; for identifying
// which model or transcoder files made a graph, not for security).

import Foundation

public enum Fingerprint {
    /// The fingerprint of a file's bytes, as 16 hex digits.
    public static func file(_ path: String) throws -> String {
        let mapped = try MappedFile(path: path)
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        if let base = mapped.base {
            let words = mapped.size / 8
            for i in 0..<words {
                hash = (hash ^ base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* 0x0000_0100_0000_01B3
                hash ^= hash >> 29
            }
            for i in (words * 8)..<mapped.size {
                hash = (hash ^ UInt64(base.load(fromByteOffset: i, as: UInt8.self))) &* 0x0000_0100_0000_01B3
            }
        }
        hash = (hash ^ UInt64(mapped.size)) &* 0x0000_0100_0000_01B3
        return String(format: "%016llx", hash)
    }

    /// One fingerprint for several, in order.
    public static func combine(_ parts: [String]) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in parts.joined(separator: "|").utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return String(format: "%016llx", hash)
    }
}
