/// Options of an attribution run, with circuit-tracer's defaults.
public struct AttributionOptions: Codable, Sendable, Equatable {
    /// At most this many logit nodes…
    public var maxLogits = 10
    /// …taken in order of probability until their cumulative probability reaches this.
    public var logitProbability = 0.95
    /// Target rows per backward pass.
    public var batchSize = 256
    /// At most this many feature nodes (nil: every active feature).
    public var maxFeatureNodes: Int? = nil
    /// Batches between re-rankings of features by estimated influence (when budgeted).
    public var updateInterval = 4
    /// Node pruning keeps this share of total influence…
    public var nodeThreshold = 0.8
    /// …and edge pruning this share of total edge score.
    public var edgeThreshold = 0.98
    /// What the graph explains instead of the most likely tokens (nil: those).
    public var targets: [AttributionTarget]? = nil
    /// The memory a run may use, in bytes (nil: 80% of the machine's).
    public var memoryLimit: Double? = nil

    public init() {}

    public init(memoryLimit: Double?) { self.memoryLimit = memoryLimit }

    public func validate() throws {
        guard maxLogits >= 1 else { throw AttributionError.invalidOption("--max-logits must be at least 1") }
        guard logitProbability > 0, logitProbability <= 1 else { throw AttributionError.invalidOption("--logit-prob must be in (0, 1]") }
        guard batchSize >= 1 else { throw AttributionError.invalidOption("the batch size must be at least 1") }
        if let m = maxFeatureNodes, m < 1 { throw AttributionError.invalidOption("--max-feature-nodes must be at least 1 (got \(m))") }
        guard updateInterval >= 1 else { throw AttributionError.invalidOption("the update interval must be at least 1") }
        guard (0...1).contains(nodeThreshold), (0...1).contains(edgeThreshold) else {
            throw AttributionError.invalidOption("thresholds must be between 0 and 1")
        }
        if let targets {
            guard !targets.isEmpty else { throw AttributionError.invalidOption("give at least one target") }
            for case let .direction(r, label) in targets where !r.allSatisfy(\.isFinite) || !r.contains(where: { $0 != 0 }) {
                throw AttributionError.invalidOption("the target direction \(label) must be finite and not zero")
            }
        }
    }
}
