// Comparing the circuits of several stored graphs: which features and edges they share, how much
// of their influence sits in shared features, and what each has of its own.
//
// Keys
//   feature (position-free)   (layer, feature)
//   feature (aligned)         (layer, feature, offset from the end of the prompt), so prompts of
//                             different lengths line up at the answer
//   aligned node (for edges)  features as above; error nodes (layer, offset); token nodes by offset
//                             (the input at that place, whatever its text); logits by rank (the
//                             top logit of each graph is "the answer")
// Metrics over graphs 1…k (k ≥ 2)
//   IoU = |S₁ ∩ … ∩ S_k| / |S₁ ∪ … ∪ S_k|, IoM = |∩| / min |S_i|
//   weighted: each graph's features weighted by influence (summed over positions) and normalised
//   to sum 1: weighted IoU = Σ_key min_i p_i / Σ_key max_i p_i (Ruzicka), weighted IoM = Σ_key min_i p_i
//   edge IoU over aligned edges; influence rank correlation: Spearman's ρ of the shared
//   (position-free) features' influence, averaged over pairs of graphs.

import GraphStore


/// A node identified across graphs (see "Keys" above).
public enum AlignedNode: Hashable, Comparable, Sendable {
    case feature(layer: Int, feature: Int, offset: Int)
    case error(layer: Int, offset: Int)
    case token(offset: Int)
    case logit(rank: Int)

    /// Row and column in a difference graph: layer (tokens −1, logits `layers`) and offset.
    public func place(layers: Int) -> (row: Int, offset: Int) {
        switch self {
        case let .feature(l, _, o), let .error(l, o): (l, o)
        case let .token(o): (-1, o)
        case .logit: (layers, 0)
        }
    }
}

public struct AlignedEdge: Hashable, Sendable {
    public var source: AlignedNode
    public var target: AlignedNode
}

/// What one graph contributes, in aligned terms.
public struct ComparedGraph: Sendable {
    public var summary: GraphSummary
    public var modelFingerprint: String
    public var transcoderFingerprint: String
    public var layers: Int
    /// Influence per position-free feature (summed over positions).
    public var features: [LayerFeature: Double]
    /// Influence per aligned feature.
    public var alignedFeatures: [AlignedNode: Double]
    public var nodes: Set<AlignedNode>
    public var edges: [AlignedEdge: Float]
    /// Text shown for aligned token and logit nodes.
    public var texts: [AlignedNode: String]
    /// Influence of every aligned feature and error node.
    public var influence: [AlignedNode: Double]

    public init(_ g: StoredGraph) {
        summary = g.summary
        modelFingerprint = g.provenance.modelFingerprint
        transcoderFingerprint = g.provenance.transcoderFingerprint
        layers = g.layout.layers
        let last = g.layout.positions - 1
        let logitRanks = Dictionary(uniqueKeysWithValues: g.nodes.filter { $0.kind == .logit }.sorted { $0.index < $1.index }.enumerated()
            .map { ($0.element.index, $0.offset) })
        var aligned = [Int: AlignedNode]()
        var features = [LayerFeature: Double](), alignedFeatures = [AlignedNode: Double](), texts = [AlignedNode: String]()
        var influence = [AlignedNode: Double]()
        for n in g.nodes {
            let offset = last - n.position
            let key: AlignedNode
            switch n.kind {
            case .feature:
                key = .feature(layer: n.layer ?? 0, feature: n.feature ?? 0, offset: offset)
                features[LayerFeature(layer: n.layer ?? 0, feature: n.feature ?? 0), default: 0] += Double(n.influence)
                alignedFeatures[key, default: 0] += Double(n.influence)
            case .error: key = .error(layer: n.layer ?? 0, offset: offset)
            case .token: key = .token(offset: offset); texts[key] = n.tokenText ?? ""
            case .logit: key = .logit(rank: logitRanks[n.index] ?? 0); texts[key] = n.tokenText ?? ""
            }
            aligned[n.index] = key
            if n.kind == .feature || n.kind == .error { influence[key, default: 0] += Double(n.influence) }
        }
        var edges = [AlignedEdge: Float]()
        for e in g.edges {
            guard let s = aligned[e.source], let t = aligned[e.target] else { continue }
            edges[AlignedEdge(source: s, target: t), default: 0] += e.weight
        }
        self.features = features
        self.alignedFeatures = alignedFeatures
        nodes = Set(aligned.values)
        self.edges = edges
        self.texts = texts
        self.influence = influence
    }
}

public enum CompareError: Error, Equatable, CustomStringConvertible {
    case tooFew
    case repeated(String)
    case incomparable(String)

    public var description: String {
        switch self {
        case .tooFew: "compare needs at least two graphs (give their ids or slugs)"
        case let .repeated(slug): "graph \"\(slug)\" is given more than once"
        case let .incomparable(reason): reason
        }
    }
}
