// Hand-built graphs for tests of the store, queries and comparisons: described by node names,
// saved the way `trace` saves graphs.

import Foundation
import Attribution
import GraphStore
import TensorCore

/// A small graph described by hand: node names are "t<pos>" (tokens), "f<i>" (features, in the
/// order given), "l<i>" (logits) and "e<layer>@<pos>" (error nodes).
public struct HandGraph: Sendable {
    public var prompt: String
    public var tokens: [String]
    public var features: [(layer: Int, position: Int, feature: Int, influence: Float)]
    public var logits: [(text: String, probability: Float)]
    public var edges: [(source: String, target: String, weight: Float)]
    public var layers = 30
    public var modelFingerprint = "hand-model"
    public var transcoderFingerprint = "hand-set"

    public init(prompt: String, tokens: [String], features: [(layer: Int, position: Int, feature: Int, influence: Float)],
                logits: [(text: String, probability: Float)], edges: [(source: String, target: String, weight: Float)], layers: Int = 30) {
        self.prompt = prompt
        self.tokens = tokens
        self.features = features
        self.logits = logits
        self.edges = edges
        self.layers = layers
    }

    public var layout: NodeLayout { NodeLayout(features: features.count, layers: layers, positions: tokens.count, logits: logits.count) }

    public func index(_ name: String) -> Int {
        let rest = name.dropFirst()
        switch name.first! {
        case "t": return layout.token(position: Int(rest)!)
        case "f": return Int(rest)!
        case "l": return layout.logit(Int(rest)!)
        default:
            let parts = rest.split(separator: "@").map { Int($0)! }
            return layout.error(layer: parts[0], position: parts[1])
        }
    }

    /// Token ids: 100 + position for prompt tokens, 200 + i for logits.
    public func tokenText(_ id: Int) -> String { id >= 200 ? logits[id - 200].text : tokens[id - 100] }

    public func graph() throws -> AttributionGraph {
        let layout = self.layout
        let n = layout.count
        var adjacency = try Tensor(zeros: [n, n])
        var kept = [Bool](repeating: false, count: n)
        for i in 0..<n where layout.kind(of: i) != .error { kept[i] = true }
        for e in edges {
            let (s, t) = (index(e.source), index(e.target))
            adjacency.scalars[t * n + s] = e.weight
            kept[s] = true
            kept[t] = true
        }
        var influence = [Float](repeating: 0, count: n)
        for (i, f) in features.enumerated() { influence[i] = f.influence }
        var options = AttributionOptions()
        options.nodeThreshold = 1
        options.edgeThreshold = 1
        let ids = tokens.indices.map { 100 + $0 }
        let provenance = GraphProvenance(modelPath: "hand", modelFingerprint: modelFingerprint, transcoderSet: "hand", transcoderFingerprint: transcoderFingerprint,
                                         prompt: prompt, tokens: ids, options: options, engineVersion: "test")
        return AttributionGraph(
            layout: layout,
            features: features.map { ActiveFeature(layer: $0.layer, position: $0.position, feature: $0.feature, activation: 1) },
            activeFeatureCount: features.count,
            logits: logits.enumerated().map { LogitNode(token: 200 + $0.offset, probability: $0.element.probability, demeanedLogit: 0) },
            adjacency: adjacency, influence: influence,
            pruning: Influence.Pruning(nodes: kept, edges: adjacency.scalars.map { $0 != 0 }, nodeInfluence: influence),
            replacementScore: 0.5, completenessScore: 0.9, provenance: provenance, timings: AttributionTimings())
    }

    @discardableResult
    public func save(into store: GraphStore, slug: String? = nil) throws -> GraphSummary {
        try store.save(try graph(), slug: slug, context: GraphContext(architecture: "llama", layers: layers, width: 8, transcoderName: transcoderFingerprint,
                                                                     transcoderFeatures: 1000), tokenText: tokenText)
    }
}

