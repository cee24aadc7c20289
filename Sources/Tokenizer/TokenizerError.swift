/// Errors from building or using a tokenizer.
public enum TokenizerError: Error, Equatable, Sendable {
    case unknownTokenId(Int, vocabularySize: Int)
    case unsupportedModel(source: String, model: String)
    case unsupportedPreTokenizer(source: String, name: String)
    /// The vocabulary lacks the token for a single byte, so some text cannot be encoded.
    case missingByteToken(source: String, byte: UInt8)
    case invalidFile(source: String, reason: String)
}

extension TokenizerError: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .unknownTokenId(id, size):
            return "token id \(id) is outside the vocabulary (0..<\(size))"
        case let .unsupportedModel(source, model):
            return "\(source): tokenizer model \(model) is not supported (byte-level BPE is)"
        case let .unsupportedPreTokenizer(source, name):
            return "\(source): pre-tokenizer \(name) is not supported (gpt2, smollm and qwen2 are)"
        case let .missingByteToken(source, byte):
            return "\(source): the vocabulary has no token for byte 0x\(String(byte, radix: 16))"
        case let .invalidFile(source, reason):
            return "\(source): \(reason)"
        }
    }
}
