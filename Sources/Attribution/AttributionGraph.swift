// An attribution graph: nodes, the full adjacency, influence, pruning, scores, and everything
// needed to reproduce it.

import TensorCore

/// A logit node: a candidate next token.
public struct LogitNode: Codable, Sendable, Equatable {
    public let token: Int
    public let probability: Float
    /// logit_v − mean_u logit_u (the demeaned logit the row explains).
    public let demeanedLogit: Float
    /// A logit difference target: the row explains logit_token − logit_minus (probability is its weight, 1).
    public let minus: Int?
    /// A direction target: the row explains direction · final output (`token` is then the top token).
    public let direction: [Float]?
    /// How the target is shown, when it is not a token.
    public let label: String?

    public init(token: Int, probability: Float, demeanedLogit: Float, minus: Int? = nil, direction: [Float]? = nil, label: String? = nil) {
        self.token = token
        self.probability = probability
        self.demeanedLogit = demeanedLogit
        self.minus = minus
        self.direction = direction
        self.label = label
    }
}

/// What produced a graph.
public struct GraphProvenance: Codable, Sendable, Equatable {
    public var modelPath: String
    /// A 64-bit content fingerprint of the model file (hex).
    public var modelFingerprint: String
    public var transcoderSet: String
    public var transcoderFingerprint: String
    public var prompt: String
    public var tokens: [Int]
    public var options: AttributionOptions
    public var engineVersion: String

    public init(modelPath: String, modelFingerprint: String, transcoderSet: String, transcoderFingerprint: String,
                prompt: String, tokens: [Int], options: AttributionOptions, engineVersion: String) {
        self.modelPath = modelPath
        self.modelFingerprint = modelFingerprint
        self.transcoderSet = transcoderSet
        self.transcoderFingerprint = transcoderFingerprint
        self.prompt = prompt
        self.tokens = tokens
        self.options = options
        self.engineVersion = engineVersion
    }
}

/// Seconds spent in each phase.
public struct AttributionTimings: Codable, Sendable, Equatable {
    public var forward = 0.0
    public var logitRows = 0.0
    public var featureRows = 0.0
    public var assembly = 0.0
    public var pruning = 0.0
    public var total: Double { forward + logitRows + featureRows + assembly + pruning }

    public init() {}
}

public struct AttributionGraph: Sendable {
    public let layout: NodeLayout
    /// The feature nodes, in node order (a subset of the active features when budgeted).
    public let features: [ActiveFeature]
    /// Number of features active on the prompt (before the budget).
    public let activeFeatureCount: Int
    public let logits: [LogitNode]
    /// [N, N]: rows are targets, columns sources; error and token rows are zero.
    public let adjacency: Tensor
    /// Influence of every node on the logits (unpruned graph).
    public let influence: [Float]
    public let pruning: Influence.Pruning
    public let replacementScore: Double
    public let completenessScore: Double
    public let provenance: GraphProvenance
    public let timings: AttributionTimings

    public init(layout: NodeLayout, features: [ActiveFeature], activeFeatureCount: Int, logits: [LogitNode], adjacency: Tensor,
                influence: [Float], pruning: Influence.Pruning, replacementScore: Double, completenessScore: Double,
                provenance: GraphProvenance, timings: AttributionTimings) {
        self.layout = layout
        self.features = features
        self.activeFeatureCount = activeFeatureCount
        self.logits = logits
        self.adjacency = adjacency
        self.influence = influence
        self.pruning = pruning
        self.replacementScore = replacementScore
        self.completenessScore = completenessScore
        self.provenance = provenance
        self.timings = timings
    }

    public var tokens: [Int] { provenance.tokens }

    /// A[t, s].
    public func edge(target t: Int, source s: Int) -> Float { adjacency.scalars[t * layout.count + s] }

    /// Node and edge counts before and after pruning.
    public var counts: (nodes: Int, edges: Int, prunedNodes: Int, prunedEdges: Int) {
        let edges = adjacency.scalars.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
        let kept = pruning.edges.enumerated().reduce(0) { $0 + ($1.element && adjacency.scalars[$1.offset] != 0 ? 1 : 0) }
        return (layout.count, edges, pruning.nodes.filter { $0 }.count, kept)
    }
}
