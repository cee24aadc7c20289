// Loading weights from a GGUF file or a Hugging Face folder (config.json plus safetensors). The
// architecture comes from the registry (GGUF `general.architecture`, Hugging Face `model_type`);
// keys every architecture shares are read here, the architecture's own in its file. Optional
// capabilities (biases, query/key norms, an untied unembedding) are read off which tensors exist.

import Foundation
import ModelIO
import TensorCore

/// GGUF metadata as configuration entries.
struct GGUFConfiguration: ConfigurationSource {
    let metadata: GGUFMetadata
    var source: String { metadata.file }

    private func value(_ key: String) -> GGUFValue? { metadata[key] }

    func optionalInt(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.intValue, abs(i) < 1 << 31 else { throw fail("\(key) is \(v.summary), not a whole number below 2^31") }
        return i
    }

    func optionalDouble(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let d = v.doubleValue, d.isFinite else { throw fail("\(key) is \(v.summary), not a number") }
        return d
    }

    func optionalString(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.stringValue else { throw fail("\(key) is \(v.summary), not text") }
        return s
    }

    func optionalStrings(_ key: String) throws -> [String]? {
        guard value(key) != nil else { return nil }
        return try metadata.strings(key)
    }
}

/// A Hugging Face config.json as configuration entries.
struct JSONConfiguration: ConfigurationSource {
    let json: [String: Any]
    let source: String
    /// The file's own name of a shared key (GPT-2 says n_embd for hidden_size).
    var key: (String) -> String = { $0 }

    private func value(_ name: String) -> Any? {
        guard let raw = json[key(name)], !(raw is NSNull) else { return nil }
        return raw
    }

    /// A whole number, checked before conversion (`1e20` must not wrap around); for token ids, a
    /// list gives its first entry (several end tokens).
    func optionalInt(_ key: String) throws -> Int? {
        guard var raw = value(key) else { return nil }
        if let list = raw as? [Any], key.hasSuffix("token_id") {
            guard let first = list.first else { return nil }
            raw = first
        }
        guard let number = raw as? NSNumber,
              number.doubleValue.isFinite, number.doubleValue == number.doubleValue.rounded(),
              abs(number.doubleValue) <= Double(Int32.max) else {
            throw fail("\(key) is \(raw), not a whole number below 2^31")
        }
        return number.intValue
    }

    func optionalDouble(_ key: String) throws -> Double? {
        guard let raw = value(key) else { return nil }
        guard let number = raw as? NSNumber, number.doubleValue.isFinite else { throw fail("\(key) is \(raw), not a number") }
        return number.doubleValue
    }

    func optionalString(_ key: String) throws -> String? {
        guard let raw = value(key) else { return nil }
        guard let s = raw as? String else { throw fail("\(key) is \(raw), not text") }
        return s
    }

    func optionalStrings(_ key: String) throws -> [String]? {
        guard let raw = value(key) else { return nil }
        guard let list = raw as? [String] else { throw fail("\(key) is not a list of text") }
        return list
    }

    func optionalBool(_ key: String) -> Bool? { value(key) as? Bool }
}

/// Where tensors come from, by name.
protocol TensorSource {
    var file: String { get }
    func contains(_ name: String) -> Bool
    func tensor(_ name: String, shape: [Int]) throws -> Tensor
}

extension GGUFFile: TensorSource {
    var file: String { path }
}

extension TransformerModel {
    /// Whether prompts start with the BOS token, by GGUF architecture or Hugging Face model type.
    public static func startsWithBOS(architecture name: String) -> Bool {
        (Architectures.gguf(name) ?? Architectures.huggingFace(name))?.startsWithBOS ?? true
    }

    /// Loads from a GGUF file (tensor names as llama.cpp writes them).
    public convenience init(gguf: GGUFFile) throws {
        let meta = gguf.metadata
        let name = try meta.string("general.architecture")
        guard let architecture = Architectures.gguf(name) else {
            throw LanguageModelError.unsupportedArchitecture(source: gguf.path + " general.architecture", architecture: name,
                                                              supported: Architectures.ggufNames)
        }
        let keys = GGUFConfiguration(metadata: meta)
        func key(_ k: String) -> String { "\(name).\(k)" }
        let width = try keys.int(key("embedding_length"))
        let heads = try keys.int(key("attention.head_count"))
        guard heads > 0 else { throw keys.fail("\(key("attention.head_count")) is 0") }
        let headDimension = try keys.optionalInt(key("attention.key_length")) ?? width / heads
        let vocabulary = try gguf.info("token_embd.weight").shape.first ?? 0
        var factors: [Double]? = nil
        if gguf.contains("rope_freqs.weight") { factors = try gguf.tensor("rope_freqs.weight").scalars.map(Double.init) }
        var linear: Double? = nil
        if let type = try keys.optionalString(key("rope.scaling.type")), type != "none" {
            guard type == "linear" else { throw keys.fail("\(key("rope.scaling.type")) \(type) is not supported (linear is)") }
            linear = try keys.optionalDouble(key("rope.scaling.factor"))
        }
        // RMSNorm models give layer_norm_rms_epsilon, LayerNorm ones (GPT-2) layer_norm_epsilon.
        guard let epsilon = try keys.optionalDouble(key("attention.layer_norm_rms_epsilon"))
                ?? keys.optionalDouble(key("attention.layer_norm_epsilon")) else {
            throw keys.fail("missing \(key("attention.layer_norm_rms_epsilon")) (or \(key("attention.layer_norm_epsilon")))")
        }
        var configuration = ModelConfiguration(
            architecture: name, vocabularySize: vocabulary, width: width, layers: try keys.int(key("block_count")),
            heads: heads, keyValueHeads: try keys.optionalInt(key("attention.head_count_kv")) ?? heads,
            headDimension: headDimension, mlpWidth: try keys.int(key("feed_forward_length")),
            contextLength: try keys.int(key("context_length")),
            rmsEpsilon: Float(epsilon),
            rope: RopeConfiguration(base: try keys.optionalDouble(key("rope.freq_base")) ?? 10_000,
                                    dimension: try keys.optionalInt(key("rope.dimension_count")) ?? headDimension,
                                    style: architecture.ggufRopeStyle, frequencyFactors: factors, linearFactor: linear),
            attentionBias: gguf.contains("blk.0.attn_q.bias"),
            queryKeyNorm: gguf.contains("blk.0.attn_q_norm.weight"),
            tiedEmbeddings: !gguf.contains("output.weight"),
            bosTokenId: try keys.optionalInt("tokenizer.ggml.bos_token_id"),
            eosTokenId: try keys.optionalInt("tokenizer.ggml.eos_token_id"))
        try architecture.configure(&configuration, gguf: keys)
        try configuration.validate(source: gguf.path)
        let c = configuration
        let layers = try (0..<c.layers).map { l in
            try TransformerModel.layer(l, of: architecture, configuration: c, from: gguf, normOffset: 0) { "blk.\(l)." + $0.ggufName }
        }
        try self.init(configuration: c, architecture: architecture,
                      embedding: try gguf.tensor("token_embd.weight", shape: [c.vocabularySize, c.width]),
                      layers: layers, finalNorm: try gguf.tensor("output_norm.weight", shape: [c.width]),
                      unembedding: c.tiedEmbeddings ? nil : try gguf.tensor("output.weight", shape: [c.vocabularySize, c.width]),
                      finalNormBias: c.normKind == .layer ? try gguf.tensor("output_norm.bias", shape: [c.width]) : nil,
                      positionEmbedding: c.learnedPositions ? try gguf.tensor("position_embd.weight", shape: [c.contextLength, c.width]) : nil)
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
        let modelType = try JSONConfiguration(json: json, source: configPath).optionalString("model_type") ?? "(none)"
        guard let architecture = Architectures.huggingFace(modelType) else {
            throw LanguageModelError.unsupportedArchitecture(source: configPath + " model_type", architecture: modelType,
                                                              supported: Architectures.modelTypes)
        }
        let keys = JSONConfiguration(json: json, source: configPath, key: architecture.huggingFaceKey)
        let weights = try SafetensorsSet(folder: folder)
        let width = try keys.int("hidden_size"), heads = try keys.int("num_attention_heads")
        guard heads > 0 else { throw keys.fail("num_attention_heads is 0") }
        let headDimension = try keys.optionalInt("head_dim") ?? width / heads
        var scaling: Llama3RopeScaling? = nil
        var linear: Double? = nil
        if let s = json["rope_scaling"] as? [String: Any] {
            let type = (s["rope_type"] ?? s["type"]) as? String ?? "(none)"
            let scale = JSONConfiguration(json: s, source: configPath + " rope_scaling")
            switch type {
            case "llama3":
                scaling = Llama3RopeScaling(
                    factor: try scale.optionalDouble("factor") ?? 1,
                    lowFrequencyFactor: try scale.optionalDouble("low_freq_factor") ?? 1,
                    highFrequencyFactor: try scale.optionalDouble("high_freq_factor") ?? 4,
                    originalContext: try scale.optionalDouble("original_max_position_embeddings") ?? 8192)
            case "linear": linear = try scale.optionalDouble("factor")
            case "default": break
            default: throw keys.fail("rope_scaling type \(type) is not supported (llama3 and linear are)")
            }
        }
        let names = architecture.huggingFaceModelTensors
        let tied = keys.optionalBool("tie_word_embeddings") ?? !weights.contains(names.unembedding)
        var configuration = ModelConfiguration(
            architecture: modelType, vocabularySize: try keys.int("vocab_size"), width: width,
            layers: try keys.int("num_hidden_layers"), heads: heads,
            keyValueHeads: try keys.optionalInt("num_key_value_heads") ?? heads,
            headDimension: headDimension,
            mlpWidth: try keys.optionalInt("intermediate_size") ?? architecture.defaultMLPWidth(width: width) ?? keys.int("intermediate_size"),
            contextLength: try keys.optionalInt("max_position_embeddings") ?? 2048,
            rmsEpsilon: Float(try keys.optionalDouble("rms_norm_eps") ?? 1e-6),
            rope: RopeConfiguration(base: try keys.optionalDouble("rope_theta") ?? 10_000,
                                    dimension: headDimension, style: .halfSplit, llama3Scaling: scaling, linearFactor: linear),
            attentionBias: weights.contains(architecture.huggingFaceLayerPrefix + "0." + architecture.huggingFaceName(.queryBias)),
            queryKeyNorm: weights.contains(architecture.huggingFaceLayerPrefix + "0." + architecture.huggingFaceName(.queryNorm)),
            tiedEmbeddings: tied,
            bosTokenId: try keys.optionalInt("bos_token_id"),
            eosTokenId: try keys.optionalInt("eos_token_id"))
        try architecture.configure(&configuration, huggingFace: keys)
        try configuration.validate(source: configPath)
        let c = configuration
        let offset = architecture.huggingFaceNormOffset
        let layers = try (0..<c.layers).map { l in
            try TransformerModel.layer(l, of: architecture, configuration: c, from: weights, normOffset: offset,
                                       transposed: architecture.huggingFaceTransposed) {
                architecture.huggingFaceLayerPrefix + "\(l)." + architecture.huggingFaceName($0)
            }
        }
        let finalNorm = try weights.tensor(names.finalNorm, shape: [c.width])
        try self.init(configuration: c, architecture: architecture,
                      embedding: try weights.tensor(names.embedding, shape: [c.vocabularySize, c.width]),
                      layers: layers, finalNorm: offset == 0 ? finalNorm : finalNorm.adding(offset),
                      unembedding: tied ? nil : try weights.tensor(names.unembedding, shape: [c.vocabularySize, c.width]),
                      finalNormBias: try names.finalNormBias.map { try weights.tensor($0, shape: [c.width]) },
                      positionEmbedding: try names.positions.map { try weights.tensor($0, shape: [c.contextLength, c.width]) })
    }

    /// One layer's weights: the architecture's required tensors, and its optional ones present.
    static func layer(_ l: Int, of architecture: any Architecture.Type, configuration c: ModelConfiguration,
                      from source: TensorSource, normOffset: Float, transposed: Set<LayerTensor> = [],
                      name: (LayerTensor) -> String) throws -> LayerWeights {
        let (d, e, m) = (c.width, c.headDimension, c.mlpWidth)
        let required = architecture.requiredTensors, optional = architecture.optionalTensors
        let shapes: [LayerTensor: [Int]] = [
            .attentionNorm: [d], .query: [c.heads * e, d], .key: [c.keyValueHeads * e, d], .value: [c.keyValueHeads * e, d],
            .queryBias: [c.heads * e], .keyBias: [c.keyValueHeads * e], .valueBias: [c.keyValueHeads * e],
            .queryNorm: [e], .keyNorm: [e], .output: [d, c.heads * e], .postAttentionNorm: [d], .mlpNorm: [d],
            .gate: [m, d], .up: [m, d], .down: [d, m], .postMLPNorm: [d],
            .qkv: [c.qkvWidth, d], .qkvBias: [c.qkvWidth], .attentionNormBias: [d], .outputBias: [d], .mlpNormBias: [d],
            .upBias: [m], .downBias: [d],
        ]
        func read(_ t: LayerTensor) throws -> Tensor? {
            let n = name(t)
            guard required.contains(t) || (optional.contains(t) && source.contains(n)) else { return nil }
            guard source.contains(n) else { throw ModelIOError.missingTensor(file: source.file, tensor: n) }
            let shape = shapes[t]!
            var value = try source.tensor(n, shape: transposed.contains(t) ? shape.reversed() : shape)
            if transposed.contains(t) { value = try value.transposed() }
            return t.isNorm && normOffset != 0 ? value.adding(normOffset) : value
        }
        func need(_ t: LayerTensor) throws -> Tensor {
            guard let v = try read(t) else { throw ModelIOError.missingTensor(file: source.file, tensor: name(t)) }
            return v
        }
        let fused = required.contains(.qkv)
        let bias: Tensor?
        if fused {
            bias = try read(.qkvBias)
        } else {
            let biases = try [LayerTensor.queryBias, .keyBias, .valueBias].map(read)
            if biases.allSatisfy({ $0 == nil }) {
                bias = nil
            } else if let q = biases[0], let k = biases[1], let v = biases[2] {
                bias = try Tensor.concatenate([q, k, v], axis: 0)
            } else {
                let missing = zip([LayerTensor.queryBias, .keyBias, .valueBias], biases).first { $0.1 == nil }!.0
                throw ModelIOError.missingTensor(file: source.file, tensor: name(missing))
            }
        }
        return LayerWeights(
            attentionNorm: try need(.attentionNorm),
            qkv: fused ? try need(.qkv) : try Tensor.concatenate([need(.query), need(.key), need(.value)], axis: 0),
            qkvBias: bias, queryNorm: try read(.queryNorm), keyNorm: try read(.keyNorm),
            output: try need(.output), postAttentionNorm: try read(.postAttentionNorm),
            mlpNorm: try need(.mlpNorm),
            gateUp: c.gatedMLP ? try Tensor.concatenate([need(.gate), need(.up)], axis: 0) : try need(.up),
            down: try need(.down), postMLPNorm: try read(.postMLPNorm),
            attentionNormBias: try read(.attentionNormBias), mlpNormBias: try read(.mlpNormBias), outputBias: try read(.outputBias),
            upBias: try read(.upBias), downBias: try read(.downBias))
    }
}

/// The safetensors files of a Hugging Face folder, looked up by tensor name.
struct SafetensorsSet: TensorSource {
    let files: [SafetensorsFile]
    let folder: String
    var file: String { folder }

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
