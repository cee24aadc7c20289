// What a graph explains. By default, the most likely next tokens (ATTRIBUTION.md §4); like
// circuit-tracer's custom targets, it can instead explain chosen tokens' logits, a logit
// difference ("why Mary rather than John"), or any direction read at the final norm's output.
// Each target is one logit node whose read vector is injected there:
//   token v          W_U[v] − mean_u W_U[u]     (the demeaned logit; weight: its probability)
//   v minus u        W_U[v] − W_U[u]            (logit_v − logit_u; weight 1)
//   direction r      r                          (r · final output; weight 1)

import TensorCore

public enum AttributionTarget: Codable, Sendable, Equatable {
    case token(Int)
    case difference(Int, minus: Int)
    case direction([Float], label: String)
}

extension LogitNode {
    /// What the node's row explains, for a reader: its token, or the difference or direction.
    public func label(tokenText: (Int) -> String) -> String {
        if let label { return label }
        // " Mary" − " John" reads as " Mary − John": the second token's own leading space is the gap.
        if let minus {
            let second = tokenText(minus)
            return tokenText(token) + " −" + (second.first?.isWhitespace == true ? second : " " + second)
        }
        return tokenText(token)
    }
}

extension LocalReplacementModel {
    /// The read vector [d] of a logit node, injected at the final norm's output.
    public func readVector(_ node: LogitNode) throws -> Tensor {
        if let direction = node.direction { return try Tensor(shape: [configuration.width], scalars: direction) }
        if let minus = node.minus {
            let d = configuration.width
            return try unembedding.row(node.token).reshaped([d]) - unembedding.row(minus).reshaped([d])
        }
        return try logitVector(node.token)
    }

    /// The node's value in the real forward pass from its logits (nil for a direction, which needs
    /// the final output itself).
    public func value(_ node: LogitNode) -> Float? {
        if node.direction != nil { return nil }
        if let minus = node.minus { return linearLogits.scalars[node.token] - linearLogits.scalars[minus] }
        return linearLogits.scalars[node.token] - linearLogits.mean()
    }
}
