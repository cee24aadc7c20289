// Gemma Scope's published layouts read exactly as circuit-tracer 0.5.0 reads them
// (Tests/Fixtures/gemma-scope, made by scripts/make-gemma-scope-fixtures.py): Gemma Scope 1's
// params.npz (stored and deflated), Gemma Scope 2's safetensors in F32, F16 and BF16, and
// published config.yaml files naming hf:// URIs, resolved in a local mirror and never fetched.

import Foundation
import Testing
import ModelIO
import TensorCore
import Transcoders
import TestSupport

@Suite struct GemmaScopeFileTests {
    struct Expected: Decodable {
        struct Layer: Decodable { let W_enc, W_dec, b_enc, b_dec, threshold, W_skip: [Float] }
        let d: Int, f: Int
        let layers: [String: Layer]
    }

    static let fixtures = Fixtures.url("gemma-scope")
    static let expected = try! JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixtures.appendingPathComponent("expected.json")))

    /// A folder whose config.yaml lists `files` (copied in), with Gemma Scope's sites.
    static func folder(_ files: [String], names: [String]? = nil, extra: String = "") throws -> String {
        let folder = temporaryPath("-gemma-scope")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let targets = names ?? files.map { ($0 as NSString).lastPathComponent }
        for (file, name) in zip(files, targets) {
            let path = (folder as NSString).appendingPathComponent(name)
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent(file).path, toPath: path)
        }
        try ("model_kind: transcoder_set\nfeature_input_hook: ln2.hook_normalized\nfeature_output_hook: hook_mlp_out\n" + extra
             + "transcoders:\n" + targets.map { "  - \($0)\n" }.joined())
            .write(toFile: folder + "/config.yaml", atomically: true, encoding: .utf8)
        return folder
    }

    static func check(_ set: TranscoderSet, suffix: String, skip: Bool) throws {
        #expect(set.layers == 2 && set.features == expected.f && set.modelWidth == expected.d)
        #expect(set.inputHook == "ln2.hook_normalized" && set.outputHook == "hook_mlp_out")
        for l in 0..<2 {
            let t = try set[l], e = expected.layers["\(l)\(suffix)"]!
            #expect(t.encoder.scalars == e.W_enc && t.encoder.shape == [expected.f, expected.d], "layer \(l)\(suffix) W_enc")
            #expect(try t.decoder.scalars == e.W_dec && t.encoderBias.scalars == e.b_enc && t.decoderBias.scalars == e.b_dec)
            guard case .jumpReLU(let threshold) = t.activation else { Issue.record("a threshold makes a JumpReLU"); continue }
            #expect(threshold.scalars == e.threshold)
            #expect(skip ? t.skip?.scalars == e.W_skip : t.skip == nil)
        }
    }

    @Test(arguments: ["params.npz", "params-compressed.npz"])
    func gemmaScope1ParamsNpz(_ name: String) throws {
        let folder = try Self.folder(["gs1/layer_0/\(name)", "gs1/layer_1/\(name)"], names: ["layer_0/\(name)", "layer_1/\(name)"])
        try Self.check(try TranscoderSet.load(folder: folder), suffix: "", skip: false)
        try Self.check(try TranscoderSet.load(folder: folder, lazy: true), suffix: "", skip: false)
    }

    @Test(arguments: ["", "-f16", "-bf16"])
    func gemmaScope2Safetensors(_ suffix: String) throws {
        let folder = try Self.folder(["gs2/params_layer_0\(suffix).safetensors", "gs2/params_layer_1\(suffix).safetensors"])
        try Self.check(try TranscoderSet.load(folder: folder), suffix: suffix, skip: true)
        try Self.check(try TranscoderSet.load(folder: folder, lazy: true), suffix: suffix, skip: true)
    }

    @Test func publishedConfigsResolveHfURIsInALocalMirror() throws {
        // transcoders: [hf://org/repo/path?revision=…] → FOLDER/org/repo/path.
        let repo = "google/gemma-scope-2b-pt-transcoders"
        let files = ["gs1/layer_0/params.npz", "gs1/layer_1/params.npz"]
        let names = ["\(repo)/layer_0/width_16k/average_l0_76/params.npz", "\(repo)/layer_1/width_16k/average_l0_65/params.npz"]
        let mirror = try Self.folder(files, names: names)
        try ("model_kind: transcoder_set\nfeature_input_hook: ln2.hook_normalized\nfeature_output_hook: hook_mlp_out\ntranscoders:\n"
             + names.map { "  - hf://\($0)?revision=main\n" }.joined()).write(toFile: mirror + "/config.yaml", atomically: true, encoding: .utf8)
        try Self.check(try TranscoderSet.load(folder: mirror), suffix: "", skip: false)
        // A URI the mirror lacks is named, with the path tried.
        try FileManager.default.removeItem(atPath: mirror + "/" + names[1])
        #expect { try TranscoderSet.load(folder: mirror) } throws: { error in
            "\(error)".contains("hf://\(names[1])?revision=main is not in the local mirror") && "\(error)".contains(mirror + "/" + names[1])
        }
        // Escaping the mirror is refused.
        try "model_kind: transcoder_set\ntranscoders: [hf://org/repo/../../etc/passwd]\n".write(toFile: mirror + "/config.yaml", atomically: true, encoding: .utf8)
        #expect { try TranscoderSet.load(folder: mirror) } throws: { "\($0)".contains("is not hf://org/repo/path") }
        // A config naming only its repository (and subfolder): layer_N files there.
        let byRepo = try Self.folder(["gs2/params_layer_0.safetensors", "gs2/params_layer_1.safetensors"],
                                     names: ["org/tc/sub/layer_0.safetensors", "org/tc/sub/layer_1.safetensors"])
        try "model_kind: transcoder_set\nfeature_input_hook: ln2.hook_normalized\nfeature_output_hook: hook_mlp_out\nrepo_id: org/tc\nsubfolder: sub\n"
            .write(toFile: byRepo + "/config.yaml", atomically: true, encoding: .utf8)
        try Self.check(try TranscoderSet.load(folder: byRepo), suffix: "", skip: true)
    }

    @Test func badFilesAreNamed() throws {
        let d = Self.expected.d, f = Self.expected.f
        var random = TestRandom(seed: 9)
        func write(_ tensors: [String: Tensor]) throws -> String {
            let folder = temporaryPath("-bad-gs")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try SafetensorsFile.write(tensors, to: folder + "/params_layer_0.safetensors")
            try "model_kind: transcoder_set\ntranscoders: [params_layer_0.safetensors]\n".write(toFile: folder + "/config.yaml", atomically: true, encoding: .utf8)
            return folder
        }
        let good: [String: Tensor] = ["w_enc": random.normal([d, f]), "w_dec": random.normal([f, d]), "b_enc": random.normal([f]),
                                      "b_dec": random.normal([d]), "threshold": random.uniform([f], 0, 0.3)]
        #expect(throws: Never.self) { try TranscoderSet.load(folder: write(good)) }
        var short = good
        short["threshold"] = random.uniform([f - 1], 0, 0.3)
        #expect { try TranscoderSet.load(folder: write(short)) } throws: { "\($0)".contains("params_layer_0.safetensors") && "\($0)".contains("threshold") }
        var nan = good
        nan["w_dec"]!.scalars[3] = .nan
        #expect { try TranscoderSet.load(folder: write(nan)) } throws: { error in
            guard case .nonFinite(_, let tensor) = error as? TranscoderError else { return false }
            return tensor == "w_dec"
        }
        // A truncated archive is named as the file it is.
        let npz = temporaryPath(".npz")
        let bytes = try Data(contentsOf: Self.fixtures.appendingPathComponent("gs1/layer_0/params.npz"))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: npz))
        #expect { try NumpyArchive(path: npz).tensor("W_enc") } throws: { "\($0)".contains(npz) }
        // Found by fuzzing: a deflated entry whose directory claims more than deflate can expand to
        // sized a many-gigabyte buffer. Now it is refused before anything is allocated.
        let hostile = try Data(contentsOf: Fixtures.url("gemma-scope/hostile-size.npz"))
        try hostile.write(to: URL(fileURLWithPath: npz))
        #expect { try NumpyArchive(path: npz).tensor("W_enc") } throws: { "\($0)".contains("W_enc claims 4160684256 bytes from 172") }
    }
}
