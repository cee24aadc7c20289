// The node order of an attribution graph (as circuit-tracer's adjacency matrix):
//   1. feature nodes (layer, position, feature), in that lexicographic order
//   2. error nodes, layer-major: layers × positions
//   3. token (embedding) nodes, one per position
//   4. logit nodes, most probable first
// Rows are targets and columns are sources. This type owns every index computation.

public struct NodeLayout: Codable, Sendable, Equatable {
    public let features: Int
    public let layers: Int
    public let positions: Int
    public let logits: Int

    public init(features: Int, layers: Int, positions: Int, logits: Int) {
        self.features = features
        self.layers = layers
        self.positions = positions
        self.logits = logits
    }

    public var errorStart: Int { features }
    public var tokenStart: Int { features + layers * positions }
    public var logitStart: Int { tokenStart + positions }
    public var count: Int { logitStart + logits }

    public func feature(_ i: Int) -> Int { i }
    public func error(layer: Int, position: Int) -> Int { errorStart + layer * positions + position }
    public func token(position: Int) -> Int { tokenStart + position }
    public func logit(_ i: Int) -> Int { logitStart + i }

    /// What kind of node an index is.
    public enum Kind: String, Codable, Sendable { case feature, error, token, logit }

    public func kind(of node: Int) -> Kind {
        node < errorStart ? .feature : node < tokenStart ? .error : node < logitStart ? .token : .logit
    }

    /// (layer, position) of an error node.
    public func errorSite(_ node: Int) -> (layer: Int, position: Int) {
        let i = node - errorStart
        return (i / positions, i % positions)
    }
}
