// GPT-2 (TransformerLens's canonical model): pre-norm blocks with LayerNorm (weights and
// biases), learned position embeddings instead of RoPE, one fused query ‖ key ‖ value
// projection with biases, a plain (ungated) GELU-tanh MLP with biases, tied embeddings.
// Hugging Face stores its projections as Conv1D, [in, out]; they are transposed on loading.
// GGUF files as llama.cpp's converter writes them (`gpt2`: the projections already [out, in], the
// norms' biases as `.bias` tensors, `position_embd`, the tied unembedding stored again as `output`).

public enum GPT2: PreNormArchitecture {
    public static let ggufNames = ["gpt2"]
    public static let modelTypes = ["gpt2"]
    public static let requiredTensors: Set<LayerTensor> = [.attentionNorm, .attentionNormBias, .qkv, .qkvBias, .output, .outputBias,
                                                          .mlpNorm, .mlpNormBias, .up, .upBias, .down, .downBias]
    public static let optionalTensors: Set<LayerTensor> = []
    public static let huggingFaceLayerPrefix = "transformer.h."
    public static let huggingFaceTransposed: Set<LayerTensor> = [.qkv, .output, .up, .down]
    public static var huggingFaceModelTensors: ModelTensorNames {
        ModelTensorNames(embedding: "transformer.wte.weight", finalNorm: "transformer.ln_f.weight",
                         finalNormBias: "transformer.ln_f.bias", unembedding: "lm_head.weight", positions: "transformer.wpe.weight")
    }

    public static func huggingFaceName(_ tensor: LayerTensor) -> String {
        switch tensor {
        case .attentionNorm: "ln_1.weight"
        case .attentionNormBias: "ln_1.bias"
        case .qkv: "attn.c_attn.weight"
        case .qkvBias: "attn.c_attn.bias"
        case .output: "attn.c_proj.weight"
        case .outputBias: "attn.c_proj.bias"
        case .mlpNorm: "ln_2.weight"
        case .mlpNormBias: "ln_2.bias"
        case .up: "mlp.c_fc.weight"
        case .upBias: "mlp.c_fc.bias"
        case .down: "mlp.c_proj.weight"
        case .downBias: "mlp.c_proj.bias"
        default: tensor.rawValue                              // GPT-2 has no such tensor
        }
    }

    public static func huggingFaceKey(_ key: String) -> String {
        switch key {
        case "hidden_size": "n_embd"
        case "num_attention_heads": "n_head"
        case "num_hidden_layers": "n_layer"
        case "max_position_embeddings": "n_positions"
        case "intermediate_size": "n_inner"
        case "rms_norm_eps": "layer_norm_epsilon"
        default: key
        }
    }

    public static func defaultMLPWidth(width: Int) -> Int? { 4 * width }

    public static func configure(_ c: inout ModelConfiguration, huggingFace j: ConfigurationSource) throws {
        let activation = try j.optionalString("activation_function") ?? "gelu_new"
        guard ["gelu_new", "gelu_pytorch_tanh"].contains(activation) else {
            throw j.fail("activation_function \(activation) is not supported (gelu_new is)")
        }
        configureBlock(&c)
        c.rmsEpsilon = Float(try j.optionalDouble("layer_norm_epsilon") ?? 1e-5)
    }

    /// llama.cpp's GPT-2 always uses the tanh GELU; the shared reader has taken the epsilon.
    public static func configure(_ c: inout ModelConfiguration, gguf g: ConfigurationSource) throws {
        configureBlock(&c)
    }

    private static func configureBlock(_ c: inout ModelConfiguration) {
        c.mlpActivation = .geluTanh
        c.gatedMLP = false
        c.attentionBias = true              // the fused projection's bias is a required tensor
        c.normKind = .layer
        c.learnedPositions = true
        c.rope = RopeConfiguration(base: 10_000, dimension: 0, style: .halfSplit)
    }

}
