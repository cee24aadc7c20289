// safetensors reader and writer (Hugging Face's format).
//
// Layout:
//   1. N            uint64 little-endian: byte length of the header
//   2. header       N bytes of UTF-8 JSON: { name: {"dtype": "F32", "shape": [..],
//                   "data_offsets": [begin, end]}, ..., "__metadata__": {string: string} },
//                   padded with spaces
//   3. data         the tensors' bytes; offsets are relative to the start of this section
// The reader checks that every tensor's byte range matches its dtype and shape, lies inside the
// data section, and that the ranges tile the section exactly (no overlaps, no holes).

import Foundation
import TensorCore

/// Element encodings this module reads and writes.
public enum SafetensorsDType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"

    var byteSize: Int { self == .f32 ? 4 : 2 }
}

/// One tensor's entry in a safetensors header.
public struct SafetensorsEntry: Sendable {
    public let name: String
    public let dtype: String
    public let shape: [Int]
    /// Absolute byte range in the file.
    public let range: Range<Int>
}

/// A parsed, memory-mapped safetensors file.
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    public let entries: [String: SafetensorsEntry]
    public let metadata: [String: String]
    private let mapping: MappedFile

    public var names: [String] { entries.keys.sorted() }

    public init(path: String) throws {
        let file = try MappedFile(path: path)
        mapping = file
        self.path = path
        var reader = ByteReader(file: file, offset: 0)
        let headerLength = try reader.read(UInt64.self, "header length")
        guard headerLength <= UInt64(file.size - 8), headerLength <= 100_000_000 else {
            throw ModelIOError.truncated(file: path, what: "header", offset: 8, needed: Int(clamping: headerLength), fileSize: file.size)
        }
        let headerBytes = try file.bytes(at: 8, count: Int(headerLength), what: "header")
        let data = Data(bytes: headerBytes, count: Int(headerLength))
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelIOError.invalidHeader(file: path, reason: "header is not a JSON object")
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = file.size - dataStart
        var entries = [String: SafetensorsEntry]()
        var metadata = [String: String]()
        for (name, value) in json {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else {
                    throw ModelIOError.invalidHeader(file: path, reason: "__metadata__ is not an object")
                }
                for (k, v) in map { metadata[k] = v as? String ?? "\(v)" }
                continue
            }
            guard let fields = value as? [String: Any],
                  let dtype = fields["dtype"] as? String,
                  let shape = (fields["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offsets = (fields["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  offsets.count == 2, shape.count == (fields["shape"] as? [Any])?.count
            else {
                throw ModelIOError.invalidHeader(file: path, reason: "entry \(name) lacks dtype, shape or data_offsets")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else {
                throw ModelIOError.badDimensions(file: path, tensor: name, dimensions: shape, reason: "negative size")
            }
            var count = 1
            for size in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: size)
                guard !overflow else {
                    throw ModelIOError.badDimensions(file: path, tensor: name, dimensions: shape, reason: "element count overflows")
                }
                count = product
            }
            let elementSize = SafetensorsFile.elementSize(dtype)
            guard let elementSize else {
                throw ModelIOError.invalidHeader(file: path, reason: "tensor \(name) has unknown dtype \(dtype)")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw ModelIOError.tensorOutOfBounds(file: path, tensor: name, end: dataStart + max(end, begin), fileSize: file.size)
            }
            guard end - begin == count * elementSize else {
                throw ModelIOError.invalidHeader(file: path, reason: "tensor \(name) spans \(end - begin) bytes but \(dtype) \(shape) needs \(count * elementSize)")
            }
            entries[name] = SafetensorsEntry(name: name, dtype: dtype, shape: shape, range: (dataStart + begin)..<(dataStart + end))
        }
        // The byte ranges must tile the data section.
        var cursor = dataStart
        for entry in entries.values.sorted(by: { $0.range.lowerBound < $1.range.lowerBound }) {
            guard entry.range.lowerBound == cursor else {
                throw ModelIOError.invalidHeader(file: path, reason: entry.range.lowerBound < cursor
                    ? "tensor \(entry.name) overlaps the previous tensor" : "gap before tensor \(entry.name)")
            }
            cursor = entry.range.upperBound
        }
        guard cursor == file.size else {
            throw ModelIOError.invalidHeader(file: path, reason: "\(file.size - cursor) bytes after the last tensor are not described by the header")
        }
        self.entries = entries
        self.metadata = metadata
    }

    static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F64", "I64", "U64": 8
        case "F32", "I32", "U32": 4
        case "F16", "BF16", "I16", "U16": 2
        case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2": 1
        default: nil
        }
    }

    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// A tensor converted to Float32 (from F32, F16 or BF16).
    public func tensor(_ name: String) throws -> Tensor {
        guard let entry = entries[name] else { throw ModelIOError.missingTensor(file: path, tensor: name) }
        guard let dtype = SafetensorsDType(rawValue: entry.dtype) else {
            throw ModelIOError.unsupportedTensorType(file: path, tensor: name, type: entry.dtype)
        }
        let bytes = try mapping.bytes(at: entry.range.lowerBound, count: entry.range.count, what: name)
        return try Tensor(shape: entry.shape) { out in
            if out.isEmpty { return }
            let dst = out.baseAddress!
            switch dtype {
            case .f32: UnsafeMutableRawPointer(dst).copyMemory(from: bytes, byteCount: out.count * 4)
            case .f16: for i in 0..<out.count { dst[i] = floatFromHalfBits(bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
            case .bf16: for i in 0..<out.count { dst[i] = floatFromBFloat16Bits(bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
            }
        }
    }

    /// Rows of a tensor, read from the mapping without loading the rest: for each index i of
    /// `rows` (along the first axis), the elements `within` of row i (all of them when nil),
    /// converted to Float32 and concatenated. What reading a few decoder rows of a large
    /// dictionary costs is those rows' pages, not the file.
    public func rows(_ name: String, _ rows: [Int], within: Range<Int>? = nil) throws -> [Float] {
        guard let entry = entries[name] else { throw ModelIOError.missingTensor(file: path, tensor: name) }
        guard let dtype = SafetensorsDType(rawValue: entry.dtype) else {
            throw ModelIOError.unsupportedTensorType(file: path, tensor: name, type: entry.dtype)
        }
        guard let first = entry.shape.first else {
            throw ModelIOError.badDimensions(file: path, tensor: name, dimensions: entry.shape, reason: "a scalar has no rows")
        }
        let rowLength = entry.shape.dropFirst().reduce(1, *)
        let part = within ?? 0..<rowLength
        guard part.lowerBound >= 0, part.upperBound <= rowLength else {
            throw ModelIOError.badDimensions(file: path, tensor: name, dimensions: entry.shape, reason: "elements \(part) are outside a row of \(rowLength)")
        }
        let size = dtype.byteSize, k = part.count
        var out = [Float](repeating: 0, count: rows.count * k)
        try out.withUnsafeMutableBufferPointer { dst in
            for (r, row) in rows.enumerated() {
                guard (0..<first).contains(row) else {
                    throw ModelIOError.badDimensions(file: path, tensor: name, dimensions: entry.shape, reason: "row \(row) is outside 0..<\(first)")
                }
                let bytes = try mapping.bytes(at: entry.range.lowerBound + (row * rowLength + part.lowerBound) * size, count: k * size, what: name)
                let o = dst.baseAddress! + r * k
                switch dtype {
                case .f32: UnsafeMutableRawPointer(o).copyMemory(from: bytes, byteCount: k * 4)
                case .f16: for i in 0..<k { o[i] = floatFromHalfBits(bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
                case .bf16: for i in 0..<k { o[i] = floatFromBFloat16Bits(bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
                }
            }
        }
        return out
    }

    /// A tensor checked against an expected shape.
    public func tensor(_ name: String, shape expected: [Int]) throws -> Tensor {
        let t = try tensor(name)
        try t.requireFinite(file: path, tensor: name)
        guard t.shape == expected else {
            throw ModelIOError.tensorShape(file: path, tensor: name, expected: expected, found: t.shape)
        }
        return t
    }

    /// Writes tensors (in name order) and string metadata; the file appears atomically.
    public static func write(
        _ tensors: [String: Tensor], dtype: SafetensorsDType = .f32, metadata: [String: String] = [:], to path: String
    ) throws {
        var header = [String: Any]()
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            let size = t.count * dtype.byteSize
            header[name] = ["dtype": dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + size]] as [String: Any]
            offset += size
        }
        var headerData = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        let padding = (8 - headerData.count % 8) % 8
        headerData.append(contentsOf: [UInt8](repeating: 0x20, count: padding))
        var out = Data()
        out.reserveCapacity(8 + headerData.count + offset)
        withUnsafeBytes(of: UInt64(headerData.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(headerData)
        for name in names {
            let t = tensors[name]!
            switch dtype {
            case .f32: t.scalars.withUnsafeBytes { out.append(contentsOf: $0) }
            case .f16: t.float16Bits().withUnsafeBytes { out.append(contentsOf: $0) }
            case .bf16: t.bfloat16Bits().withUnsafeBytes { out.append(contentsOf: $0) }
            }
        }
        do {
            try out.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ModelIOError.cannotWrite(file: path, reason: error.localizedDescription)
        }
    }
}
