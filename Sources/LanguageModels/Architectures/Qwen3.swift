// Qwen 3: the Llama block with an RMSNorm over each query and key head before RoPE, and an
// explicit head dimension (head_dim / attention.key_length, not width / heads).

public enum Qwen3: Architecture {
    public static let ggufNames = ["qwen3"]
    public static let modelTypes = ["qwen3"]
    public static let startsWithBOS = false
    public static let requiredTensors = preNormTensors.union([.queryNorm, .keyNorm])
    public static func huggingFaceName(_ tensor: LayerTensor) -> String { preNormHuggingFaceName(tensor) }
    public static func points(layer l: Int) -> [HookPoint] { PreNormBlock.points(layer: l) }
    public static func block<E: BlockEvaluator>(_ x: E.Value, layer l: Int, weights w: LayerWeights, _ e: inout E) throws -> E.Value {
        try PreNormBlock.block(x, layer: l, weights: w, &e)
    }
}
