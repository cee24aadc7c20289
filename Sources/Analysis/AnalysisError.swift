// Errors of the analyses around the graphs (lens, patching, direct logit attribution, heads).

/// Bad input to an analysis, each naming the value at fault.
public enum AnalysisError: Error, Equatable, Sendable, CustomStringConvertible {
    case emptyPrompt
    case unequalLengths(clean: Int, corrupt: Int)
    case notOneToken(text: String, tokens: Int)
    case invalidMetric(String)
    case layerOutOfRange(layer: Int, layers: Int)
    case headOutOfRange(head: Int, heads: Int)
    case tooShort(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .emptyPrompt:
            "the prompt is empty: it has no tokens"
        case let .unequalLengths(clean, corrupt):
            "the clean prompt has \(clean) tokens and the corrupted one \(corrupt): patching needs prompts of the same length "
                + "(change a word for one of the same token count)"
        case let .notOneToken(text, tokens):
            "\"\(text)\" is \(tokens) tokens, not one: a metric names single tokens (mind the leading space: \" Mary\")"
        case let .invalidMetric(reason):
            "invalid metric: \(reason) (write logit_diff( Mary, John), logit( Paris) or prob( Paris))"
        case let .layerOutOfRange(layer, layers):
            "layer \(layer) is outside the model (0..<\(layers))"
        case let .headOutOfRange(head, heads):
            "head \(head) is outside the layer (0..<\(heads))"
        case let .tooShort(reason), let .invalid(reason):
            reason
        }
    }
}
