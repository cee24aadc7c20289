// Transcoder sets on disk, in circuit-tracer's per-layer format (ATTRIBUTION.md §10):
//
//   config.yaml          model_name, model_kind: transcoder_set, feature_input_hook,
//                        feature_output_hook, transcoders: [layer_0.safetensors, ...],
//                        and for TopK sets activation: topk with k
//   layer_{l}.safetensors  W_enc [f, d], W_dec [f, d], b_enc [f], b_dec [d],
//                        optionally activation_function.threshold [f] (JumpReLU), W_skip [d, d]
//
// GemmaScope 2 files (w_enc [d, f] transposed, w_dec, b_enc, b_dec, threshold,
// affine_skip_connection transposed) are read too. circuit-tracer 0.5.0 treats a per-layer set
// without a threshold as ReLU and ignores `activation: topk`, so sets meant for both tools are
// written as JumpReLU (see TranscoderTrainer).

import Foundation
import ModelIO
import TensorCore
import Yams

/// A YAML document as plain values: mappings with text keys (each once), sequences, scalars, at
/// most 32 levels deep. Yams's own conversion to `Any` stops the process on a mapping key that is
/// itself a sequence or a mapping (`? - a`), so the tree is walked here instead.
func plainYAML(_ node: Node, file: String, depth: Int = 0) throws -> Any {
    guard depth < 32 else { throw TranscoderError.invalidConfig(file: file, reason: "YAML nested more than 32 levels deep") }
    switch node {
    case let .scalar(scalar):
        return plainScalar(scalar)
    case let .mapping(mapping):
        var values = [String: Any]()
        for (key, value) in mapping {
            guard case let .scalar(scalar) = key else {
                throw TranscoderError.invalidConfig(file: file, reason: "a mapping key is not plain text")
            }
            guard values[scalar.string] == nil else {
                throw TranscoderError.invalidConfig(file: file, reason: "the key \(scalar.string) appears twice")
            }
            values[scalar.string] = try plainYAML(value, file: file, depth: depth + 1)
        }
        return values
    case let .sequence(sequence):
        return try sequence.map { try plainYAML($0, file: file, depth: depth + 1) }
    case .alias:
        throw TranscoderError.invalidConfig(file: file, reason: "YAML anchors and aliases (&name, *name) are not accepted")
    }
}

/// A scalar by YAML 1.2's core schema: quoted text stays text; plain `null`/`~`/empty, `true`/`false`,
/// whole numbers (decimal, 0x, 0o) that fit an Int, and decimal or `.inf`/`.nan` floats; anything else
/// is text. (Yams's own resolver also reads YAML 1.1 forms such as base-60 `1:30`, and traps when
/// one overflows.)
func plainScalar(_ scalar: Node.Scalar) -> Any {
    let text = scalar.string
    guard scalar.style == .plain || scalar.style == .any else { return text }
    switch text {
    case "", "~", "null", "Null", "NULL": return NSNull()
    case "true", "True", "TRUE": return true
    case "false", "False", "FALSE": return false
    case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return Double.infinity
    case "-.inf", "-.Inf", "-.INF": return -Double.infinity
    case ".nan", ".NaN", ".NAN": return Double.nan
    default: break
    }
    if text.hasPrefix("0x"), let value = Int(text.dropFirst(2), radix: 16) { return value }
    if text.hasPrefix("0o"), let value = Int(text.dropFirst(2), radix: 8) { return value }
    if text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-" || $0 == "+") }), let value = Int(text) { return value }
    if text.range(of: #"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$"#, options: .regularExpression) != nil,
       let value = Double(text) { return value }
    return text
}

extension TranscoderSet {
    /// Loads a folder written by circuit-tracer, by Circuitry, or holding GemmaScope 2 files.
    /// A `lazy` set keeps only file locations and shapes (from the headers) and reads a layer
    /// each time it is asked for: attribution uses each layer once, so it need not hold them all.
    public static func load(folder: String, lazy: Bool = false) throws -> TranscoderSet {
        let configPath = (folder as NSString).appendingPathComponent("config.yaml")
        var config = [String: Any]()
        if FileManager.default.fileExists(atPath: configPath) {
            guard let bytes = try? MappedFile.contents(of: configPath, limit: 1 << 20), let text = String(bytes: bytes, encoding: .utf8) else {
                throw TranscoderError.invalidConfig(file: configPath, reason: "cannot read it as a text file of at most 1 MB")
            }
            // YAML anchors and aliases can expand a short file into gigabytes ("billion laughs");
            // a transcoder configuration never needs them.
            if text.range(of: #"(^|[\s\[{,:-])[&*][A-Za-z0-9_.-]+"#, options: .regularExpression) != nil {
                throw TranscoderError.invalidConfig(file: configPath, reason: "YAML anchors and aliases (&name, *name) are not accepted")
            }
            do {
                guard let node = try Yams.compose(yaml: text), let parsed = try plainYAML(node, file: configPath) as? [String: Any] else {
                    throw TranscoderError.invalidConfig(file: configPath, reason: "not a YAML mapping")
                }
                config = parsed
            } catch let error as TranscoderError {
                throw error
            } catch {
                throw TranscoderError.invalidConfig(file: configPath, reason: "invalid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
            }
            if let kind = config["model_kind"] as? String, kind != "transcoder_set", kind != "cross_layer_transcoder" {
                throw TranscoderError.invalidConfig(file: configPath, reason: "model_kind \(kind) is not supported (transcoder_set and cross_layer_transcoder are)")
            }
        }
        let crossLayer = config["model_kind"] as? String == "cross_layer_transcoder"
        var layout = LayerLayout.perLayer
        var paths = [String]()
        if let listed = config["transcoders"] as? [Any] {
            paths = try listed.map { "\($0)" }.map { entry in
                if entry.hasPrefix("hf://") { return try mirrored(entry, in: folder, config: configPath) }
                return entry.hasPrefix("/") ? entry : (folder as NSString).appendingPathComponent(entry)
            }
            // Each layer once, in order: a repeated file or a layer_N name out of its place would
            // attach one layer's transcoder to another layer without a word.
            let resolved = paths.map { ($0 as NSString).standardizingPath }
            if let repeated = resolved.enumerated().first(where: { resolved[..<$0.offset].contains($0.element) }) {
                throw TranscoderError.invalidConfig(file: configPath, reason: "the transcoders list names \(listed[repeated.offset]) twice")
            }
            for (l, path) in paths.enumerated() {
                let name = (path as NSString).lastPathComponent
                if let range = name.range(of: #"^layer_(\d+)\."#, options: .regularExpression),
                   let n = Int(name[range].dropFirst(6).dropLast()), n != l {
                    throw TranscoderError.invalidConfig(file: configPath, reason: "entry \(l) of the transcoders list is \(name), the file of layer \(n)")
                }
            }
            // Gemma Scope 2's cross-layer transcoders are listed like its per-layer files.
            if crossLayer { layout = .multiLayer }
        } else {
            // No list: layer_N.safetensors (a CLT: W_enc_N and W_dec_N.safetensors) in the folder,
            // or (a published config naming its repository) in the mirror of that repository,
            // under its subfolder.
            let first = crossLayer ? "W_enc_0.safetensors" : "layer_0.safetensors"
            var base = folder
            if let repo = config["repo_id"] as? String {
                let mirror = try mirrored("hf://\(repo)/\((config["subfolder"] as? String).map { $0 + "/" } ?? "")\(first)",
                                          in: folder, config: configPath)
                base = (mirror as NSString).deletingLastPathComponent
            }
            var l = 0
            while true {
                let candidate = (base as NSString).appendingPathComponent(crossLayer ? "W_enc_\(l).safetensors" : "layer_\(l).safetensors")
                guard FileManager.default.fileExists(atPath: candidate) else { break }
                paths.append(candidate)
                l += 1
            }
            guard !paths.isEmpty else {
                throw TranscoderError.missingLayerFile(folder: folder, layer: 0, path: (base as NSString).appendingPathComponent(first))
            }
            if crossLayer {
                let decoders = paths.indices.map { (base as NSString).appendingPathComponent("W_dec_\($0).safetensors") }
                for (l, path) in decoders.enumerated() where !FileManager.default.fileExists(atPath: path) {
                    throw TranscoderError.missingLayerFile(folder: folder, layer: l, path: path)
                }
                layout = .crossLayerFiles(decoders: decoders)
            }
        }
        let topK = (config["activation"] as? String)?.lowercased() == "topk" ? (config["k"] as? Int) : nil
        if (config["activation"] as? String)?.lowercased() == "topk" && topK == nil {
            throw TranscoderError.invalidConfig(file: configPath, reason: "activation: topk needs an integer k")
        }
        for (layer, path) in paths.enumerated() where !FileManager.default.fileExists(atPath: path) {
            throw TranscoderError.missingLayerFile(folder: folder, layer: layer, path: path)
        }
        let notes = (config["circuitry"] as? [String: Any])?.mapValues { "\($0)" } ?? [:]
        let name = notes["name"] ?? (folder as NSString).lastPathComponent
        let modelName = config["model_name"] as? String ?? "unknown"
        var set: TranscoderSet
        // Shapes from the headers first: every layer's widths and decoder span agree before any
        // weight is read (a cross-layer set's decoders are only ever mapped, never read whole).
        let layers = try lazyLayers(paths: paths, topK: topK, layout: layout)
        if lazy {
            set = TranscoderSet(name: name, modelName: modelName, lazy: layers, notes: notes)
        } else {
            let transcoders = try paths.indices.map { try loadLayer(layers, layer: $0) }
            set = try TranscoderSet(name: name, modelName: modelName, transcoders: transcoders, notes: notes)
        }
        set.folder = folder
        set.layerFiles = paths
        if case .crossLayerFiles(let decoders) = layout { set.decoderFiles = decoders }
        set.inputHook = config["feature_input_hook"] as? String ?? set.inputHook
        set.outputHook = config["feature_output_hook"] as? String ?? set.outputHook
        // The sites transcoders read and write (TranscoderSet.inputSites, .outputSites): each maps
        // to a hook point, and whether the model has it is checked against the model. A set
        // naming another site would be read at the wrong place, so it is refused, not used.
        guard TranscoderSet.supportedInputHooks.contains(set.inputHook), TranscoderSet.supportedOutputHooks.contains(set.outputHook) else {
            throw TranscoderError.invalidConfig(file: configPath, reason: "feature_input_hook \(set.inputHook) → feature_output_hook "
                + "\(set.outputHook) is not supported (Circuitry reads transcoders at \(TranscoderSet.supportedInputHooks.sorted().joined(separator: ", ")) → \(TranscoderSet.supportedOutputHooks.sorted().joined(separator: ", ")))")
        }
        return set
    }

    /// Where a published config's `hf://org/repo/path?revision=r` is in a local mirror:
    /// FOLDER/org/repo/path (the revision is not part of the path). Never fetched; a file the
    /// mirror lacks is named with the path tried.
    static func mirrored(_ uri: String, in folder: String, config: String) throws -> String {
        let rest = uri.dropFirst("hf://".count).split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        let parts = rest.split(separator: "/").map(String.init)
        guard parts.count >= 3, !parts.contains(where: { $0 == ".." || $0 == "." }) else {
            throw TranscoderError.invalidConfig(file: config, reason: "\(uri) is not hf://org/repo/path")
        }
        let path = (folder as NSString).appendingPathComponent(parts.joined(separator: "/"))
        guard FileManager.default.fileExists(atPath: path) else {
            throw TranscoderError.invalidConfig(file: config, reason: "\(uri) is not in the local mirror (looked for \(path); "
                                                    + "Circuitry never downloads: place the repository's files under \(folder)/ORG/REPO/)")
        }
        return path
    }

    /// Shapes of every layer from the file headers, checked to agree: encoders of one width,
    /// decoders of that width writing to one layer (per-layer) or to layers l..<L (cross-layer).
    static func lazyLayers(paths: [String], topK: Int?, layout: LayerLayout = .perLayer) throws -> LazyLayers {
        var shape: (features: Int, width: Int, skip: Bool)?
        let L = paths.count
        for (l, path) in paths.enumerated() {
            let file = try LayerFile(path: path, layer: layout == .perLayer ? nil : l)
            let names = file.names
            guard let encoder = try file.shape(names.encoder), encoder.count == 2 else {
                throw TranscoderError.missingTensor(file: path, tensor: names.encoder)
            }
            let found = (names.encoderTransposed ? encoder[1] : encoder[0], names.encoderTransposed ? encoder[0] : encoder[1],
                         file.contains(names.skip))
            if let shape, shape.features != found.0 || shape.width != found.1 {
                throw TranscoderError.shape(file: path, tensor: names.encoder, expected: [shape.features, shape.width], found: [found.0, found.1])
            }
            shape = shape ?? found
            // The decoder: its file's header, checked against the encoder and the layer's span.
            let (decoderPath, decoderFile): (String, LayerFile)
            if case .crossLayerFiles(let decoders) = layout {
                (decoderPath, decoderFile) = (decoders[l], try LayerFile(path: decoders[l], layer: l))
            } else {
                (decoderPath, decoderFile) = (path, file)
            }
            guard let decoder = try decoderFile.shape(names.decoder) else {
                throw TranscoderError.missingTensor(file: decoderPath, tensor: names.decoder)
            }
            let expected: [Int] = switch layout {
            case .perLayer: [found.0, found.1]
            case .crossLayerFiles: [found.0, L - l, found.1]
            case .multiLayer: [found.0, L, found.1]
            }
            guard decoder == expected else {
                if decoder.count == expected.count, decoder.first == found.0, decoder.last == found.1, expected.count == 3 {
                    throw TranscoderError.decoderSpan(set: decoderPath, layer: l, span: decoder[1], expected: expected[1], crossLayer: true)
                }
                throw TranscoderError.shape(file: decoderPath, tensor: names.decoder, expected: expected, found: decoder)
            }
        }
        guard let shape else { throw TranscoderError.invalidOptions("a transcoder set needs at least one layer") }
        return LazyLayers(paths: paths, topK: topK, features: shape.features, width: shape.width, hasSkip: shape.skip, layout: layout)
    }

    /// Reads one layer's encoder, biases and skip; a cross-layer decoder is mapped, not read.
    static func loadLayer(_ layers: LazyLayers, layer: Int) throws -> Transcoder {
        let path = layers.paths[layer]
        let file = try LayerFile(path: path, layer: layers.layout == .perLayer ? nil : layer)
        func tensor(_ name: String) throws -> Tensor {
            guard file.contains(name) else { throw TranscoderError.missingTensor(file: path, tensor: name) }
            let t = try file.tensor(name)
            guard t.isFinite else { throw TranscoderError.nonFinite(file: path, tensor: name) }
            return t
        }
        let names = file.names
        let encoder = names.encoderTransposed ? try tensor(names.encoder).transposed() : try tensor(names.encoder)
        let (f, d, L) = (encoder.shape[0], encoder.shape[1], layers.paths.count)
        let decoder: DecoderWeights
        switch layers.layout {
        case .perLayer:
            decoder = try DecoderWeights(tensor(names.decoder))
        case .crossLayerFiles(let decoders):
            let mapped = try LayerFile(path: decoders[layer], layer: layer)
            guard let safetensors = mapped.safetensors, mapped.contains(names.decoder) else {
                throw TranscoderError.missingTensor(file: decoders[layer], tensor: names.decoder)
            }
            decoder = DecoderWeights(mapped: safetensors, name: names.decoder, features: f, span: L - layer, width: d)
        case .multiLayer:
            guard let safetensors = file.safetensors, file.contains(names.decoder) else {
                throw TranscoderError.missingTensor(file: path, tensor: names.decoder)
            }
            decoder = DecoderWeights(mapped: safetensors, name: names.decoder, features: f, span: L - layer, width: d, first: layer)
        }
        var skip = file.contains(names.skip) ? try tensor(names.skip) : nil
        if names.skipTransposed { skip = try skip?.transposed() }
        let activation: TranscoderActivation = file.contains(names.threshold)
            ? .jumpReLU(threshold: try tensor(names.threshold))
            : layers.topK.map { .topK(k: $0) } ?? .relu
        do {
            return try Transcoder(layer: layer, encoder: encoder, encoderBias: try tensor(names.encoderBias), decoderWeights: decoder,
                                  decoderBias: try tensor(names.decoderBias), skip: skip, activation: activation)
        } catch TranscoderError.shape(_, let name, let expected, let found) {
            throw TranscoderError.shape(file: path, tensor: name, expected: expected, found: found)
        }
    }

    /// Writes the set in circuit-tracer's format: per-layer (layer_{l}.safetensors, relative
    /// paths in config.yaml) or cross-layer (W_enc_{l}.safetensors with W_enc_l, b_enc_l, b_dec_l,
    /// threshold_l, and W_dec_{l}.safetensors with W_dec_l [f, L − l, d]), which circuit-tracer's
    /// `load_clt` reads unchanged.
    public func save(to folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var topK: Int? = nil
        func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        for l in 0..<layers {
            let t = try self[l]
            var threshold: Tensor?
            switch t.activation {
            case .jumpReLU(let th): threshold = th
            case .topK(let k): topK = k
            case .relu: break
            }
            if isCrossLayer {
                var tensors = ["W_enc_\(l)": t.encoder, "b_enc_\(l)": t.encoderBias, "b_dec_\(l)": t.decoderBias]
                if let threshold { tensors["threshold_\(l)"] = threshold }
                if let skip = t.skip { tensors["W_skip_\(l)"] = skip }
                try SafetensorsFile.write(tensors, to: path("W_enc_\(l).safetensors"))
                let decoder = try t.decoder.reshaped([t.features, t.decoderWeights.span, t.modelWidth])     // [f, 1, d] at the last layer
                try SafetensorsFile.write(["W_dec_\(l)": decoder], to: path("W_dec_\(l).safetensors"))
            } else {
                var tensors = ["W_enc": t.encoder, "W_dec": try t.decoder, "b_enc": t.encoderBias, "b_dec": t.decoderBias]
                if let skip = t.skip { tensors["W_skip"] = skip }
                if let threshold { tensors["activation_function.threshold"] = threshold }
                try SafetensorsFile.write(tensors, to: path("layer_\(t.layer).safetensors"))
            }
        }
        var config: [String: Any] = [
            "model_name": modelName,
            "model_kind": isCrossLayer ? "cross_layer_transcoder" : "transcoder_set",
            "feature_input_hook": inputHook,
            "feature_output_hook": outputHook,
        ]
        if !isCrossLayer { config["transcoders"] = (0..<layers).map { "layer_\($0).safetensors" } }
        if let topK {
            config["activation"] = "topk"
            config["k"] = topK
        } else if case .jumpReLU = try self[0].activation {
            config["activation"] = "jumprelu"
        } else {
            config["activation"] = "relu"
        }
        var circuitry = notes
        circuitry["name"] = name
        config["circuitry"] = circuitry
        let yaml = try Yams.dump(object: config, sortKeys: true)
        try yaml.write(toFile: (folder as NSString).appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
    }
}

extension TranscoderSet {
    /// A content fingerprint of the set's files (config and every layer), or "unsaved".
    public func fingerprint() throws -> String {
        guard let folder else { return "unsaved" }
        var parts = [String]()
        let config = (folder as NSString).appendingPathComponent("config.yaml")
        if FileManager.default.fileExists(atPath: config) { parts.append(try Fingerprint.file(config)) }
        let files = layerFiles ?? (0..<layers).map { (folder as NSString).appendingPathComponent("layer_\($0).safetensors") }
        for file in files + (decoderFiles ?? []) { parts.append(try Fingerprint.file(file)) }
        return Fingerprint.combine(parts)
    }
}

/// One layer's file in any of the published layouts, and the names its tensors go by:
///   circuit-tracer / Circuitry (safetensors): W_enc [f, d], W_dec [f, d], b_enc, b_dec,
///     activation_function.threshold, W_skip [d, d];
///   Gemma Scope 2 (safetensors): w_enc [d, f], w_dec [f, d], b_enc, b_dec, threshold,
///     affine_skip_connection [d, d] applied transposed (as circuit-tracer does);
///   Gemma Scope 1 (params.npz): W_enc [d, f], W_dec [f, d], b_enc, b_dec, threshold.
/// Safetensors are memory-mapped (F32, F16 and BF16 read as Float32); stored .npz entries too.
struct LayerFile {
    struct Names {
        var encoder = "W_enc", decoder = "W_dec", threshold = "activation_function.threshold", skip = "W_skip"
        var encoderBias = "b_enc", decoderBias = "b_dec"
        var encoderTransposed = false, skipTransposed = false
    }
    let safetensors: SafetensorsFile?
    let archive: NumpyArchive?
    let names: Names

    /// `layer` for a cross-layer set's file: circuit-tracer's CLT files suffix every name with
    /// the layer (W_enc_3, b_enc_3, b_dec_3, threshold_3 in W_enc_3.safetensors, W_dec_3 in
    /// W_dec_3.safetensors); Gemma Scope 2's multi-layer files use the per-layer names.
    init(path: String, layer: Int? = nil) throws {
        if path.hasSuffix(".npz") {
            archive = try NumpyArchive(path: path)
            safetensors = nil
            names = Names(threshold: "threshold", encoderTransposed: true)
        } else {
            let file = try SafetensorsFile(path: path)
            safetensors = file
            archive = nil
            if file.contains("w_enc") || file.contains("w_dec") {
                names = Names(encoder: "w_enc", decoder: "w_dec", threshold: "threshold", skip: "affine_skip_connection",
                              encoderTransposed: true, skipTransposed: true)
            } else if let l = layer {
                names = Names(encoder: "W_enc_\(l)", decoder: "W_dec_\(l)", threshold: "threshold_\(l)", skip: "W_skip_\(l)",
                              encoderBias: "b_enc_\(l)", decoderBias: "b_dec_\(l)")
            } else {
                names = Names()
            }
        }
    }

    func contains(_ name: String) -> Bool { safetensors?.contains(name) ?? archive!.contains(name) }

    func tensor(_ name: String) throws -> Tensor { try safetensors?.tensor(name) ?? archive!.tensor(name) }

    /// A tensor's shape, from the header where the format allows.
    func shape(_ name: String) throws -> [Int]? {
        if let safetensors { return safetensors.entries[name]?.shape }
        return archive!.contains(name) ? try archive!.tensor(name).shape : nil
    }
}
