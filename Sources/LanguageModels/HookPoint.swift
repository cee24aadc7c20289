// Typed hook points. Each prints as its TransformerLens name, the vocabulary interpretability
// researchers share, but code never parses these strings.

/// A place in the forward pass whose activation can be cached, read or replaced.
/// Shapes (b prompts, n positions): residual-stream points [b, n, d], `attnPattern` [b, h, n, n],
/// norm scales [b, n] (1 / rms of the norm's input), `mlpIn` [b, n, d].
public enum HookPoint: Hashable, Sendable, CustomStringConvertible, Comparable {
    case embed
    case residPre(layer: Int)
    case attnNormScale(layer: Int)
    case attnPattern(layer: Int)
    case attnOut(layer: Int)
    case residMid(layer: Int)
    case mlpNormScale(layer: Int)
    /// The MLP's input: the output of its RMSNorm (a transcoder's input site).
    case mlpIn(layer: Int)
    case mlpOut(layer: Int)
    case residPost(layer: Int)
    case finalNormScale
    case finalNormalized

    public var description: String {
        switch self {
        case .embed: "hook_embed"
        case .residPre(let l): "blocks.\(l).hook_resid_pre"
        case .attnNormScale(let l): "blocks.\(l).ln1.hook_scale"
        case .attnPattern(let l): "blocks.\(l).attn.hook_pattern"
        case .attnOut(let l): "blocks.\(l).hook_attn_out"
        case .residMid(let l): "blocks.\(l).hook_resid_mid"
        case .mlpNormScale(let l): "blocks.\(l).ln2.hook_scale"
        case .mlpIn(let l): "blocks.\(l).mlp.hook_in"
        case .mlpOut(let l): "blocks.\(l).hook_mlp_out"
        case .residPost(let l): "blocks.\(l).hook_resid_post"
        case .finalNormScale: "ln_final.hook_scale"
        case .finalNormalized: "ln_final.hook_normalized"
        }
    }

    /// The layer, for per-layer points.
    public var layer: Int? {
        switch self {
        case .residPre(let l), .attnNormScale(let l), .attnPattern(let l), .attnOut(let l), .residMid(let l),
             .mlpNormScale(let l), .mlpIn(let l), .mlpOut(let l), .residPost(let l):
            l
        case .embed, .finalNormScale, .finalNormalized:
            nil
        }
    }

    /// Order in the forward pass.
    var order: (Int, Int) {
        switch self {
        case .embed: (-1, 0)
        case .residPre(let l): (l, 0)
        case .attnNormScale(let l): (l, 1)
        case .attnPattern(let l): (l, 2)
        case .attnOut(let l): (l, 3)
        case .residMid(let l): (l, 4)
        case .mlpNormScale(let l): (l, 5)
        case .mlpIn(let l): (l, 6)
        case .mlpOut(let l): (l, 7)
        case .residPost(let l): (l, 8)
        case .finalNormScale: (Int.max, 0)
        case .finalNormalized: (Int.max, 1)
        }
    }

    public static func < (a: HookPoint, b: HookPoint) -> Bool { a.order < b.order }

    /// Every hook point of a model with `layers` layers, in forward order.
    public static func all(layers: Int) -> [HookPoint] {
        [.embed] + (0..<layers).flatMap { l in
            [.residPre(layer: l), .attnNormScale(layer: l), .attnPattern(layer: l), .attnOut(layer: l), .residMid(layer: l),
             .mlpNormScale(layer: l), .mlpIn(layer: l), .mlpOut(layer: l), .residPost(layer: l)]
        } + [.finalNormScale, .finalNormalized]
    }
}
