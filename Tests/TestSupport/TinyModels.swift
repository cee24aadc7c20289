// Tiny random Llama-family models for fast tests. One set of weights (Hugging Face names and
// layout) can be written as a Hugging Face folder or as a GGUF file with llama.cpp's conventions
// (query/key rows permuted into the interleaved RoPE layout for the llama architecture), so the
// two loaders can be checked against each other and against a naive reference forward pass.

import Foundation
import ModelIO
import TensorCore

public struct TinyModelSpec: Sendable, CustomStringConvertible {
    public var width = 16, layers = 2, heads = 4, keyValueHeads = 2, headDimension = 4, mlpWidth = 24
    public var contextLength = 64
    public var ropeBase = 100.0
    public var rmsEpsilon: Float = 1e-5
    public var attentionBias = false
    public var queryKeyNorm = false
    public var tiedEmbeddings = true
    /// Llama 3 rope scaling (factor, low, high, original context).
    public var llama3Scaling: (Double, Double, Double, Double)? = nil
    public var seed: UInt64 = 1

    public init() {}

    /// 256 byte tokens plus <s> (256) and </s> (257).
    public var vocabularySize: Int { 258 }

    public var description: String {
        "tiny(h\(heads)/g\(keyValueHeads)\(attentionBias ? " bias" : "")\(queryKeyNorm ? " qk-norm" : "")\(tiedEmbeddings ? "" : " untied")\(llama3Scaling != nil ? " llama3-rope" : ""))"
    }

    /// The GGUF architecture name llama.cpp would use for these capabilities.
    public var ggufArchitecture: String { queryKeyNorm ? "qwen3" : attentionBias ? "qwen2" : "llama" }
}

public struct TinyModel: Sendable {
    public let spec: TinyModelSpec
    /// Weights under Hugging Face names, [out, in] layout, half-split RoPE.
    public let weights: [String: Tensor]

    public init(_ spec: TinyModelSpec) {
        self.spec = spec
        var random = TestRandom(seed: spec.seed)
        let (d, h, g, e, m, v) = (spec.width, spec.heads, spec.keyValueHeads, spec.headDimension, spec.mlpWidth, spec.vocabularySize)
        var w = [String: Tensor]()
        w["model.embed_tokens.weight"] = random.normal([v, d], std: 0.5)
        w["model.norm.weight"] = random.uniform([d], 0.5, 1.5)
        if !spec.tiedEmbeddings { w["lm_head.weight"] = random.normal([v, d], std: 0.5) }
        for l in 0..<spec.layers {
            let p = "model.layers.\(l)."
            w[p + "input_layernorm.weight"] = random.uniform([d], 0.5, 1.5)
            w[p + "post_attention_layernorm.weight"] = random.uniform([d], 0.5, 1.5)
            w[p + "self_attn.q_proj.weight"] = random.normal([h * e, d], std: 0.4)
            w[p + "self_attn.k_proj.weight"] = random.normal([g * e, d], std: 0.4)
            w[p + "self_attn.v_proj.weight"] = random.normal([g * e, d], std: 0.4)
            w[p + "self_attn.o_proj.weight"] = random.normal([d, h * e], std: 0.4)
            if spec.attentionBias {
                w[p + "self_attn.q_proj.bias"] = random.normal([h * e], std: 0.2)
                w[p + "self_attn.k_proj.bias"] = random.normal([g * e], std: 0.2)
                w[p + "self_attn.v_proj.bias"] = random.normal([g * e], std: 0.2)
            }
            if spec.queryKeyNorm {
                w[p + "self_attn.q_norm.weight"] = random.uniform([e], 0.5, 1.5)
                w[p + "self_attn.k_norm.weight"] = random.uniform([e], 0.5, 1.5)
            }
            w[p + "mlp.gate_proj.weight"] = random.normal([m, d], std: 0.4)
            w[p + "mlp.up_proj.weight"] = random.normal([m, d], std: 0.4)
            w[p + "mlp.down_proj.weight"] = random.normal([d, m], std: 0.4)
        }
        weights = w
    }

    /// A model with these exact weights (for hand-made models).
    public init(spec: TinyModelSpec, weights: [String: Tensor]) {
        self.spec = spec
        self.weights = weights
    }

    /// Byte-level token texts: the 256 GPT-2 byte characters, then <s> and </s>.
    public static var vocabulary: [String] {
        var byteChars = [String](repeating: "", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
            byteChars[byte] = String(Character(Unicode.Scalar(printable ? UInt32(byte) : next)!))
            if !printable { next += 1 }
        }
        return byteChars + ["<s>", "</s>"]
    }

    /// Writes config.json, model.safetensors and tokenizer.json into a new folder.
    public func writeHuggingFace() throws -> String {
        let folder = temporaryPath("-hf")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var config: [String: Any] = [
            "model_type": "llama", "hidden_size": spec.width, "num_hidden_layers": spec.layers,
            "num_attention_heads": spec.heads, "num_key_value_heads": spec.keyValueHeads, "head_dim": spec.headDimension,
            "intermediate_size": spec.mlpWidth, "vocab_size": spec.vocabularySize, "max_position_embeddings": spec.contextLength,
            "rms_norm_eps": spec.rmsEpsilon, "rope_theta": spec.ropeBase, "tie_word_embeddings": spec.tiedEmbeddings,
            "bos_token_id": 256, "eos_token_id": 257,
        ]
        if let s = spec.llama3Scaling {
            config["rope_scaling"] = ["rope_type": "llama3", "factor": s.0, "low_freq_factor": s.1,
                                      "high_freq_factor": s.2, "original_max_position_embeddings": s.3]
        }
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: folder + "/config.json"))
        try SafetensorsFile.write(weights, to: folder + "/model.safetensors")
        let vocab = Dictionary(uniqueKeysWithValues: Self.vocabulary.enumerated().map { ($0.element, $0.offset) })
        let tokenizer: [String: Any] = [
            "model": ["type": "BPE", "vocab": vocab, "merges": [String]()],
            "added_tokens": [["id": 256, "content": "<s>", "special": true], ["id": 257, "content": "</s>", "special": true]],
            "pre_tokenizer": ["type": "ByteLevel", "add_prefix_space": false],
        ]
        try JSONSerialization.data(withJSONObject: tokenizer).write(to: URL(fileURLWithPath: folder + "/tokenizer.json"))
        return folder
    }

    /// Writes a GGUF file as llama.cpp's converter would.
    public func writeGGUF() throws -> String {
        try ggufBuilder().write(to: temporaryPath(".gguf"))
    }

    /// The GGUF file as a builder, so tests can break one field before writing it.
    public func ggufBuilder() -> GGUFBuilder {
        let s = spec
        let arch = s.ggufArchitecture
        var b = GGUFBuilder()
        b.set("general.architecture", .string(arch))
        b.set("\(arch).block_count", .uint(UInt64(s.layers), bits: 32))
        b.set("\(arch).context_length", .uint(UInt64(s.contextLength), bits: 32))
        b.set("\(arch).embedding_length", .uint(UInt64(s.width), bits: 32))
        b.set("\(arch).feed_forward_length", .uint(UInt64(s.mlpWidth), bits: 32))
        b.set("\(arch).attention.head_count", .uint(UInt64(s.heads), bits: 32))
        b.set("\(arch).attention.head_count_kv", .uint(UInt64(s.keyValueHeads), bits: 32))
        b.set("\(arch).attention.key_length", .uint(UInt64(s.headDimension), bits: 32))
        b.set("\(arch).rope.freq_base", .float(s.ropeBase, bits: 32))
        b.set("\(arch).attention.layer_norm_rms_epsilon", .float(Double(s.rmsEpsilon), bits: 32))
        b.set("tokenizer.ggml.model", .string("gpt2"))
        b.set("tokenizer.ggml.pre", .string("gpt2"))
        b.set("tokenizer.ggml.tokens", .array(Self.vocabulary.map { .string($0) }))
        b.set("tokenizer.ggml.token_type", .array((0..<258).map { .int($0 < 256 ? 1 : 3, bits: 32) }))
        b.set("tokenizer.ggml.merges", .array([]))
        b.set("tokenizer.ggml.bos_token_id", .uint(256, bits: 32))
        b.set("tokenizer.ggml.eos_token_id", .uint(257, bits: 32))
        let w = weights
        b.addF32("token_embd.weight", w["model.embed_tokens.weight"]!)
        b.addF32("output_norm.weight", w["model.norm.weight"]!)
        if let head = w["lm_head.weight"] { b.addF32("output.weight", head) }
        if let scaling = s.llama3Scaling {
            // llama.cpp stores Llama 3 scaling as per-frequency divisors.
            let raw = RotaryTable.inverseFrequencies(base: s.ropeBase, dimension: s.headDimension)
            let scaled = Self.llama3Frequencies(raw, scaling)
            b.addF32("rope_freqs.weight", Tensor(zip(raw, scaled).map { Float($0 / $1) }))
        }
        for l in 0..<s.layers {
            let p = "model.layers.\(l).", q = "blk.\(l)."
            let permute = arch == "llama"
            b.addF32(q + "attn_norm.weight", w[p + "input_layernorm.weight"]!)
            b.addF32(q + "ffn_norm.weight", w[p + "post_attention_layernorm.weight"]!)
            b.addF32(q + "attn_q.weight", permute ? Self.interleave(w[p + "self_attn.q_proj.weight"]!, heads: s.heads) : w[p + "self_attn.q_proj.weight"]!)
            b.addF32(q + "attn_k.weight", permute ? Self.interleave(w[p + "self_attn.k_proj.weight"]!, heads: s.keyValueHeads) : w[p + "self_attn.k_proj.weight"]!)
            b.addF32(q + "attn_v.weight", w[p + "self_attn.v_proj.weight"]!)
            b.addF32(q + "attn_output.weight", w[p + "self_attn.o_proj.weight"]!)
            if s.attentionBias {
                b.addF32(q + "attn_q.bias", w[p + "self_attn.q_proj.bias"]!)
                b.addF32(q + "attn_k.bias", w[p + "self_attn.k_proj.bias"]!)
                b.addF32(q + "attn_v.bias", w[p + "self_attn.v_proj.bias"]!)
            }
            if s.queryKeyNorm {
                b.addF32(q + "attn_q_norm.weight", w[p + "self_attn.q_norm.weight"]!)
                b.addF32(q + "attn_k_norm.weight", w[p + "self_attn.k_norm.weight"]!)
            }
            b.addF32(q + "ffn_gate.weight", w[p + "mlp.gate_proj.weight"]!)
            b.addF32(q + "ffn_up.weight", w[p + "mlp.up_proj.weight"]!)
            b.addF32(q + "ffn_down.weight", w[p + "mlp.down_proj.weight"]!)
        }
        return b
    }

    /// llama.cpp's permutation of query/key rows: within each head, row i of the first half and
    /// row i of the second half become rows 2i and 2i+1.
    static func interleave(_ w: Tensor, heads: Int) -> Tensor {
        let (rows, cols) = (w.shape[0], w.shape[1])
        let e = rows / heads
        var out = w
        for head in 0..<heads {
            for i in 0..<(e / 2) {
                for (target, source) in [(2 * i, i), (2 * i + 1, i + e / 2)] {
                    for c in 0..<cols { out.scalars[(head * e + target) * cols + c] = w.scalars[(head * e + source) * cols + c] }
                }
            }
        }
        return out
    }

    /// Llama 3 frequency scaling, written out independently of LanguageModels.
    public static func llama3Frequencies(_ raw: [Double], _ s: (Double, Double, Double, Double)) -> [Double] {
        let (factor, low, high, original) = s
        return raw.map { f in
            let wavelength = 2 * Double.pi / f
            if wavelength < original / high { return f }
            if wavelength > original / low { return f / factor }
            let smooth = (original / wavelength - low) / (high - low)
            return (1 - smooth) * f / factor + smooth * f
        }
    }
}
