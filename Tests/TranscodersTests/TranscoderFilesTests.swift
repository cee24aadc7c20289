import Foundation
import Testing
import ModelIO
import TensorCore
import Transcoders
import LanguageModels
import TestSupport

@Suite struct TranscoderFilesTests {
    @Test(arguments: ["relu", "jumprelu", "topk"])
    func saveThenLoadGivesIdenticalEncodings(_ kind: String) throws {
        var random = TestRandom(seed: 72)
        let threshold = random.uniform([16], 0, 0.4)
        let set = try TinyTranscoders.random(layers: 3, width: 8, features: 16, activation: { _ in
            kind == "jumprelu" ? .jumpReLU(threshold: threshold) : kind == "topk" ? .topK(k: 4) : .relu
        }, skip: kind == "jumprelu")
        let folder = temporaryPath("-tc")
        try set.save(to: folder)
        let loaded = try TranscoderSet.load(folder: folder)
        #expect(loaded.layers == 3 && loaded.features == 16 && loaded.hasSkip == set.hasSkip)
        let config = try String(contentsOfFile: folder + "/config.yaml", encoding: .utf8)
        #expect(config.contains("model_kind: transcoder_set") && config.contains("feature_input_hook: mlp.hook_in"))
        let x = random.normal([7, 8])
        for l in 0..<3 {
            let (a, b) = (try loaded[l], try set[l])
            #expect(try a.encode(x) == b.encode(x))
            #expect(try a.reconstruct(x) == b.reconstruct(x))
        }
        // A lazily loaded set reads the same layers.
        let lazy = try TranscoderSet.load(folder: folder, lazy: true)
        #expect(lazy.isLazy && lazy.layers == 3 && lazy.features == 16 && lazy.modelWidth == 8 && lazy.hasSkip == set.hasSkip)
        #expect(try lazy[2].encode(x) == set[2].encode(x))
    }

    @Test func gemmaScopeNamesAreRead() throws {
        var random = TestRandom(seed: 73)
        let (f, d) = (10, 4)
        let wEnc = random.normal([d, f]), wDec = random.normal([f, d]), skip = random.normal([d, d])
        let folder = temporaryPath("-gs")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try SafetensorsFile.write(["w_enc": wEnc, "w_dec": wDec, "b_enc": random.normal([f]), "b_dec": random.normal([d]),
                                   "threshold": random.uniform([f], 0, 0.3), "affine_skip_connection": skip],
                                  to: folder + "/layer_0.safetensors")
        let set = try TranscoderSet.load(folder: folder)
        let layer = try set[0]
        #expect(try layer.encoder == wEnc.transposed())
        #expect(try layer.skip == skip.transposed())
        guard case .jumpReLU = layer.activation else { Issue.record("GemmaScope thresholds make a JumpReLU"); return }
        // Gemma Scope 2's own file names, listed in config.yaml: read, and fingerprinted by those files.
        try FileManager.default.moveItem(atPath: folder + "/layer_0.safetensors", toPath: folder + "/params_layer_0.safetensors")
        try "model_kind: transcoder_set\nfeature_input_hook: mlp.hook_in\nfeature_output_hook: hook_mlp_out\ntranscoders: [params_layer_0.safetensors]\n"
            .write(toFile: folder + "/config.yaml", atomically: true, encoding: .utf8)
        let listed = try TranscoderSet.load(folder: folder)
        #expect(try listed[0].encoder == wEnc.transposed())
        let print = try listed.fingerprint()
        try SafetensorsFile.write(["w_enc": wEnc, "w_dec": wDec, "b_enc": random.normal([f]), "b_dec": random.normal([d]),
                                   "threshold": random.uniform([f], 0, 0.3)], to: folder + "/params_layer_0.safetensors")
        #expect(try TranscoderSet.load(folder: folder).fingerprint() != print)
    }

    @Test func mismatchesAndBrokenFilesAreClearErrors() throws {
        let model = try LoadedModel.load(path: TinyModel(TinyModelSpec()).writeGGUF())   // width 16, 2 layers
        let wrongWidth = try TinyTranscoders.random(layers: 2, width: 8, features: 4)
        #expect(throws: TranscoderError.widthMismatch(set: "tiny-random", transcoderWidth: 8, modelWidth: 16)) {
            try wrongWidth.validate(for: model.configuration)
        }
        let wrongLayers = try TinyTranscoders.random(layers: 3, width: 16, features: 4)
        #expect(throws: TranscoderError.layerCountMismatch(set: "tiny-random", transcoders: 3, modelLayers: 2)) {
            try wrongLayers.validate(for: model.configuration)
        }
        // A missing layer file named in config.yaml.
        let folder = temporaryPath("-tc")
        try TinyTranscoders.random(layers: 2, width: 16, features: 4).save(to: folder)
        try FileManager.default.removeItem(atPath: folder + "/layer_1.safetensors")
        #expect(throws: TranscoderError.missingLayerFile(folder: folder, layer: 1, path: folder + "/layer_1.safetensors")) {
            try TranscoderSet.load(folder: folder)
        }
        // NaN weights.
        let nanFolder = temporaryPath("-nan")
        try TinyTranscoders.random(layers: 1, width: 4, features: 3).save(to: nanFolder)
        var poisoned = try SafetensorsFile(path: nanFolder + "/layer_0.safetensors").tensor("W_dec")
        poisoned.scalars[5] = .nan
        let file = try SafetensorsFile(path: nanFolder + "/layer_0.safetensors")
        var tensors = [String: Tensor]()
        for name in file.names { tensors[name] = try file.tensor(name) }
        tensors["W_dec"] = poisoned
        try SafetensorsFile.write(tensors, to: nanFolder + "/layer_0.safetensors")
        #expect(throws: TranscoderError.nonFinite(file: nanFolder + "/layer_0.safetensors", tensor: "W_dec")) {
            try TranscoderSet.load(folder: nanFolder)
        }
        // Broken config.yaml.
        let badYAML = temporaryPath("-yaml")
        try TinyTranscoders.random(layers: 1, width: 4, features: 3).save(to: badYAML)
        try "transcoders: [unclosed".write(toFile: badYAML + "/config.yaml", atomically: true, encoding: .utf8)
        #expect(throws: TranscoderError.self) { try TranscoderSet.load(folder: badYAML) }
        try "model_kind: sparse_autoencoder\n".write(toFile: badYAML + "/config.yaml", atomically: true, encoding: .utf8)
        #expect { try TranscoderSet.load(folder: badYAML) } throws: { error in
            guard case .invalidConfig(_, let reason) = error as? TranscoderError else { return false }
            return reason.contains("sparse_autoencoder") && reason.contains("cross_layer_transcoder")
        }
        // A cross-layer config over per-layer files: the CLT's first file is named.
        try "model_kind: cross_layer_transcoder\n".write(toFile: badYAML + "/config.yaml", atomically: true, encoding: .utf8)
        #expect(throws: TranscoderError.missingLayerFile(folder: badYAML, layer: 0, path: badYAML + "/W_enc_0.safetensors")) {
            try TranscoderSet.load(folder: badYAML)
        }
        #expect(throws: TranscoderError.self) { try TranscoderSet.load(folder: temporaryPath("-empty")) }
        // Layer lists that repeat a file or put a layer's file in another layer's place.
        let listed = temporaryPath("-list")
        try TinyTranscoders.random(layers: 2, width: 4, features: 3).save(to: listed)
        for (list, message) in [("[layer_0.safetensors, layer_0.safetensors]", "twice"), ("[layer_1.safetensors, layer_0.safetensors]", "the file of layer 1")] {
            try "model_kind: transcoder_set\ntranscoders: \(list)\n".write(toFile: listed + "/config.yaml", atomically: true, encoding: .utf8)
            #expect { try TranscoderSet.load(folder: listed) } throws: { error in
                guard case .invalidConfig(_, let reason) = error as? TranscoderError else { return false }
                return reason.contains(message)
            }
        }
        // YAML a transcoder configuration never needs: found by fuzzing (`? - a` stopped Yams's
        // conversion with a force unwrap), and keys given twice (the second used to win silently).
        for (yaml, message) in [("? - layec", "not plain text"), ("? {a: 1}\n: x\n", "not plain text"),
                                ("model_kind: transcoder_set\nmodel_kind: transcoder_set\n", "duplicated key"),
                                (String(repeating: "[", count: 40) + String(repeating: "]", count: 40), "nested more than 32")] {
            try yaml.write(toFile: listed + "/config.yaml", atomically: true, encoding: .utf8)
            #expect { try TranscoderSet.load(folder: listed) } throws: { error in
                guard case .invalidConfig(_, let reason) = error as? TranscoderError else { return false }
                return reason.contains(message)
            }
        }
        // Sites no model has a hook point for are refused, not read at mlp.hook_in.
        for hooks in ["feature_input_hook: hook_resid_post\n", "feature_input_hook: ln1.hook_normalized\n", "feature_output_hook: hook_resid_post\n"] {
            try ("model_kind: transcoder_set\n" + hooks + "transcoders: [layer_0.safetensors, layer_1.safetensors]\n")
                .write(toFile: listed + "/config.yaml", atomically: true, encoding: .utf8)
            #expect { try TranscoderSet.load(folder: listed) } throws: { error in
                guard case .invalidConfig(_, let reason) = error as? TranscoderError else { return false }
                return reason.contains("is not supported")
            }
        }
        try "model_kind: transcoder_set\nfeature_input_hook: mlp.hook_in\nfeature_output_hook: hook_mlp_out\ntranscoders: [layer_0.safetensors, layer_1.safetensors]\n"
            .write(toFile: listed + "/config.yaml", atomically: true, encoding: .utf8)
        #expect(try TranscoderSet.load(folder: listed).outputHook == "hook_mlp_out")
        // The other sites are read, and each maps to its hook point.
        try "model_kind: transcoder_set\nfeature_input_hook: ln2.hook_normalized\nfeature_output_hook: mlp.hook_out\ntranscoders: [layer_0.safetensors, layer_1.safetensors]\n"
            .write(toFile: listed + "/config.yaml", atomically: true, encoding: .utf8)
        let sited = try TranscoderSet.load(folder: listed)
        #expect(sited.inputPoint(layer: 1) == .mlpNormalized(layer: 1) && sited.outputPoint(layer: 0) == .mlpRawOut(layer: 0))
        // Also found by fuzzing: YAML 1.1's base-60 integers (`1:30`) overflowed in Yams's resolver.
        // Scalars follow YAML 1.2's core schema, so this is text, and the set loads.
        try "model_kind: transcoder_set\nnote: 63333366666666666668:11\nsize: 0x10\ntranscoders: [layer_0.safetensors, layer_1.safetensors]\n"
            .write(toFile: listed + "/config.yaml", atomically: true, encoding: .utf8)
        #expect(try TranscoderSet.load(folder: listed).layers == 2)
        try "model_kind: transcoder_set\ntranscoders: [layer_0.safetensors, layer_1.safetensors]\n".write(toFile: listed + "/config.yaml", atomically: true, encoding: .utf8)
        #expect(try TranscoderSet.load(folder: listed).layers == 2)
    }
}
