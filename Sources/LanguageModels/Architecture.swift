// The seam between architectures. Each architecture is one file (`Architectures/`) that declares
// which file names it reads (GGUF `general.architecture`, Hugging Face `model_type`), how its
// configuration keys map onto `ModelConfiguration`, which tensors a layer has, and its block:
// where the norms, attention, MLP and residual additions sit. The block is written once, against
// `BlockEvaluator`, and serves both the forward pass (`TransformerModel.forward`) and the frozen
// pullback attribution records on an Autodiff tape — there is no second copy of any block.

import ModelIO
import TensorCore

/// What a block is written against. A forward pass evaluates it on activations (with hooks, real
/// norms and attention); attribution evaluates the same block on tape variables, with every norm
/// scale and attention pattern frozen and each MLP replaced by its transcoder's sources.
public protocol BlockEvaluator {
    associatedtype Value
    /// The norm x · s · w (+ b) of the model's kind whose per-row scale s is the hook point
    /// `scale`; `normalized`, when given, is the hook point of x · s (before the weight).
    mutating func normalize(_ x: Value, weight: Tensor, bias: Tensor?, scale: HookPoint, normalized: HookPoint?) throws -> Value
    /// Adds learned position embeddings, for a model that has them (after `hook_embed`).
    mutating func addPositions(_ x: Value) throws -> Value
    /// Self-attention of layer l on its normalised input.
    mutating func attention(_ a: Value, layer: Int) throws -> Value
    /// The MLP of layer l on its input.
    mutating func mlp(_ u: Value, layer: Int) throws -> Value
    mutating func add(_ a: Value, _ b: Value) throws -> Value
    /// A hook point: the value may be read, recorded or replaced.
    mutating func visit(_ point: HookPoint, _ value: inout Value) throws
}

/// The tensors a layer may have, by role.
public enum LayerTensor: String, CaseIterable, Sendable {
    case attentionNorm, query, key, value, queryBias, keyBias, valueBias, queryNorm, keyNorm, output
    case postAttentionNorm, mlpNorm, gate, up, down, postMLPNorm
    /// GPT-2's fused query ‖ key ‖ value and the biases of its norms, output projection and MLP.
    case qkv, qkvBias, attentionNormBias, outputBias, mlpNormBias, upBias, downBias

    /// The name llama.cpp writes (after `blk.N.`), the same for every architecture.
    public var ggufName: String {
        switch self {
        case .attentionNorm: "attn_norm.weight"
        case .query: "attn_q.weight"
        case .key: "attn_k.weight"
        case .value: "attn_v.weight"
        case .queryBias: "attn_q.bias"
        case .keyBias: "attn_k.bias"
        case .valueBias: "attn_v.bias"
        case .queryNorm: "attn_q_norm.weight"
        case .keyNorm: "attn_k_norm.weight"
        case .output: "attn_output.weight"
        case .postAttentionNorm: "post_attention_norm.weight"
        case .mlpNorm: "ffn_norm.weight"
        case .gate: "ffn_gate.weight"
        case .up: "ffn_up.weight"
        case .down: "ffn_down.weight"
        case .postMLPNorm: "post_ffw_norm.weight"
        case .qkv: "attn_qkv.weight"
        case .qkvBias: "attn_qkv.bias"
        case .attentionNormBias: "attn_norm.bias"
        case .outputBias: "attn_output.bias"
        case .mlpNormBias: "ffn_norm.bias"
        case .upBias: "ffn_up.bias"
        case .downBias: "ffn_down.bias"
        }
    }

    /// Norm weights (not biases), which Gemma's Hugging Face files store as w of (1 + w).
    var isNorm: Bool { [.attentionNorm, .queryNorm, .keyNorm, .postAttentionNorm, .mlpNorm, .postMLPNorm].contains(self) }
}

/// Configuration entries as a file gives them: GGUF metadata or a Hugging Face config.json.
public protocol ConfigurationSource {
    /// Where the entries come from (for messages).
    var source: String { get }
    func optionalInt(_ key: String) throws -> Int?
    func optionalDouble(_ key: String) throws -> Double?
    func optionalString(_ key: String) throws -> String?
    func optionalStrings(_ key: String) throws -> [String]?
}

extension ConfigurationSource {
    public func int(_ key: String) throws -> Int {
        guard let v = try optionalInt(key) else { throw LanguageModelError.invalidConfiguration(source: source, reason: "missing integer \(key)") }
        return v
    }

    func fail(_ reason: String) -> LanguageModelError { .invalidConfiguration(source: source, reason: reason) }
}

/// One architecture: its names, configuration, tensors and block.
public protocol Architecture: Sendable {
    /// Its GGUF `general.architecture` values (the first is the key prefix of its metadata).
    static var ggufNames: [String] { get }
    /// Its Hugging Face `model_type` values.
    static var modelTypes: [String] { get }
    /// Whether prompts start with the BOS token.
    static var startsWithBOS: Bool { get }
    /// The RoPE layout of its GGUF files (llama.cpp permutes Llama's query and key rows).
    static var ggufRopeStyle: RotaryStyle { get }
    /// A Hugging Face checkpoint stores each norm's weight as w of (1 + w) (Gemma); llama.cpp adds the 1.
    static var huggingFaceNormOffset: Float { get }
    /// Tensors every layer must have.
    static var requiredTensors: Set<LayerTensor> { get }
    /// Tensors read when the file has them (capabilities found by presence: biases, q/k norms).
    static var optionalTensors: Set<LayerTensor> { get }
    /// The Hugging Face name of a layer tensor (after `huggingFaceLayerPrefix` and the layer).
    static func huggingFaceName(_ tensor: LayerTensor) -> String
    /// Where layer tensors' names start (`model.layers.`, then the layer and a dot).
    static var huggingFaceLayerPrefix: String { get }
    /// The names of the tensors outside the layers.
    static var huggingFaceModelTensors: ModelTensorNames { get }
    /// Hugging Face tensors stored [in, out] (GPT-2's Conv1D), transposed on loading.
    static var huggingFaceTransposed: Set<LayerTensor> { get }
    /// The config.json key holding a shared entry (`hidden_size`, `num_attention_heads`, …).
    static func huggingFaceKey(_ key: String) -> String
    /// The MLP width when config.json gives none (GPT-2: 4d); nil requires it.
    static func defaultMLPWidth(width: Int) -> Int?
    /// Sets what the shared readers do not: the architecture's own keys and fixed choices.
    static func configure(_ c: inout ModelConfiguration, gguf: ConfigurationSource) throws
    static func configure(_ c: inout ModelConfiguration, huggingFace: ConfigurationSource) throws
    /// A layer's hook points in forward order.
    static func points(layer l: Int) -> [HookPoint]
    /// One block: the residual stream in, the residual stream out.
    static func block<E: BlockEvaluator>(_ x: E.Value, layer l: Int, weights w: LayerWeights, _ e: inout E) throws -> E.Value
}

/// The Hugging Face names of a model's tensors outside its layers.
public struct ModelTensorNames: Sendable {
    public var embedding = "model.embed_tokens.weight"
    public var finalNorm = "model.norm.weight"
    public var finalNormBias: String? = nil
    public var unembedding = "lm_head.weight"
    public var positions: String? = nil
}

extension Architecture {
    public static var optionalTensors: Set<LayerTensor> { [.queryBias, .keyBias, .valueBias, .queryNorm, .keyNorm] }
    public static var huggingFaceLayerPrefix: String { "model.layers." }
    public static var huggingFaceModelTensors: ModelTensorNames { ModelTensorNames() }
    public static var huggingFaceTransposed: Set<LayerTensor> { [] }
    public static func huggingFaceKey(_ key: String) -> String { key }
    public static func defaultMLPWidth(width: Int) -> Int? { nil }
    public static var ggufRopeStyle: RotaryStyle { .halfSplit }
    public static var huggingFaceNormOffset: Float { 0 }
    public static var startsWithBOS: Bool { true }
    public static func configure(_ c: inout ModelConfiguration, gguf: ConfigurationSource) throws {}
    public static func configure(_ c: inout ModelConfiguration, huggingFace: ConfigurationSource) throws {}
}

/// Every architecture, looked up by the names files give.
public enum Architectures {
    public static let all: [any Architecture.Type] = [Llama.self, Qwen2.self, Qwen3.self, Gemma2.self, Gemma3.self, GPT2.self]

    public static func gguf(_ name: String) -> (any Architecture.Type)? { all.first { $0.ggufNames.contains(name) } }

    public static func huggingFace(_ modelType: String) -> (any Architecture.Type)? { all.first { $0.modelTypes.contains(modelType) } }

    /// The names this build reads, for messages.
    public static var ggufNames: [String] {
        var names = [String]()
        for architecture in all { names += architecture.ggufNames }
        return names
    }

    public static var modelTypes: [String] {
        var names = [String]()
        for architecture in all { names += architecture.modelTypes }
        return names
    }
}

/// An architecture whose block is the pre-norm one (Llama, Qwen, GPT-2).
public protocol PreNormArchitecture: Architecture {}

extension PreNormArchitecture {
    public static func points(layer l: Int) -> [HookPoint] { PreNormBlock.points(layer: l) }
    public static func block<E: BlockEvaluator>(_ x: E.Value, layer l: Int, weights w: LayerWeights, _ e: inout E) throws -> E.Value {
        try PreNormBlock.block(x, layer: l, weights: w, &e)
    }
}

/// The pre-norm block of Llama and Qwen: x + attention(norm(x)), then + MLP(norm(·)).
enum PreNormBlock {
    static func points(layer l: Int) -> [HookPoint] {
        [.residPre(layer: l), .attnNormScale(layer: l), .attnQ(layer: l), .attnK(layer: l), .attnV(layer: l), .attnPattern(layer: l), .attnZ(layer: l), .attnOut(layer: l), .residMid(layer: l),
         .mlpNormScale(layer: l), .mlpNormalized(layer: l), .mlpIn(layer: l), .mlpRawOut(layer: l), .mlpOut(layer: l),
         .residPost(layer: l)]
    }

    static func block<E: BlockEvaluator>(_ input: E.Value, layer l: Int, weights w: LayerWeights, _ e: inout E) throws -> E.Value {
        var x = input
        try e.visit(.residPre(layer: l), &x)
        let a = try e.normalize(x, weight: w.attentionNorm, bias: w.attentionNormBias, scale: .attnNormScale(layer: l), normalized: nil)
        var o = try e.attention(a, layer: l)
        try e.visit(.attnOut(layer: l), &o)
        x = try e.add(x, o)
        try e.visit(.residMid(layer: l), &x)
        var u = try e.normalize(x, weight: w.mlpNorm, bias: w.mlpNormBias, scale: .mlpNormScale(layer: l), normalized: .mlpNormalized(layer: l))
        try e.visit(.mlpIn(layer: l), &u)
        var y = try e.mlp(u, layer: l)
        try e.visit(.mlpRawOut(layer: l), &y)
        try e.visit(.mlpOut(layer: l), &y)
        x = try e.add(x, y)
        try e.visit(.residPost(layer: l), &x)
        return x
    }
}
