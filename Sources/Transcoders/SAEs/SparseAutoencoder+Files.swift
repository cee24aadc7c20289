// SAE files in the two published layouts:
//   SAELens (a folder): cfg.json + sae_weights.safetensors with W_enc [d_in, d_sae],
//     W_dec [d_sae, d_in], b_enc [d_sae], b_dec [d_in], and threshold [d_sae] (JumpReLU; older
//     files hold log_threshold). cfg.json: architecture (standard, topk, jumprelu), d_in, d_sae,
//     dtype, apply_b_dec_to_input, normalize_activations, reshape_activations, k (topk), and the
//     hook in metadata.hook_name (SAELens 6) or at the top level (older files).
//   Gemma Scope residual SAEs: params.npz with W_enc [d_in, d_sae], W_dec, b_enc, b_dec,
//     threshold, JumpReLU; the file does not name its hook, so the caller does (Gemma Scope's
//     residual SAEs read blocks.L.hook_resid_post; `layer_L` in the path gives L).
// Circuitry writes the SAELens layout, loadable by `SAE.load_from_disk`.

import Foundation
import ModelIO
import TensorCore

extension SparseAutoencoder {
    public static let configFile = "cfg.json"
    public static let weightsFile = "sae_weights.safetensors"

    /// Loads an SAE from a SAELens folder, or from a Gemma Scope `params.npz` (a file, or a folder
    /// holding one). `hookName` names the hook of a file that does not (and overrides none that does).
    public static func load(path: String, hookName: String? = nil) throws -> SparseAutoencoder {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw TranscoderError.invalidConfig(file: path, reason: "no such SAE file or folder")
        }
        let folder = isFolder.boolValue ? path : (path as NSString).deletingLastPathComponent
        let npz = isFolder.boolValue ? (path as NSString).appendingPathComponent("params.npz") : path
        if npz.hasSuffix(".npz"), FileManager.default.fileExists(atPath: npz),
           !FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent(configFile)) {
            return try loadGemmaScope(npz, hookName: hookName)
        }
        return try loadSAELens(folder)
    }

    static func loadSAELens(_ folder: String) throws -> SparseAutoencoder {
        let configPath = (folder as NSString).appendingPathComponent(configFile)
        guard let data = FileManager.default.contents(atPath: configPath) else {
            throw TranscoderError.invalidConfig(file: configPath, reason: "cannot read it (an SAE folder holds cfg.json and sae_weights.safetensors)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let cfg = object as? [String: Any] else {
            throw TranscoderError.invalidConfig(file: configPath, reason: "not a JSON object")
        }
        func fail(_ reason: String) -> TranscoderError { .invalidConfig(file: configPath, reason: reason) }
        func integer(_ key: String) throws -> Int {
            guard let n = cfg[key] as? NSNumber, !(cfg[key] is Bool), let v = Int(exactly: n.doubleValue), v > 0, v <= 1 << 24 else {
                throw fail("\(key) must be a positive whole number (found \(cfg[key].map { "\($0)" } ?? "nothing"))")
            }
            return v
        }
        func text(_ key: String, in dict: [String: Any]? = nil) throws -> String? {
            guard let value = (dict ?? cfg)[key], !(value is NSNull) else { return nil }
            guard let s = value as? String else { throw fail("\(key) must be a string") }
            return s
        }
        let metadata = cfg["metadata"] as? [String: Any] ?? [:]
        let (dIn, dSAE) = (try integer("d_in"), try integer("d_sae"))
        let architecture = try text("architecture") ?? "standard"
        guard let hook = try text("hook_name", in: metadata) ?? (try text("hook_name")) ?? (try text("hook_point")) else {
            throw fail("no hook_name (in metadata or at the top level): which hook point does the SAE read?")
        }
        for (key, allowed) in [("normalize_activations", "none"), ("reshape_activations", "none")] {
            if let value = cfg[key], !(value is NSNull) {
                if let flag = value as? Bool, key == "normalize_activations", !flag { continue }
                guard (value as? String) == allowed else {
                    throw fail("\(key) \(value) is not supported (only \"\(allowed)\"): Circuitry reads the raw activations")
                }
            }
        }
        if (cfg["rescale_acts_by_decoder_norm"] as? Bool) == true { throw fail("rescale_acts_by_decoder_norm is not supported") }
        if let dtype = try text("dtype"), !["float32", "torch.float32", "float16", "torch.float16", "bfloat16", "torch.bfloat16"].contains(dtype) {
            throw fail("dtype \(dtype) is not float32, float16 or bfloat16")
        }
        let subtract: Bool
        switch cfg["apply_b_dec_to_input"] {
        case nil, is NSNull: subtract = (metadata["sae_lens_version"] == nil && cfg["sae_lens_version"] == nil)  // SAELens's pre-6 default
        case let flag as Bool: subtract = flag
        default: throw fail("apply_b_dec_to_input must be true or false")
        }

        let weightsPath = (folder as NSString).appendingPathComponent(weightsFile)
        guard FileManager.default.fileExists(atPath: weightsPath) else {
            throw TranscoderError.missingLayerFile(folder: folder, layer: 0, path: weightsPath)
        }
        let file = try SafetensorsFile(path: weightsPath)
        func tensor(_ name: String, _ shape: [Int]) throws -> Tensor {
            guard file.contains(name) else { throw TranscoderError.missingTensor(file: weightsPath, tensor: name) }
            let t = try file.tensor(name)
            guard t.shape == shape else { throw TranscoderError.shape(file: weightsPath, tensor: name, expected: shape, found: t.shape) }
            guard t.isFinite else { throw TranscoderError.nonFinite(file: weightsPath, tensor: name) }
            return t
        }
        let activation: TranscoderActivation
        switch architecture {
        case "standard":
            if let fn = try text("activation_fn"), fn != "relu" { throw fail("activation_fn \(fn) is not supported (relu is)") }
            activation = .relu
        case "topk":
            let k = cfg["k"] != nil ? try integer("k") : ((cfg["activation_fn_kwargs"] as? [String: Any])?["k"] as? Int ?? 0)
            guard k >= 1, k <= dSAE else { throw fail("a topk SAE needs k between 1 and d_sae (\(dSAE))") }
            activation = .topK(k: k)
        case "jumprelu":
            if file.contains("threshold") {
                activation = .jumpReLU(threshold: try tensor("threshold", [dSAE]))
            } else if file.contains("log_threshold") {
                activation = .jumpReLU(threshold: try tensor("log_threshold", [dSAE]).map { Foundation.exp($0) })
            } else {
                throw TranscoderError.missingTensor(file: weightsPath, tensor: "threshold")
            }
        default:
            throw fail("architecture \(architecture) is not supported (standard, topk and jumprelu are)")
        }
        let dictionary = try Transcoder(
            layer: layerOf(hook), encoder: try tensor("W_enc", [dIn, dSAE]).transposed(), encoderBias: try tensor("b_enc", [dSAE]),
            decoder: try tensor("W_dec", [dSAE, dIn]), decoderBias: try tensor("b_dec", [dIn]), activation: activation)
        var notes = [String: String]()
        for (key, value) in metadata where value is String || value is NSNumber { notes[key] = "\(value)" }
        return try SparseAutoencoder(hookName: hook, dictionary: dictionary, subtractsDecoderBias: subtract,
                                     modelName: try text("model_name", in: metadata) ?? (try text("model_name")), notes: notes)
    }

    static func loadGemmaScope(_ path: String, hookName: String?) throws -> SparseAutoencoder {
        let hook: String
        if let hookName { hook = hookName } else if let l = path.split(separator: "/").compactMap({ part -> Int? in
            part.hasPrefix("layer_") ? Int(part.dropFirst(6)) : nil
        }).last {
            hook = "blocks.\(l).hook_resid_post"
        } else {
            throw TranscoderError.invalidConfig(file: path, reason: "a params.npz does not name its hook: give --hook (Gemma Scope's residual SAEs read blocks.L.hook_resid_post)")
        }
        let archive = try NumpyArchive(path: path)
        func tensor(_ name: String) throws -> Tensor {
            guard archive.contains(name) else { throw TranscoderError.missingTensor(file: path, tensor: name) }
            let t = try archive.tensor(name)
            guard t.isFinite else { throw TranscoderError.nonFinite(file: path, tensor: name) }
            return t
        }
        let wEnc = try tensor("W_enc")
        guard wEnc.rank == 2 else { throw TranscoderError.shape(file: path, tensor: "W_enc", expected: [0, 0], found: wEnc.shape) }
        let (d, f) = (wEnc.shape[0], wEnc.shape[1])
        func shaped(_ name: String, _ shape: [Int]) throws -> Tensor {
            let t = try tensor(name)
            guard t.shape == shape else { throw TranscoderError.shape(file: path, tensor: name, expected: shape, found: t.shape) }
            return t
        }
        let dictionary = try Transcoder(
            layer: layerOf(hook), encoder: try wEnc.transposed(), encoderBias: try shaped("b_enc", [f]),
            decoder: try shaped("W_dec", [f, d]), decoderBias: try shaped("b_dec", [d]),
            activation: .jumpReLU(threshold: try shaped("threshold", [f])))
        return try SparseAutoencoder(hookName: hook, dictionary: dictionary, subtractsDecoderBias: false,
                                     notes: ["source": "Gemma Scope params.npz"])
    }

    /// The layer in a hook's name (`blocks.L.…`), or 0.
    public static func layerOf(_ hook: String) -> Int {
        let parts = hook.split(separator: ".")
        return parts.count >= 2 && parts[0] == "blocks" ? Int(parts[1]) ?? 0 : 0
    }

    /// Writes the SAE as a SAELens folder (replacing the folder as a whole, so an interrupted
    /// write leaves any earlier SAE there intact).
    public func save(to folder: String) throws {
        var tensors: [String: Tensor] = [
            "W_enc": try dictionary.encoder.transposed(), "W_dec": try dictionary.decoder,
            "b_enc": dictionary.encoderBias, "b_dec": dictionary.decoderBias,
        ]
        var cfg: [String: Any] = [
            "architecture": architecture, "d_in": width, "d_sae": features, "dtype": "float32", "device": "cpu",
            "apply_b_dec_to_input": subtractsDecoderBias, "normalize_activations": "none", "reshape_activations": "none",
            // Also at the top level, for readers of the pre-6 layout.
            "hook_name": hookName, "hook_layer": dictionary.layer,
        ]
        switch dictionary.activation {
        case .relu: break
        case .topK(let k): cfg["k"] = k; cfg["rescale_acts_by_decoder_norm"] = false
        case .jumpReLU(let threshold): tensors["threshold"] = threshold
        }
        var metadata: [String: Any] = ["hook_name": hookName, "hook_layer": dictionary.layer, "sae_lens_version": "6.0.0",
                                       "sae_lens_training_version": "circuitry", "prepend_bos": true]
        if let modelName { metadata["model_name"] = modelName }
        for (key, value) in notes where metadata[key] == nil { metadata[key] = value }
        cfg["metadata"] = metadata
        let json = try JSONSerialization.data(withJSONObject: cfg, options: [.prettyPrinted, .sortedKeys])
        try replaceFolder(folder) { temporary in
            try SafetensorsFile.write(tensors, to: (temporary as NSString).appendingPathComponent(Self.weightsFile))
            try json.write(to: URL(fileURLWithPath: (temporary as NSString).appendingPathComponent(Self.configFile)))
        }
    }
}
