// Llama (SmolLM2, Llama 2/3): pre-norm blocks, RMSNorm, grouped-query attention with RoPE, a
// SiLU-gated MLP. llama.cpp writes Llama's query and key rows permuted into the interleaved
// RoPE layout; Hugging Face checkpoints keep the half-split one.

import TensorCore

/// The Hugging Face names of a pre-norm (Llama-style) layer's tensors.
func preNormHuggingFaceName(_ tensor: LayerTensor) -> String {
    switch tensor {
    case .attentionNorm: "input_layernorm.weight"
    case .query: "self_attn.q_proj.weight"
    case .key: "self_attn.k_proj.weight"
    case .value: "self_attn.v_proj.weight"
    case .queryBias: "self_attn.q_proj.bias"
    case .keyBias: "self_attn.k_proj.bias"
    case .valueBias: "self_attn.v_proj.bias"
    case .queryNorm: "self_attn.q_norm.weight"
    case .keyNorm: "self_attn.k_norm.weight"
    case .output: "self_attn.o_proj.weight"
    case .postAttentionNorm: "post_attention_norm.weight"       // none in this family
    case .mlpNorm: "post_attention_layernorm.weight"
    case .gate: "mlp.gate_proj.weight"
    case .up: "mlp.up_proj.weight"
    case .down: "mlp.down_proj.weight"
    case .postMLPNorm: "post_feedforward_layernorm.weight"      // none in this family
    default: tensor.rawValue                                     // none in this family
    }
}

/// The tensors of every pre-norm layer.
let preNormTensors: Set<LayerTensor> = [.attentionNorm, .query, .key, .value, .output, .mlpNorm, .gate, .up, .down]

public enum Llama: PreNormArchitecture {
    public static let ggufNames = ["llama"]
    public static let modelTypes = ["llama"]
    /// SmolLM2's traces have always started with its BOS, as circuit-tracer's do, whatever the
    /// file's add_bos_token says.
    public static let startsWithBOS = true
    public static let ggufRopeStyle = RotaryStyle.interleaved
    public static let requiredTensors = preNormTensors
    public static func huggingFaceName(_ tensor: LayerTensor) -> String { preNormHuggingFaceName(tensor) }
}
