// Gemma 2: "sandwich" blocks with a norm before and after both attention and the MLP, RMSNorm
// scaled by (1 + w) (Hugging Face stores w; llama.cpp's GGUF stores 1 + w), a GELU-tanh-gated
// MLP, embeddings multiplied by √d, scores scaled by query_pre_attn_scalar^−½, attention and
// final logits soft-capped, and sliding-window attention on every other layer (even layers).

import Foundation

/// The Hugging Face names of a Gemma layer's tensors.
func gemmaHuggingFaceName(_ tensor: LayerTensor) -> String {
    switch tensor {
    case .postAttentionNorm: "post_attention_layernorm.weight"
    case .mlpNorm: "pre_feedforward_layernorm.weight"
    case .postMLPNorm: "post_feedforward_layernorm.weight"
    default: preNormHuggingFaceName(tensor)
    }
}

/// An architecture whose block is Gemma's sandwich-norm one.
public protocol SandwichNormArchitecture: Architecture {}

extension SandwichNormArchitecture {
    public static func points(layer l: Int) -> [HookPoint] { SandwichNormBlock.points(layer: l) }
    public static func block<E: BlockEvaluator>(_ x: E.Value, layer l: Int, weights w: LayerWeights, _ e: inout E) throws -> E.Value {
        try SandwichNormBlock.block(x, layer: l, weights: w, &e)
    }
}

/// The block of Gemma 2 and 3: x + post_norm(attention(norm(x))), then + post_norm(MLP(norm(·))).
enum SandwichNormBlock {
    static let tensors = preNormTensors.union([.postAttentionNorm, .postMLPNorm])

    static func points(layer l: Int) -> [HookPoint] {
        [.residPre(layer: l), .attnNormScale(layer: l), .attnQ(layer: l), .attnK(layer: l), .attnV(layer: l), .attnPattern(layer: l), .attnZ(layer: l), .attnPostNormScale(layer: l),
         .attnOut(layer: l), .residMid(layer: l), .mlpNormScale(layer: l), .mlpNormalized(layer: l), .mlpIn(layer: l),
         .mlpRawOut(layer: l), .mlpPostNormScale(layer: l), .mlpOut(layer: l), .residPost(layer: l)]
    }

    static func block<E: BlockEvaluator>(_ input: E.Value, layer l: Int, weights w: LayerWeights, _ e: inout E) throws -> E.Value {
        guard let postAttention = w.postAttentionNorm, let postMLP = w.postMLPNorm else {
            throw LanguageModelError.invalidConfiguration(source: "layer \(l)", reason: "a Gemma block needs its post-attention and post-MLP norms")
        }
        var x = input
        try e.visit(.residPre(layer: l), &x)
        let a = try e.normalize(x, weight: w.attentionNorm, bias: nil, scale: .attnNormScale(layer: l), normalized: nil)
        let attended = try e.attention(a, layer: l)
        var o = try e.normalize(attended, weight: postAttention, bias: nil, scale: .attnPostNormScale(layer: l), normalized: nil)
        try e.visit(.attnOut(layer: l), &o)
        x = try e.add(x, o)
        try e.visit(.residMid(layer: l), &x)
        var u = try e.normalize(x, weight: w.mlpNorm, bias: nil, scale: .mlpNormScale(layer: l), normalized: .mlpNormalized(layer: l))
        try e.visit(.mlpIn(layer: l), &u)
        var raw = try e.mlp(u, layer: l)
        try e.visit(.mlpRawOut(layer: l), &raw)
        var y = try e.normalize(raw, weight: postMLP, bias: nil, scale: .mlpPostNormScale(layer: l), normalized: nil)
        try e.visit(.mlpOut(layer: l), &y)
        x = try e.add(x, y)
        try e.visit(.residPost(layer: l), &x)
        return x
    }

    /// What Gemma 2 and 3 share, read from Hugging Face config.json: the activation, √d
    /// embedding scale, query scale, soft-caps, window and per-layer spans (`layer_types`, or
    /// every `pattern`-th layer global).
    static func configure(_ c: inout ModelConfiguration, huggingFace j: ConfigurationSource, pattern defaultPattern: Int) throws {
        let activation = try j.optionalString("hidden_activation") ?? j.optionalString("hidden_act") ?? "gelu_pytorch_tanh"
        guard ["gelu_pytorch_tanh", "gelu_tanh"].contains(activation) else {
            throw j.fail("hidden_activation \(activation) is not supported (gelu_pytorch_tanh is)")
        }
        c.mlpActivation = .geluTanh
        c.embeddingScale = Float(Double(c.width).squareRoot())
        if let q = try j.optionalDouble("query_pre_attn_scalar") {
            guard q > 0 else { throw j.fail("query_pre_attn_scalar \(q) must be positive") }
            c.queryScale = Float(1 / q.squareRoot())
        }
        c.attentionSoftcap = try j.optionalDouble("attn_logit_softcapping").map(Float.init)
        c.finalSoftcap = try j.optionalDouble("final_logit_softcapping").map(Float.init)
        c.slidingWindow = try j.optionalInt("sliding_window")
        if let types = try j.optionalStrings("layer_types") {
            c.layerSpans = try types.map { t in
                switch t {
                case "sliding_attention": .sliding
                case "full_attention": .global
                default: throw j.fail("layer_types entry \(t) is not sliding_attention or full_attention")
                }
            }
        } else {
            let pattern = try j.optionalInt("sliding_window_pattern") ?? defaultPattern
            guard pattern > 0 else { throw j.fail("sliding_window_pattern \(pattern) must be positive") }
            c.layerSpans = (0..<c.layers).map { ($0 + 1) % pattern == 0 ? .global : .sliding }
        }
        if c.slidingWindow == nil { c.layerSpans = nil }
    }

    /// The same from GGUF metadata, where llama.cpp fixes the pattern and the query scale.
    static func configure(_ c: inout ModelConfiguration, gguf g: ConfigurationSource, prefix: String, pattern: Int) throws {
        c.mlpActivation = .geluTanh
        c.embeddingScale = Float(Double(c.width).squareRoot())
        if let scale = try g.optionalDouble("\(prefix).attention.scale") { c.queryScale = Float(scale) }
        c.attentionSoftcap = try g.optionalDouble("\(prefix).attn_logit_softcapping").map(Float.init)
        c.finalSoftcap = try g.optionalDouble("\(prefix).final_logit_softcapping").map(Float.init)
        if let window = try g.optionalInt("\(prefix).attention.sliding_window") {
            c.slidingWindow = window
            c.layerSpans = (0..<c.layers).map { ($0 + 1) % pattern == 0 ? .global : .sliding }
        }
    }
}

public enum Gemma2: SandwichNormArchitecture {
    public static let ggufNames = ["gemma2"]
    public static let modelTypes = ["gemma2"]
    public static let huggingFaceNormOffset: Float = 1
    public static let requiredTensors = SandwichNormBlock.tensors
    public static func huggingFaceName(_ tensor: LayerTensor) -> String { gemmaHuggingFaceName(tensor) }
    public static func configure(_ c: inout ModelConfiguration, huggingFace j: ConfigurationSource) throws {
        try SandwichNormBlock.configure(&c, huggingFace: j, pattern: 2)
    }
    public static func configure(_ c: inout ModelConfiguration, gguf g: ConfigurationSource) throws {
        try SandwichNormBlock.configure(&c, gguf: g, prefix: "gemma2", pattern: 2)
    }
}
