// Writes GGUF files for tests: tiny models, and deliberately broken files. Follows the layout
// documented in ModelIO's GGUFFile.swift.

import Foundation
import ModelIO
import TensorCore

public struct GGUFBuilder {
    public struct TensorEntry {
        public var name: String
        /// ggml order: row length first.
        public var dimensions: [UInt64]
        public var type: UInt32
        public var data: [UInt8]
        /// Overrides the computed offset (to write broken files).
        public var offset: UInt64?
    }

    public var magic: [UInt8] = Array("GGUF".utf8)
    public var version: UInt32 = 3
    public var alignment = 32
    public var metadata: [(String, GGUFValue)] = []
    public var tensors: [TensorEntry] = []

    public init() {}

    public mutating func set(_ key: String, _ value: GGUFValue) {
        metadata.removeAll { $0.0 == key }
        metadata.append((key, value))
    }

    /// Adds a Float32 tensor given in row-major shape.
    public mutating func addF32(_ name: String, _ tensor: Tensor) {
        let bytes = tensor.scalars.withUnsafeBytes { Array($0) }
        tensors.append(TensorEntry(name: name, dimensions: tensor.shape.reversed().map(UInt64.init), type: 0, data: bytes))
    }

    /// Adds raw blocks of any ggml type.
    public mutating func addRaw(_ name: String, dimensions: [Int], type: UInt32, data: [UInt8]) {
        tensors.append(TensorEntry(name: name, dimensions: dimensions.map(UInt64.init), type: type, data: data))
    }

    public func bytes() -> [UInt8] {
        var out = [UInt8]()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); out.append(contentsOf: s.utf8) }
        func typeCode(_ v: GGUFValue) -> UInt32 {
            switch v {
            case .uint(_, let bits): [8: 0, 16: 2, 32: 4, 64: 10][bits] ?? 4
            case .int(_, let bits): [8: 1, 16: 3, 32: 5, 64: 11][bits] ?? 5
            case .float(_, let bits): bits == 64 ? 12 : 6
            case .bool: 7
            case .string: 8
            case .array: 9
            }
        }
        func value(_ v: GGUFValue) {
            switch v {
            case let .uint(x, bits):
                switch bits {
                case 8: out.append(UInt8(x))
                case 16: withUnsafeBytes(of: UInt16(x).littleEndian) { out.append(contentsOf: $0) }
                case 64: u64(x)
                default: u32(UInt32(x))
                }
            case let .int(x, bits):
                switch bits {
                case 8: out.append(UInt8(bitPattern: Int8(x)))
                case 16: withUnsafeBytes(of: Int16(x).littleEndian) { out.append(contentsOf: $0) }
                case 64: u64(UInt64(bitPattern: x))
                default: u32(UInt32(bitPattern: Int32(x)))
                }
            case let .float(x, bits):
                if bits == 64 { u64(x.bitPattern) } else { u32(Float(x).bitPattern) }
            case let .bool(b): out.append(b ? 1 : 0)
            case let .string(s): string(s)
            case let .array(elements):
                u32(elements.first.map(typeCode) ?? 4)
                u64(UInt64(elements.count))
                elements.forEach(value)
            }
        }
        out.append(contentsOf: magic)
        u32(version)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (key, v) in metadata {
            string(key)
            u32(typeCode(v))
            value(v)
        }
        // Data is laid out at the natural aligned offsets; an overridden offset only changes what
        // the header claims (to make broken files), not where the bytes go.
        var natural = [UInt64]()
        var offset: UInt64 = 0
        for t in tensors {
            natural.append(offset)
            offset = (offset + UInt64(t.data.count) + UInt64(alignment) - 1) / UInt64(alignment) * UInt64(alignment)
        }
        for (t, o) in zip(tensors, natural) {
            string(t.name)
            u32(UInt32(t.dimensions.count))
            t.dimensions.forEach(u64)
            u32(t.type)
            u64(t.offset ?? o)
        }
        while out.count % alignment != 0 { out.append(0) }
        let dataStart = out.count
        for (t, o) in zip(tensors, natural) {
            out.append(contentsOf: [UInt8](repeating: 0, count: dataStart + Int(o) - out.count))
            out.append(contentsOf: t.data)   // no padding after the last tensor
        }
        return out
    }

    /// Writes the file and returns its path.
    @discardableResult
    public func write(to path: String) throws -> String {
        try Data(bytes()).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// A fresh temporary file path.
public func temporaryPath(_ suffix: String) -> String {
    NSTemporaryDirectory() + "circuitry-test-\(UUID().uuidString)\(suffix)"
}
