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
        let magic = try file.bytes(at: 0, count: 10, what: "npy header")
        guard magic.load(as: UInt8.self) == 0x93 else { throw ModelIOError.invalidHeader(file: path, reason: "not a .npy file") }
        let length = Int(UInt16(littleEndian: magic.loadUnaligned(fromByteOffset: 8, as: UInt16.self)))
        let headerBytes = try file.bytes(at: 10, count: length, what: "npy header")
        let header = String(decoding: UnsafeRawBufferPointer(start: headerBytes, count: length), as: UTF8.self)
        guard header.contains("'<f4'"), header.contains("'fortran_order': False"),
              let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw ModelIOError.invalidHeader(file: path, reason: "only C-order little-endian float32 arrays are read")
        }
        let shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *)
        let data = try file.bytes(at: 10 + length, count: count * 4, what: "npy data")
        return try Tensor(shape: shape) { out in
            if count > 0 { UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: data, byteCount: count * 4) }
        }
    }
}
