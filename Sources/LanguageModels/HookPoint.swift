// Typed hook points. Each prints as its TransformerLens name, the vocabulary interpretability
// researchers share, but code never parses these strings. Which points a model has is its
// architecture's (`TransformerModel.hookPoints`): Gemma's post-norms exist only there.

/// A place in the forward pass whose activation can be cached, read or replaced.
/// Shapes (b prompts, n positions): residual-stream points [b, n, d], `attnPattern` [b, h, n, n],
/// norm scales [b, n] (1 / rms of the norm's input), `mlpIn` [b, n, d], `attnZ` [b, n, h·e].
public enum HookPoint: Hashable, Sendable, CustomStringConvertible, Comparable {
    case embed
    case residPre(layer: Int)
    case attnNormScale(layer: Int)
    /// Query, key and value projections (bias added, before any query/key norm and RoPE): [b, n, h·e],
    /// [b, n, g·e], [b, n, g·e] (TransformerLens's hook_q, hook_k, hook_v, flattened over heads).
    case attnQ(layer: Int), attnK(layer: Int), attnV(layer: Int)
    case attnPattern(layer: Int)
    /// Every head's output before the output projection, heads side by side: [b, n, h·e]
    /// (TransformerLens's hook_z, flattened over heads). Forward passes only.
    case attnZ(layer: Int)
    /// The scale of the norm after attention (Gemma's post_attention_layernorm).
    case attnPostNormScale(layer: Int)
    case attnOut(layer: Int)
    case residMid(layer: Int)
    case mlpNormScale(layer: Int)
    /// The MLP's input normalised, before the norm's weight multiplies it.
    case mlpNormalized(layer: Int)
    /// The MLP's input: the output of its norm (a transcoder's usual input site).
    case mlpIn(layer: Int)
    /// The MLP's own output, before any norm after it (the same as `mlpOut` without one).
    case mlpRawOut(layer: Int)
    /// The scale of the norm after the MLP (Gemma's post_feedforward_layernorm).
    case mlpPostNormScale(layer: Int)
    /// What the MLP adds to the residual stream.
    case mlpOut(layer: Int)
    case residPost(layer: Int)
    case finalNormScale
    case finalNormalized

    public var description: String {
        switch self {
        case .embed: "hook_embed"
        case .residPre(let l): "blocks.\(l).hook_resid_pre"
        case .attnNormScale(let l): "blocks.\(l).ln1.hook_scale"
        case .attnQ(let l): "blocks.\(l).attn.hook_q"
        case .attnK(let l): "blocks.\(l).attn.hook_k"
        case .attnV(let l): "blocks.\(l).attn.hook_v"
        case .attnPattern(let l): "blocks.\(l).attn.hook_pattern"
        case .attnZ(let l): "blocks.\(l).attn.hook_z"
        case .attnPostNormScale(let l): "blocks.\(l).ln1_post.hook_scale"
        case .attnOut(let l): "blocks.\(l).hook_attn_out"
        case .residMid(let l): "blocks.\(l).hook_resid_mid"
        case .mlpNormScale(let l): "blocks.\(l).ln2.hook_scale"
        case .mlpNormalized(let l): "blocks.\(l).ln2.hook_normalized"
        case .mlpIn(let l): "blocks.\(l).mlp.hook_in"
        case .mlpRawOut(let l): "blocks.\(l).mlp.hook_out"
        case .mlpPostNormScale(let l): "blocks.\(l).ln2_post.hook_scale"
        case .mlpOut(let l): "blocks.\(l).hook_mlp_out"
        case .residPost(let l): "blocks.\(l).hook_resid_post"
        case .finalNormScale: "ln_final.hook_scale"
        case .finalNormalized: "ln_final.hook_normalized"
        }
    }

    /// The layer, for per-layer points.
    public var layer: Int? {
        switch self {
        case .residPre(let l), .attnNormScale(let l), .attnQ(let l), .attnK(let l), .attnV(let l), .attnPattern(let l), .attnZ(let l), .attnPostNormScale(let l), .attnOut(let l),
             .residMid(let l), .mlpNormScale(let l), .mlpNormalized(let l), .mlpIn(let l), .mlpRawOut(let l),
             .mlpPostNormScale(let l), .mlpOut(let l), .residPost(let l):
            l
        case .embed, .finalNormScale, .finalNormalized:
            nil
        }
    }

    /// Whether the point is a norm's frozen scale (attribution and frozen interventions fix these).
    public var isNormScale: Bool {
        switch self {
        case .attnNormScale, .attnPostNormScale, .mlpNormScale, .mlpPostNormScale, .finalNormScale: true
        default: false
        }
    }

    /// Order in the forward pass.
    var order: (Int, Int) {
        switch self {
        case .embed: (-1, 0)
        case .residPre(let l): (l, 0)
        case .attnNormScale(let l): (l, 1)
        case .attnQ(let l): (l, 2)
        case .attnK(let l): (l, 3)
        case .attnV(let l): (l, 4)
        case .attnPattern(let l): (l, 5)
        case .attnZ(let l): (l, 6)
        case .attnPostNormScale(let l): (l, 7)
        case .attnOut(let l): (l, 8)
        case .residMid(let l): (l, 9)
        case .mlpNormScale(let l): (l, 10)
        case .mlpNormalized(let l): (l, 11)
        case .mlpIn(let l): (l, 12)
        case .mlpRawOut(let l): (l, 13)
        case .mlpPostNormScale(let l): (l, 14)
        case .mlpOut(let l): (l, 15)
        case .residPost(let l): (l, 16)
        case .finalNormScale: (Int.max, 0)
        case .finalNormalized: (Int.max, 1)
        }
    }

    public static func < (a: HookPoint, b: HookPoint) -> Bool { a.order < b.order }
}
