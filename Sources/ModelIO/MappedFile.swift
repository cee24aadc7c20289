// A read-only memory map of a whole file, so tensor data is paged in on demand instead of read.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file mapped read-only into memory; unmapped when released.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    /// Start of the mapping (nil for an empty file).
    public let base: UnsafeRawPointer?

    public init(path: String) throws {
        self.path = path
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer before the
        // regular-file check below could refuse it (it changes nothing for regular files).
        let fd = open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else {
            throw ModelIOError.cannotOpen(file: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ModelIOError.cannotOpen(file: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ModelIOError.cannotOpen(file: path, reason: "not a regular file")
        }
        size = Int(info.st_size)
        if size == 0 {
            base = nil
            return
        }
        let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapping, mapping != MAP_FAILED else {
            throw ModelIOError.cannotOpen(file: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapping)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// The bytes `offset..<offset+count`, after checking they lie inside the file.
    public func bytes(at offset: Int, count: Int, what: String) throws -> UnsafeRawPointer {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset, let base else {
            throw ModelIOError.truncated(file: path, what: what, offset: offset, needed: count, fileSize: size)
        }
        return base + offset
    }
}

/// A cursor over a mapped file that checks every read against the file size.
struct ByteReader {
    let file: MappedFile
    var offset: Int

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let p = try file.bytes(at: offset, count: MemoryLayout<T>.size, what: what())
        offset += MemoryLayout<T>.size
        return T(littleEndian: p.loadUnaligned(as: T.self))
    }

    mutating func readFloat(_ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readDouble(_ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// A length-prefixed (UInt64) UTF-8 string.
    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let length = try read(UInt64.self, what())
        guard length <= UInt64(file.size) else {
            throw ModelIOError.truncated(file: file.path, what: what(), offset: offset, needed: Int(clamping: length), fileSize: file.size)
        }
        let p = try file.bytes(at: offset, count: Int(length), what: what())
        offset += Int(length)
        return String(decoding: UnsafeRawBufferPointer(start: p, count: Int(length)), as: UTF8.self)
    }
}

extension MappedFile {
    /// The whole of a small file a user names (a configuration, a tokenizer, a graph file): it must
    /// be a regular file (a FIFO or device is refused at once instead of blocking) of at most
    /// `limit` bytes.
    public static func contents(of path: String, limit: Int) throws -> [UInt8] {
        let file = try MappedFile(path: path)
        guard file.size <= limit else {
            throw ModelIOError.cannotOpen(file: path, reason: "\(file.size) bytes is more than the \(limit) this file may have")
        }
        guard let base = file.base else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: base, count: file.size))
    }
}
