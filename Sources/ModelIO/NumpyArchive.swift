// NumPy's .npz: a zip archive of .npy files (np.savez stores them, np.savez_compressed deflates
// them), as Gemma Scope 1 publishes its dictionaries (params.npz). The central directory is read
// from the end of the file (with zip64 records, which NumPy writes for large arrays); each entry
// is found through its local header. Stored entries are read from the memory map in place;
// deflated ones are inflated with zlib. Every offset and size is checked against the file.

import CZlib
import TensorCore

public final class NumpyArchive: @unchecked Sendable {
    public let path: String
    let file: MappedFile
    struct Entry { let method: Int; let compressed: Int; let size: Int; let localHeader: Int }
    /// Array name (the entry's name without ".npy") → where it is.
    let entries: [String: Entry]

    public var names: [String] { entries.keys.sorted() }
    public func contains(_ name: String) -> Bool { entries[name] != nil }

    public init(path: String) throws {
        self.path = path
        let file = try MappedFile(path: path)
        self.file = file
        func bad(_ reason: String) -> ModelIOError { .invalidHeader(file: path, reason: reason) }
        func u16(_ o: Int) throws -> Int { Int(UInt16(littleEndian: try file.bytes(at: o, count: 2, what: "zip record").loadUnaligned(as: UInt16.self))) }
        func u32(_ o: Int) throws -> Int { Int(UInt32(littleEndian: try file.bytes(at: o, count: 4, what: "zip record").loadUnaligned(as: UInt32.self))) }
        func u64(_ o: Int) throws -> Int {
            let v = UInt64(littleEndian: try file.bytes(at: o, count: 8, what: "zip record").loadUnaligned(as: UInt64.self))
            guard v < UInt64(Int.max) else { throw bad("a zip64 size of \(v)") }
            return Int(v)
        }
        // The end-of-central-directory record: in the last 22 + 65,535 bytes.
        guard file.size >= 22 else { throw bad("too short for a zip archive") }
        var end = -1
        for o in stride(from: file.size - 22, through: max(0, file.size - 22 - 65_535), by: -1) where try u32(o) == 0x0605_4b50 {
            end = o
            break
        }
        guard end >= 0 else { throw bad("no zip end-of-central-directory record (not an .npz file)") }
        var count = try u16(end + 10), directory = try u32(end + 16)
        if (count == 0xFFFF || directory == 0xFFFF_FFFF), end >= 20, try u32(end - 20) == 0x0706_4b50 {
            let record = try u64(end - 12)
            guard try u32(record) == 0x0606_4b50 else { throw bad("a zip64 locator pointing at no zip64 record") }
            count = try u64(record + 32)
            directory = try u64(record + 48)
        }
        guard count <= 1 << 16 else { throw bad("\(count) entries") }
        var entries = [String: Entry]()
        var o = directory
        for _ in 0..<count {
            guard try u32(o) == 0x0201_4b50 else { throw bad("a damaged central directory at byte \(o)") }
            let method = try u16(o + 10)
            var compressed = try u32(o + 20), size = try u32(o + 24)
            let nameLength = try u16(o + 28), extraLength = try u16(o + 30), commentLength = try u16(o + 32)
            var local = try u32(o + 42)
            let nameBytes = try file.bytes(at: o + 46, count: nameLength, what: "zip entry name")
            let name = String(decoding: UnsafeRawBufferPointer(start: nameBytes, count: nameLength), as: UTF8.self)
            // A zip64 extra field holds, in order, the fields that overflowed.
            var e = o + 46 + nameLength
            while e + 4 <= o + 46 + nameLength + extraLength {
                let id = try u16(e), length = try u16(e + 2)
                if id == 0x0001 {
                    var f = e + 4
                    if size == 0xFFFF_FFFF { size = try u64(f); f += 8 }
                    if compressed == 0xFFFF_FFFF { compressed = try u64(f); f += 8 }
                    if local == 0xFFFF_FFFF { local = try u64(f) }
                }
                e += 4 + length
            }
            guard method == 0 || method == 8 else { throw bad("\(name) is compressed with method \(method) (stored and deflate are read)") }
            entries[name.hasSuffix(".npy") ? String(name.dropLast(4)) : name] = Entry(method: method, compressed: compressed, size: size, localHeader: local)
            o += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
    }

    /// One array as Float32 ('<f4', or '<f2' and '<f8' converted), C order.
    public func tensor(_ name: String) throws -> Tensor {
        guard let entry = entries[name] else { throw ModelIOError.missingTensor(file: path, tensor: name) }
        func u16(_ o: Int) throws -> Int { Int(UInt16(littleEndian: try file.bytes(at: o, count: 2, what: "zip local header").loadUnaligned(as: UInt16.self))) }
        let header = entry.localHeader
        guard Int(UInt32(littleEndian: try file.bytes(at: header, count: 4, what: "zip local header").loadUnaligned(as: UInt32.self))) == 0x0403_4b50 else {
            throw ModelIOError.invalidHeader(file: path, reason: "\(name): no local header at byte \(header)")
        }
        let start = header + 30 + (try u16(header + 26)) + (try u16(header + 28))
        let stored = try file.bytes(at: start, count: entry.compressed, what: "\(name) data")
        if entry.method == 0 {
            return try NumpyFile.parse(UnsafeRawBufferPointer(start: stored, count: entry.compressed), name: name, file: path)
        }
        // Deflate expands at most 1032-fold: a larger claim is a damaged (or hostile) directory,
        // and must not size an allocation.
        guard entry.size <= 1 << 36, entry.size <= entry.compressed * 1032 + 64 else {
            throw ModelIOError.invalidHeader(file: path, reason: "\(name) claims \(entry.size) bytes from \(entry.compressed) deflated ones")
        }
        var out = [UInt8](repeating: 0, count: entry.size)
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ModelIOError.invalidHeader(file: path, reason: "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        let status: Int32 = out.withUnsafeMutableBufferPointer { o in
            stream.next_in = UnsafeMutablePointer(mutating: stored.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(entry.compressed)
            stream.next_out = o.baseAddress
            stream.avail_out = uInt(entry.size)
            return inflate(&stream, Z_FINISH)
        }
        guard status == Z_STREAM_END, Int(stream.total_out) == entry.size else {
            throw ModelIOError.invalidHeader(file: path, reason: "\(name): the deflated data is damaged")
        }
        return try out.withUnsafeBytes { try NumpyFile.parse($0, name: name, file: path) }
    }
}
