/// Errors from building attribution graphs.
public enum AttributionError: Error, Equatable, Sendable {
    case emptyPrompt
    case onlyBOS
    case invalidOption(String)
    case transcoderMismatch(String)
    case noActiveFeatures
    case notConverged(String)
}

extension AttributionError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .emptyPrompt: return "the prompt is empty: there is nothing to attribute"
        case .onlyBOS: return "the prompt is only the BOS token: position 0 has no feature nodes, so there is nothing to attribute (give some text)"
        case let .invalidOption(reason): return reason
        case let .transcoderMismatch(reason): return reason
        case .noActiveFeatures: return "no transcoder feature is active on this prompt"
        case let .notConverged(what): return "\(what) did not converge"
        }
    }
}
