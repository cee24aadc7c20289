// Loading Llama-family weights from a GGUF file or a Hugging Face folder (config.json plus
// safetensors). Capabilities are read off which tensors exist (biases, query/key norms, an
// untied unembedding), and off each file format's documented conventions for RoPE.

import Foundation
import ModelIO
import TensorCore

extension LlamaModel {
    /// GGUF architectures this loader reads, and the RoPE layout llama.cpp writes for each.
    static let ggufRopeStyles: [String: RotaryStyle] = ["llama": .interleaved, "qwen2": .halfSplit, "qwen3": .halfSplit]

    /// Whether prompts start with the BOS token, by architecture (GGUF `general.architecture`,
    /// Hugging Face `model_type`). Qwen has no beginning-of-sequence token: the id its files give
    /// as BOS is <|endoftext|>, and a prompt that starts with it is answered worse (" the" rather
    /// than " Paris" for "The capital of France is"). SmolLM2's traces have always started with
    /// its BOS, as circuit-tracer's do, whatever the file's add_bos_token says.
    public static let startsWithBOS: [String: Bool] = ["llama": true, "qwen2": false, "qwen3": false]

    /// Loads from a GGUF file (tensor names as llama.cpp writes them).
    public convenience init(gguf: GGUFFile) throws {
        let meta = gguf.metadata
        let arch = try meta.string("general.architecture")
        guard let style = LlamaModel.ggufRopeStyles[arch] else {
            throw LanguageModelError.unsupportedArchitecture(source: gguf.path, architecture: arch)
        }
        func key(_ name: String) -> String { "\(arch).\(name)" }
        let width = try meta.int(key("embedding_length"))
        let heads = try meta.int(key("attention.head_count"))
        guard heads > 0 else { throw LanguageModelError.invalidConfiguration(source: gguf.path, reason: "\(key("attention.head_count")) is 0") }
        let headDimension = meta[key("attention.key_length")]?.intValue ?? width / heads
        let embeddingInfo = try gguf.info("token_embd.weight")
        let vocabulary = embeddingInfo.shape.first ?? 0
        var factors: [Double]? = nil
        if gguf.contains("rope_freqs.weight") { factors = try gguf.tensor("rope_freqs.weight").scalars.map(Double.init) }
        let configuration = ModelConfiguration(
            architecture: arch, vocabularySize: vocabulary, width: width, layers: try meta.int(key("block_count")),
            heads: heads, keyValueHeads: meta[key("attention.head_count_kv")]?.intValue ?? heads,
            headDimension: headDimension, mlpWidth: try meta.int(key("feed_forward_length")),
            contextLength: try meta.int(key("context_length")),
            rmsEpsilon: Float(try meta.double(key("attention.layer_norm_rms_epsilon"))),
            rope: RopeConfiguration(base: meta[key("rope.freq_base")]?.doubleValue ?? 10_000,
                                    dimension: meta[key("rope.dimension_count")]?.intValue ?? headDimension,
                                    style: style, frequencyFactors: factors),
            attentionBias: gguf.contains("blk.0.attn_q.bias"),
            queryKeyNorm: gguf.contains("blk.0.attn_q_norm.weight"),
            tiedEmbeddings: !gguf.contains("output.weight"),
            bosTokenId: meta["tokenizer.ggml.bos_token_id"]?.intValue,
            eosTokenId: meta["tokenizer.ggml.eos_token_id"]?.intValue)
        try configuration.validate(source: gguf.path)
        let c = configuration
        let (d, e, m) = (c.width, c.headDimension, c.mlpWidth)
        let layers = try (0..<c.layers).map { l -> LlamaLayerWeights in
            let p = "blk.\(l)."
            let qkv = try Tensor.concatenate([
                gguf.tensor(p + "attn_q.weight", shape: [c.heads * e, d]),
                gguf.tensor(p + "attn_k.weight", shape: [c.keyValueHeads * e, d]),
                gguf.tensor(p + "attn_v.weight", shape: [c.keyValueHeads * e, d]),
            ], axis: 0)
            let bias = c.attentionBias ? try Tensor.concatenate([
                gguf.tensor(p + "attn_q.bias", shape: [c.heads * e]),
                gguf.tensor(p + "attn_k.bias", shape: [c.keyValueHeads * e]),
                gguf.tensor(p + "attn_v.bias", shape: [c.keyValueHeads * e]),
            ], axis: 0) : nil
            return LlamaLayerWeights(
                attentionNorm: try gguf.tensor(p + "attn_norm.weight", shape: [d]),
                qkv: qkv, qkvBias: bias,
                queryNorm: c.queryKeyNorm ? try gguf.tensor(p + "attn_q_norm.weight", shape: [e]) : nil,
                keyNorm: c.queryKeyNorm ? try gguf.tensor(p + "attn_k_norm.weight", shape: [e]) : nil,
                output: try gguf.tensor(p + "attn_output.weight", shape: [d, c.heads * e]),
                mlpNorm: try gguf.tensor(p + "ffn_norm.weight", shape: [d]),
                gateUp: try Tensor.concatenate([gguf.tensor(p + "ffn_gate.weight", shape: [m, d]),
                                                gguf.tensor(p + "ffn_up.weight", shape: [m, d])], axis: 0),
                down: try gguf.tensor(p + "ffn_down.weight", shape: [d, m]))
        }
        try self.init(configuration: configuration,
                      embedding: try gguf.tensor("token_embd.weight", shape: [c.vocabularySize, d]),
                      layers: layers, finalNorm: try gguf.tensor("output_norm.weight", shape: [d]),
                      unembedding: c.tiedEmbeddings ? nil : try gguf.tensor("output.weight", shape: [c.vocabularySize, d]))
    }

    /// The files a Hugging Face folder's model comes from: config.json and every safetensors shard.
    public static func weightFiles(huggingFaceFolder folder: String) throws -> [String] {
        [(folder as NSString).appendingPathComponent("config.json")] + (try SafetensorsSet(folder: folder).paths)
    }

    /// Loads from a Hugging Face folder: config.json and model.safetensors (or shards listed in
    /// model.safetensors.index.json). Hugging Face checkpoints rotate in the half-split layout.
    public convenience init(huggingFaceFolder folder: String) throws {
        let configPath = (folder as NSString).appendingPathComponent("config.json")
        guard let bytes = try? MappedFile.contents(of: configPath, limit: 1 << 20),
              let json = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw LanguageModelError.invalidConfiguration(source: configPath, reason: "cannot read a JSON object")
        }
        let modelType = json["model_type"] as? String ?? "(none)"
        guard LlamaModel.startsWithBOS[modelType] != nil else {
            throw LanguageModelError.unsupportedArchitecture(source: configPath + " model_type", architecture: modelType)
        }
        let weights = try SafetensorsSet(folder: folder)
        /// A whole number from config.json, checked before conversion (`1e20` must not wrap around).
        func optionalInt(_ k: String) throws -> Int? {
            guard var raw = json[k], !(raw is NSNull) else { return nil }
            if let list = raw as? [Any], k.hasSuffix("token_id") {      // several end tokens: the first one
                guard let first = list.first else { return nil }
                raw = first
            }
            guard let number = raw as? NSNumber,
                  number.doubleValue.isFinite, number.doubleValue == number.doubleValue.rounded(),
                  abs(number.doubleValue) <= Double(Int32.max) else {
                throw LanguageModelError.invalidConfiguration(source: configPath, reason: "\(k) is \(raw), not a whole number below 2^31")
            }
            return number.intValue
        }
        func int(_ k: String) throws -> Int {
            guard let v = try optionalInt(k) else {
                throw LanguageModelError.invalidConfiguration(source: configPath, reason: "missing integer \(k)")
            }
            return v
        }
        let width = try int("hidden_size"), heads = try int("num_attention_heads")
        guard heads > 0 else { throw LanguageModelError.invalidConfiguration(source: configPath, reason: "num_attention_heads is 0") }
        let headDimension = try optionalInt("head_dim") ?? width / heads
        var scaling: Llama3RopeScaling? = nil
        if let s = json["rope_scaling"] as? [String: Any], (s["rope_type"] ?? s["type"]) as? String == "llama3" {
            scaling = Llama3RopeScaling(
                factor: (s["factor"] as? NSNumber)?.doubleValue ?? 1,
                lowFrequencyFactor: (s["low_freq_factor"] as? NSNumber)?.doubleValue ?? 1,
                highFrequencyFactor: (s["high_freq_factor"] as? NSNumber)?.doubleValue ?? 4,
                originalContext: (s["original_max_position_embeddings"] as? NSNumber)?.doubleValue ?? 8192)
        }
        let tied = (json["tie_word_embeddings"] as? Bool) ?? !weights.contains("lm_head.weight")
        let configuration = ModelConfiguration(
            architecture: modelType, vocabularySize: try int("vocab_size"), width: width,
            layers: try int("num_hidden_layers"), heads: heads,
            keyValueHeads: try optionalInt("num_key_value_heads") ?? heads,
            headDimension: headDimension, mlpWidth: try int("intermediate_size"),
            contextLength: try optionalInt("max_position_embeddings") ?? 2048,
            rmsEpsilon: (json["rms_norm_eps"] as? NSNumber)?.floatValue ?? 1e-6,
            rope: RopeConfiguration(base: (json["rope_theta"] as? NSNumber)?.doubleValue ?? 10_000,
                                    dimension: headDimension, style: .halfSplit, llama3Scaling: scaling),
            attentionBias: weights.contains("model.layers.0.self_attn.q_proj.bias"),
            queryKeyNorm: weights.contains("model.layers.0.self_attn.q_norm.weight"),
            tiedEmbeddings: tied,
            bosTokenId: try optionalInt("bos_token_id"),
            eosTokenId: try optionalInt("eos_token_id"))
        try configuration.validate(source: configPath)
        let c = configuration
        let (d, e, m) = (c.width, c.headDimension, c.mlpWidth)
        let layers = try (0..<c.layers).map { l -> LlamaLayerWeights in
            let p = "model.layers.\(l)."
            let a = p + "self_attn."
            return LlamaLayerWeights(
                attentionNorm: try weights.tensor(p + "input_layernorm.weight", shape: [d]),
                qkv: try Tensor.concatenate([weights.tensor(a + "q_proj.weight", shape: [c.heads * e, d]),
                                             weights.tensor(a + "k_proj.weight", shape: [c.keyValueHeads * e, d]),
                                             weights.tensor(a + "v_proj.weight", shape: [c.keyValueHeads * e, d])], axis: 0),
                qkvBias: c.attentionBias ? try Tensor.concatenate([
                    weights.tensor(a + "q_proj.bias", shape: [c.heads * e]),
                    weights.tensor(a + "k_proj.bias", shape: [c.keyValueHeads * e]),
                    weights.tensor(a + "v_proj.bias", shape: [c.keyValueHeads * e])], axis: 0) : nil,
                queryNorm: c.queryKeyNorm ? try weights.tensor(a + "q_norm.weight", shape: [e]) : nil,
                keyNorm: c.queryKeyNorm ? try weights.tensor(a + "k_norm.weight", shape: [e]) : nil,
                output: try weights.tensor(a + "o_proj.weight", shape: [d, c.heads * e]),
                mlpNorm: try weights.tensor(p + "post_attention_layernorm.weight", shape: [d]),
                gateUp: try Tensor.concatenate([weights.tensor(p + "mlp.gate_proj.weight", shape: [m, d]),
                                                weights.tensor(p + "mlp.up_proj.weight", shape: [m, d])], axis: 0),
                down: try weights.tensor(p + "mlp.down_proj.weight", shape: [d, m]))
        }
        try self.init(configuration: configuration,
                      embedding: try weights.tensor("model.embed_tokens.weight", shape: [c.vocabularySize, d]),
                      layers: layers, finalNorm: try weights.tensor("model.norm.weight", shape: [d]),
                      unembedding: tied ? nil : try weights.tensor("lm_head.weight", shape: [c.vocabularySize, d]))
    }
}

/// The safetensors files of a Hugging Face folder, looked up by tensor name.
struct SafetensorsSet {
    let files: [SafetensorsFile]
    let folder: String

    init(folder: String) throws {
        self.folder = folder
        let single = (folder as NSString).appendingPathComponent("model.safetensors")
        let index = (folder as NSString).appendingPathComponent("model.safetensors.index.json")
        if FileManager.default.fileExists(atPath: single) {
            files = [try SafetensorsFile(path: single)]
        } else if FileManager.default.fileExists(atPath: index) {
            guard let bytes = try? MappedFile.contents(of: index, limit: 64 << 20),
                  let json = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
                  let map = json["weight_map"] as? [String: String], !map.isEmpty else {
                throw ModelIOError.cannotOpen(file: index, reason: "not a shard index (a JSON object with a weight_map of tensor names to files)")
            }
            // Shards are files in this folder, each named once; a missing one is named.
            let names = Set(map.values).sorted()
            for name in names where name.contains("/") || name.hasPrefix(".") {
                throw ModelIOError.cannotOpen(file: index, reason: "weight_map names \(name), which is not a file in the folder")
            }
            files = try names.map { name in
                let path = (folder as NSString).appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: path) else {
                    throw ModelIOError.cannotOpen(file: path, reason: "a shard that model.safetensors.index.json lists is missing")
                }
                return try SafetensorsFile(path: path)
            }
        } else {
            throw ModelIOError.cannotOpen(file: single, reason: "no model.safetensors or model.safetensors.index.json in \(folder)")
        }
    }

    /// Every file the weights come from, in a fixed order (for fingerprints).
    var paths: [String] { files.map(\.path) }

    func contains(_ name: String) -> Bool { files.contains { $0.contains(name) } }

    func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        guard let file = files.first(where: { $0.contains(name) }) else {
            throw ModelIOError.missingTensor(file: folder, tensor: name)
        }
        return try file.tensor(name, shape: shape)
    }
}
