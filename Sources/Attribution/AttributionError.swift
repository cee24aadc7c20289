/// Errors from building attribution graphs.
public enum AttributionError: Error, Equatable, Sendable {
    case emptyPrompt
    case onlyBOS
    case invalidOption(String)
    case transcoderMismatch(String)
    case noActiveFeatures
    case notConverged(String)
    /// The run would need more memory than the machine has: the estimate, and what would fit.
    case tooLarge(tokens: Int, estimate: MemoryEstimate, available: Double, budgetThatFits: Int?)
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
        case let .tooLarge(n, e, available, budget):
            let gb = { (bytes: Double) in String(format: "%.1f GB", bytes / 1e9) }
            return "attributing \(n) tokens would need about \(gb(e.total)) (attention patterns \(gb(e.patterns)), rows over about "
                + "\(e.activeFeatures) active features \(gb(e.rows)), their decoder writes \(gb(e.writes))) and this machine allows \(gb(available)): "
                + (budget.map { "bound the rows with --max-feature-nodes \($0) or shorten the prompt" } ?? "shorten the prompt")
        }
    }
}
