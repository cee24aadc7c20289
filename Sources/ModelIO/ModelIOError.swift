// Errors from reading and writing model files. Every case names the file, and the tensor or
// metadata key where there is one, so a one-line message tells the user what is wrong.

public enum ModelIOError: Error, Equatable, Sendable {
    case cannotOpen(file: String, reason: String)
    /// The file ends before `needed` bytes at `offset` could be read.
    case truncated(file: String, what: String, offset: Int, needed: Int, fileSize: Int)
    case badMagic(file: String, found: String)
    case unsupportedVersion(file: String, version: Int)
    case unknownValueType(file: String, key: String, type: Int)
    case unknownTensorType(file: String, tensor: String, type: Int)
    case unsupportedTensorType(file: String, tensor: String, type: String)
    /// A tensor's bytes reach past the end of the file.
    case tensorOutOfBounds(file: String, tensor: String, end: Int, fileSize: Int)
    /// Dimensions whose product overflows, or that are not a whole number of blocks.
    case badDimensions(file: String, tensor: String, dimensions: [Int], reason: String)
    case missingKey(file: String, key: String)
    case wrongKeyType(file: String, key: String, expected: String)
    case missingTensor(file: String, tensor: String)
    case tensorShape(file: String, tensor: String, expected: [Int], found: [Int])
    case invalidHeader(file: String, reason: String)
    case cannotWrite(file: String, reason: String)
    /// A weight that is NaN or infinite: it would turn every logit into nan.
    case nonFinite(file: String, tensor: String, element: Int)
}

extension ModelIOError: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .cannotOpen(file, reason):
            return "\(file): cannot open: \(reason)"
        case let .nonFinite(file, tensor, element):
            return "\(file): tensor \(tensor) holds a value that is not a finite number (element \(element))"
        case let .truncated(file, what, offset, needed, size):
            return "\(file): truncated: \(what) needs \(needed) bytes at offset \(offset) but the file has \(size) bytes"
        case let .badMagic(file, found):
            return "\(file): not a GGUF file (magic \(found), expected GGUF)"
        case let .unsupportedVersion(file, version):
            return "\(file): GGUF version \(version) is not supported (2 and 3 are)"
        case let .unknownValueType(file, key, type):
            return "\(file): metadata key \(key) has unknown value type \(type)"
        case let .unknownTensorType(file, tensor, type):
            return "\(file): tensor \(tensor) has unknown type \(type)"
        case let .unsupportedTensorType(file, tensor, type):
            return "\(file): tensor \(tensor) has type \(type), which cannot be dequantised (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K)"
        case let .tensorOutOfBounds(file, tensor, end, size):
            return "\(file): tensor \(tensor) data ends at byte \(end), past the end of the file (\(size) bytes)"
        case let .badDimensions(file, tensor, dims, reason):
            return "\(file): tensor \(tensor) has invalid dimensions \(dims): \(reason)"
        case let .missingKey(file, key):
            return "\(file): missing metadata key \(key)"
        case let .wrongKeyType(file, key, expected):
            return "\(file): metadata key \(key) is not \(expected)"
        case let .missingTensor(file, tensor):
            return "\(file): missing tensor \(tensor)"
        case let .tensorShape(file, tensor, expected, found):
            return "\(file): tensor \(tensor) has shape \(found), expected \(expected)"
        case let .invalidHeader(file, reason):
            return "\(file): invalid header: \(reason)"
        case let .cannotWrite(file, reason):
            return "\(file): cannot write: \(reason)"
        }
    }
}

import TensorCore

extension Tensor {
    /// Throws when any element is NaN or infinite, naming the file and tensor.
    public func requireFinite(file: String, tensor: String) throws {
        if let bad = scalars.firstIndex(where: { !$0.isFinite }) { throw ModelIOError.nonFinite(file: file, tensor: tensor, element: bad) }
    }
}
