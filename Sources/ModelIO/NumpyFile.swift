// NumPy's .npy format (version 1.0), for exchanging arrays with Python tools:
//   "\x93NUMPY" · 1 · 0 · header length (u16 little-endian) · header (an ASCII Python dict,
//   padded with spaces and a newline to a multiple of 64 bytes) · data (little-endian, C order)

import Foundation
import TensorCore

public enum NumpyFile {
    /// Writes a Float32 tensor.
    public static func write(_ tensor: Tensor, to path: String) throws {
        let shape = tensor.shape.map(String.init).joined(separator: ", ") + (tensor.rank == 1 ? "," : "")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(shape)), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: header.utf8)
        tensor.scalars.withUnsafeBytes { data.append(contentsOf: $0) }
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw ModelIOError.cannotWrite(file: path, reason: error.localizedDescription)
        }
    }

    /// Reads a little-endian Float32 array ('<f4', C order).
    public static func read(_ path: String) throws -> Tensor {
        let file = try MappedFile(path: path)
        guard let base = file.base else { throw ModelIOError.invalidHeader(file: path, reason: "not a .npy file (empty)") }
        return try parse(UnsafeRawBufferPointer(start: base, count: file.size), name: "array", file: path)
    }

    /// One .npy image: little-endian float32, float16 or float64 in C order, as Float32.
    public static func parse(_ bytes: UnsafeRawBufferPointer, name: String, file path: String) throws -> Tensor {
        func bad(_ reason: String) -> ModelIOError { .invalidHeader(file: path, reason: "\(name): \(reason)") }
        guard bytes.count >= 10, bytes[0] == 0x93, bytes[1] == UInt8(ascii: "N") else { throw bad("not a .npy array") }
        let version = bytes[6]
        let headerStart = version >= 2 ? 12 : 10
        guard bytes.count >= headerStart else { throw bad("a truncated header") }
        let length = version >= 2
            ? Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
            : Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self)))
        guard length <= bytes.count - headerStart else { throw bad("a header longer than the array") }
        let header = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[headerStart..<(headerStart + length)]), as: UTF8.self)
        let widths = ["'<f4'": 4, "'<f2'": 2, "'<f8'": 8]
        guard let width = widths.first(where: { header.contains($0.key) })?.value, header.contains("'fortran_order': False"),
              let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw bad("only C-order little-endian float16, float32 and float64 arrays are read")
        }
        let shape = try header[open.upperBound..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.map { part -> Int in
                guard let n = Int(part), n >= 0, n < 1 << 40 else { throw bad("shape entry \(part)") }
                return n
            }
        var count = 1
        for n in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: n)
            guard !overflow, product < 1 << 40 else { throw bad("shape \(shape) is too large") }
            count = product
        }
        let start = headerStart + length
        guard count * width <= bytes.count - start else {
            throw ModelIOError.truncated(file: path, what: "\(name) data", offset: start, needed: count * width, fileSize: bytes.count)
        }
        let data = bytes.baseAddress! + start
        return try Tensor(shape: shape) { out in
            guard count > 0 else { return }
            switch width {
            case 4: UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: data, byteCount: count * 4)
            case 2: for i in 0..<count { out[i] = floatFromHalfBits(UInt16(littleEndian: data.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            default: for i in 0..<count { out[i] = Float(Double(bitPattern: UInt64(littleEndian: data.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
            }
        }
    }
}
