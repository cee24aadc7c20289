// GGUF reader (versions 2 and 3), as written by llama.cpp's gguf library.
//
// Layout on disk, all integers little-endian:
//   1. magic        4 bytes  "GGUF"
//   2. version      uint32   2 or 3
//   3. n_tensors    uint64
//   4. n_kv         uint64
//   5. n_kv metadata entries:
//        key        string   (uint64 byte length, then UTF-8 bytes, no terminator)
//        value_type uint32   0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string,
//                            9 array, 10 u64, 11 i64, 12 f64
//        value               an array is: element type uint32, count uint64, then the elements
//   6. n_tensors tensor infos:
//        name       string
//        n_dims     uint32   (at most 4 in practice; 8 accepted)
//        dims       uint64 × n_dims, fastest-varying first (ne0 = row length)
//        type       uint32   a ggml type (see GGMLType)
//        offset     uint64   from the start of the data section; a multiple of the alignment
//   7. padding to `general.alignment` (default 32)
//   8. the data section: each tensor's blocks, at its offset
//
// Every count, length and offset is checked against the file size before anything is
// allocated or read, and every error names the key or tensor involved. Tensor data stays in the
// memory map until a caller dequantises it.

import TensorCore

/// Where one tensor lives in a GGUF file and how it is encoded.
public struct GGUFTensorInfo: Sendable {
    public let name: String
    /// ggml order: dimensions[0] is the row length (fastest varying).
    public let dimensions: [Int]
    public let type: GGMLType
    /// Absolute byte offset of the first block in the file.
    public let fileOffset: Int
    public let byteCount: Int
    public let elementCount: Int

    /// Row-major shape (slowest axis first): the reverse of `dimensions`.
    public var shape: [Int] { dimensions.reversed() }
}

/// A parsed GGUF file with its tensors memory-mapped.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: Int
    public let metadata: GGUFMetadata
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    public let dataOffset: Int
    private let index: [String: Int]
    private let mapping: MappedFile

    public var fileSize: Int { mapping.size }

    public init(path: String) throws {
        let file = try MappedFile(path: path)
        mapping = file
        self.path = path
        var reader = ByteReader(file: file, offset: 0)

        let magicBytes = try file.bytes(at: 0, count: min(4, file.size), what: "magic")
        let magic = (0..<min(4, file.size)).map { magicBytes.load(fromByteOffset: $0, as: UInt8.self) }
        guard magic == Array("GGUF".utf8) else {
            throw ModelIOError.badMagic(file: path, found: magic.map { b in
                (32..<127).contains(b) ? String(UnicodeScalar(b)) : "\\x" + String(b, radix: 16)
            }.joined())
        }
        reader.offset = 4
        let version = Int(try reader.read(UInt32.self, "version"))
        guard version == 2 || version == 3 else { throw ModelIOError.unsupportedVersion(file: path, version: version) }
        self.version = version
        let tensorCount = try reader.read(UInt64.self, "tensor count")
        let keyCount = try reader.read(UInt64.self, "metadata count")
        // Each metadata entry and tensor info takes at least 12 bytes: reject absurd counts early.
        guard tensorCount <= UInt64(file.size / 12), keyCount <= UInt64(file.size / 12) else {
            throw ModelIOError.invalidHeader(file: path, reason: "\(tensorCount) tensors and \(keyCount) keys cannot fit in \(file.size) bytes")
        }

        var values = [String: GGUFValue]()
        var keys = [String]()
        for i in 0..<Int(keyCount) {
            let key = try reader.readString("metadata key \(i)")
            let type = Int(try reader.read(UInt32.self, "type of \(key)"))
            // A repeated key would make the file mean two things (which block_count wins?).
            guard values[key] == nil else { throw ModelIOError.invalidHeader(file: path, reason: "metadata key \(key) appears twice") }
            values[key] = try GGUFFile.readValue(type: type, key: key, depth: 0, reader: &reader)
            keys.append(key)
        }
        metadata = GGUFMetadata(file: path, values: values, keys: keys)

        alignment = metadata["general.alignment"]?.intValue ?? 32
        guard alignment > 0, alignment & (alignment - 1) == 0 else {
            throw ModelIOError.invalidHeader(file: path, reason: "general.alignment \(alignment) is not a power of two")
        }

        var infos = [(name: String, dims: [Int], type: GGMLType, offset: Int)]()
        for i in 0..<Int(tensorCount) {
            let name = try reader.readString("tensor \(i) name")
            let rank = Int(try reader.read(UInt32.self, "rank of \(name)"))
            guard rank <= 8 else {
                throw ModelIOError.badDimensions(file: path, tensor: name, dimensions: [rank], reason: "rank \(rank) is more than 8")
            }
            var dims = [Int]()
            for axis in 0..<rank {
                let size = try reader.read(UInt64.self, "dimension \(axis) of \(name)")
                guard size <= UInt64(Int32.max) * 1024 else {
                    throw ModelIOError.badDimensions(file: path, tensor: name, dimensions: dims + [Int(clamping: size)], reason: "dimension too large")
                }
                dims.append(Int(size))
            }
            let rawType = Int(try reader.read(UInt32.self, "type of \(name)"))
            guard let type = GGMLType(rawValue: rawType) else {
                throw ModelIOError.unknownTensorType(file: path, tensor: name, type: rawType)
            }
            let offset = try reader.read(UInt64.self, "offset of \(name)")
            guard offset <= UInt64(file.size) else {
                throw ModelIOError.tensorOutOfBounds(file: path, tensor: name, end: Int(clamping: offset), fileSize: file.size)
            }
            infos.append((name, dims, type, Int(offset)))
        }
        dataOffset = (reader.offset + alignment - 1) / alignment * alignment

        var tensors = [GGUFTensorInfo]()
        var index = [String: Int]()
        for info in infos {
            var count = 1
            for size in info.dims {
                let (product, overflow) = count.multipliedReportingOverflow(by: size)
                guard !overflow, product <= Int(Int32.max) * 64 else {
                    throw ModelIOError.badDimensions(file: path, tensor: info.name, dimensions: info.dims, reason: "element count overflows")
                }
                count = product
            }
            guard let (blockElements, blockBytes) = info.type.blockGeometry else {
                throw ModelIOError.unsupportedTensorType(file: path, tensor: info.name, type: info.type.name)
            }
            guard (info.dims.first ?? 1) % blockElements == 0 else {
                throw ModelIOError.badDimensions(file: path, tensor: info.name, dimensions: info.dims,
                                                 reason: "row length is not a multiple of the \(info.type.name) block size \(blockElements)")
            }
            guard info.offset % alignment == 0 else {
                throw ModelIOError.invalidHeader(file: path, reason: "tensor \(info.name) offset \(info.offset) is not aligned to \(alignment)")
            }
            let byteCount = count / blockElements * blockBytes
            let start = dataOffset + info.offset
            guard start <= file.size, byteCount <= file.size - start else {
                throw ModelIOError.tensorOutOfBounds(file: path, tensor: info.name, end: start + byteCount, fileSize: file.size)
            }
            guard index[info.name] == nil else { throw ModelIOError.invalidHeader(file: path, reason: "tensor \(info.name) appears twice") }
            index[info.name] = tensors.count
            tensors.append(GGUFTensorInfo(name: info.name, dimensions: info.dims, type: info.type,
                                          fileOffset: start, byteCount: byteCount, elementCount: count))
        }
        // Two tensors whose data overlap would share weights by accident (or by tampering).
        let ordered = tensors.filter { $0.byteCount > 0 }.sorted { $0.fileOffset < $1.fileOffset }
        for (a, b) in zip(ordered, ordered.dropFirst()) where a.fileOffset + a.byteCount > b.fileOffset {
            throw ModelIOError.invalidHeader(file: path, reason: "the data of tensors \(a.name) and \(b.name) overlap")
        }
        self.tensors = tensors
        self.index = index
    }

    private static func readValue(type: Int, key: String, depth: Int, reader: inout ByteReader) throws -> GGUFValue {
        let file = reader.file.path
        switch type {
        case 0: return .uint(UInt64(try reader.read(UInt8.self, key)), bits: 8)
        case 1: return .int(Int64(try reader.read(Int8.self, key)), bits: 8)
        case 2: return .uint(UInt64(try reader.read(UInt16.self, key)), bits: 16)
        case 3: return .int(Int64(try reader.read(Int16.self, key)), bits: 16)
        case 4: return .uint(UInt64(try reader.read(UInt32.self, key)), bits: 32)
        case 5: return .int(Int64(try reader.read(Int32.self, key)), bits: 32)
        case 6: return .float(Double(try reader.readFloat(key)), bits: 32)
        case 7:
            let byte = try reader.read(UInt8.self, key)
            guard byte <= 1 else { throw ModelIOError.wrongKeyType(file: file, key: key, expected: "a boolean (0 or 1)") }
            return .bool(byte == 1)
        case 8: return .string(try reader.readString(key))
        case 9:
            guard depth < 4 else { throw ModelIOError.invalidHeader(file: file, reason: "arrays nested too deeply in \(key)") }
            let elementType = Int(try reader.read(UInt32.self, key))
            let count = try reader.read(UInt64.self, key)
            // Every element takes at least one byte.
            guard count <= UInt64(reader.file.size - reader.offset) else {
                throw ModelIOError.truncated(file: file, what: "array \(key)", offset: reader.offset,
                                             needed: Int(clamping: count), fileSize: reader.file.size)
            }
            var elements = [GGUFValue]()
            elements.reserveCapacity(Int(count))
            for _ in 0..<Int(count) {
                elements.append(try readValue(type: elementType, key: key, depth: depth + 1, reader: &reader))
            }
            return .array(elements)
        case 10: return .uint(try reader.read(UInt64.self, key), bits: 64)
        case 11: return .int(try reader.read(Int64.self, key), bits: 64)
        case 12: return .float(try reader.readDouble(key), bits: 64)
        default: throw ModelIOError.unknownValueType(file: file, key: key, type: type)
        }
    }

    /// The info of a named tensor.
    public func info(_ name: String) throws -> GGUFTensorInfo {
        guard let i = index[name] else { throw ModelIOError.missingTensor(file: path, tensor: name) }
        return tensors[i]
    }

    /// True when the file holds a tensor of that name.
    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// The raw encoded bytes of a tensor (bounds were checked when the file was opened).
    public func rawBytes(_ info: GGUFTensorInfo) throws -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: try mapping.bytes(at: info.fileOffset, count: info.byteCount, what: info.name),
                               count: info.byteCount)
    }

    /// A tensor dequantised to Float32, in row-major shape (slowest axis first).
    public func tensor(_ name: String) throws -> Tensor {
        let info = try info(name)
        guard info.type.canDequantize else {
            throw ModelIOError.unsupportedTensorType(file: path, tensor: name, type: info.type.name)
        }
        let bytes = try rawBytes(info)
        let t = try Tensor(shape: info.shape) { out in
            if out.isEmpty { return }
            Dequantize.run(info.type, bytes.baseAddress!, count: info.elementCount, into: out.baseAddress!)
        }
        try t.requireFinite(file: path, tensor: name)
        return t
    }

    /// A tensor dequantised and checked against an expected row-major shape.
    public func tensor(_ name: String, shape expected: [Int]) throws -> Tensor {
        let info = try info(name)
        guard info.shape == expected else {
            throw ModelIOError.tensorShape(file: path, tensor: name, expected: expected, found: info.shape)
        }
        return try tensor(name)
    }
}
