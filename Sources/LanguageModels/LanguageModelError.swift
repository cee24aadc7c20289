/// Errors from loading or running a language model.
public enum LanguageModelError: Error, Equatable, Sendable {
    case emptyPrompt
    case promptTooLong(tokens: Int, context: Int)
    case tokenOutOfRange(id: Int, vocabularySize: Int)
    case unequalBatch(lengths: [Int])
    case invalidConfiguration(source: String, reason: String)
    case unsupportedArchitecture(source: String, architecture: String, supported: [String])
    case hookShape(hook: String, expected: [Int], found: [Int])
    case invalidPosition(position: Int, length: Int)
    case invalidLayer(layer: Int, layers: Int)
    case unknownHook(name: String, examples: [String])
}

extension LanguageModelError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .emptyPrompt:
            return "the prompt is empty: it has no tokens"
        case let .promptTooLong(tokens, context):
            return "the prompt has \(tokens) tokens, more than the model's context of \(context)"
        case let .tokenOutOfRange(id, size):
            return "token id \(id) is outside the vocabulary (0..<\(size))"
        case let .unequalBatch(lengths):
            return "prompts in a batch must have equal lengths (got \(lengths))"
        case let .invalidConfiguration(source, reason):
            return "\(source): \(reason)"
        case let .unsupportedArchitecture(source, architecture, supported):
            return "\(source): architecture \(architecture) is not supported (\(supported.joined(separator: ", ")) are)"
        case let .hookShape(hook, expected, found):
            return "hook at \(hook) returned shape \(found), expected \(expected)"
        case let .invalidPosition(position, length):
            return "position \(position) is outside the prompt (0..<\(length))"
        case let .invalidLayer(layer, layers):
            return "layer \(layer) is outside the model (0..<\(layers))"
        case let .unknownHook(name, examples):
            return "\(name) is not a hook point of this model (for example: \(examples.joined(separator: ", ")))"
        }
    }
}
