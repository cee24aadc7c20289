// Qwen 3: the Llama block with an RMSNorm over each query and key head before RoPE, and an
// explicit head dimension (head_dim / attention.key_length, not width / heads).

public enum Qwen3: PreNormArchitecture {
    public static let ggufNames = ["qwen3"]
    public static let modelTypes = ["qwen3"]
    public static let startsWithBOS = false
    public static let requiredTensors = preNormTensors.union([.queryNorm, .keyNorm])
    public static func huggingFaceName(_ tensor: LayerTensor) -> String { preNormHuggingFaceName(tensor) }
}
