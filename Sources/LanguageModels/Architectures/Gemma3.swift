// Gemma 3: Gemma 2's sandwich block with an RMSNorm (1 + w) over each query and key head instead
// of attention soft-capping, five sliding-window layers to one global layer, and separate RoPE
// bases for the two (rope_local_base_freq, 10,000, for sliding layers; rope_theta globally, where
// larger models also scale positions linearly).

public enum Gemma3: SandwichNormArchitecture {
    public static let ggufNames = ["gemma3"]
    public static let modelTypes = ["gemma3_text", "gemma3"]
    public static let huggingFaceNormOffset: Float = 1
    public static let requiredTensors = SandwichNormBlock.tensors.union([.queryNorm, .keyNorm])
    public static func huggingFaceName(_ tensor: LayerTensor) -> String { gemmaHuggingFaceName(tensor) }

    public static func configure(_ c: inout ModelConfiguration, huggingFace j: ConfigurationSource) throws {
        try SandwichNormBlock.configure(&c, huggingFace: j, pattern: 6)
        let local = try j.optionalDouble("rope_local_base_freq") ?? 10_000
        c.localRope = RopeConfiguration(base: local, dimension: c.rope.dimension, style: c.rope.style)
    }

    public static func configure(_ c: inout ModelConfiguration, gguf g: ConfigurationSource) throws {
        try SandwichNormBlock.configure(&c, gguf: g, prefix: "gemma3", pattern: 6)
        // llama.cpp fixes the local base at 10,000 for Gemma 3 (no key holds it).
        c.localRope = RopeConfiguration(base: 10_000, dimension: c.rope.dimension, style: c.rope.style)
    }

}
