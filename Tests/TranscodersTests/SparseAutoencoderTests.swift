// Sparse autoencoders: training on a hook point (BatchTopK and the L1 recipe) lowers the FVU and
// evaluates; SAELens files round-trip with identical encodings for every architecture; SAELens's
// encoding rules (b_dec subtracted first, ReLU before a JumpReLU threshold, TopK of positives);
// and the bad input the loader must refuse, each naming the problem.

import Foundation
import Testing
import TensorCore
import LanguageModels
@testable import Transcoders
import TestSupport

@Suite struct SparseAutoencoderTests {
    static func randomSAE(_ activation: TranscoderActivation, width d: Int = 16, features f: Int = 24, subtract: Bool = false,
                          hook: String = "blocks.1.hook_resid_post", seed: UInt64 = 3) throws -> SparseAutoencoder {
        var random = TestRandom(seed: seed)
        let t = try Transcoder(layer: 1, encoder: random.normal([f, d], std: 0.5), encoderBias: random.normal([f], std: 0.3),
                               decoder: random.normal([f, d], std: 0.5), decoderBias: random.normal([d], std: 0.3), activation: activation)
        return try SparseAutoencoder(hookName: hook, dictionary: t, subtractsDecoderBias: subtract, modelName: "tiny")
    }

    static func folder() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sae-\(UUID().uuidString)").path
        return path
    }

    @Test(arguments: ["relu", "topk", "jumprelu"])
    func saeLensFilesRoundTrip(_ kind: String) throws {
        var random = TestRandom(seed: 9)
        let activation: TranscoderActivation = kind == "relu" ? .relu : kind == "topk" ? .topK(k: 5)
            : .jumpReLU(threshold: random.normal([24], std: 0.3))
        let sae = try Self.randomSAE(activation, subtract: kind == "relu")
        let path = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try sae.save(to: path)
        let loaded = try SparseAutoencoder.load(path: path)
        #expect(loaded.architecture == sae.architecture && loaded.hookName == sae.hookName && loaded.subtractsDecoderBias == sae.subtractsDecoderBias)
        let x = random.normal([7, 16], std: 1)
        #expect(try loaded.encodeDense(x).scalars == sae.encodeDense(x).scalars)
        #expect(try loaded.reconstruct(x).scalars == sae.reconstruct(x).scalars)
        let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path + "/cfg.json"))) as! [String: Any]
        #expect(cfg["d_in"] as? Int == 16 && cfg["d_sae"] as? Int == 24 && (cfg["metadata"] as? [String: Any])?["hook_name"] as? String == sae.hookName)
    }

    /// Gemma Scope's residual SAEs share the params.npz layout of its transcoders (W_enc [d, f],
    /// W_dec, b_enc, b_dec, threshold): the fixture of GemmaScopeFileTests, read as an SAE.
    @Test(arguments: ["params.npz", "params-compressed.npz"])
    func gemmaScopeParamsNpzReadsExactly(_ name: String) throws {
        let path = GemmaScopeFileTests.fixtures.appendingPathComponent("gs1/layer_1/\(name)").path
        let e = GemmaScopeFileTests.expected, layer = e.layers["1"]!
        let sae = try SparseAutoencoder.load(path: path)
        #expect(sae.hookName == "blocks.1.hook_resid_post" && sae.architecture == "jumprelu" && !sae.subtractsDecoderBias)
        #expect(sae.width == e.d && sae.features == e.f)
        let decoder = try sae.dictionary.decoder
        #expect(sae.dictionary.encoder.scalars == layer.W_enc && decoder.scalars == layer.W_dec)
        #expect(sae.dictionary.encoderBias.scalars == layer.b_enc && sae.dictionary.decoderBias.scalars == layer.b_dec)
        guard case .jumpReLU(let threshold) = sae.activation else { Issue.record("Gemma Scope SAEs are JumpReLU"); return }
        #expect(threshold.scalars == layer.threshold)
        #expect(try SparseAutoencoder.load(path: path, hookName: "blocks.1.hook_resid_mid").hookName == "blocks.1.hook_resid_mid")
        // Without layer_L in the path, the hook must be given.
        let loose = FileManager.default.temporaryDirectory.appendingPathComponent("sae-\(UUID().uuidString).npz").path
        defer { try? FileManager.default.removeItem(atPath: loose) }
        try FileManager.default.copyItem(atPath: path, toPath: loose)
        #expect { try SparseAutoencoder.load(path: loose) } throws: { "\($0)".contains("give --hook") }
    }

    @Test func encodingFollowsSAELensRules() throws {
        // JumpReLU with a negative threshold: z in (θ, 0] stays inactive (ReLU first).
        let threshold = try Tensor(repeating: -10, shape: [24])
        let sae = try Self.randomSAE(.jumpReLU(threshold: threshold))
        var random = TestRandom(seed: 2)
        let x = random.normal([5, 16], std: 1)
        let z = try sae.preactivations(x), a = try sae.encodeDense(x)
        for i in 0..<z.count { #expect(a.scalars[i] == max(z.scalars[i], 0)) }
        // Subtracting b_dec: z = W_enc (x − b_dec) + b_enc.
        let shifted = try Self.randomSAE(.relu, subtract: true), plain = try Self.randomSAE(.relu)
        var moved = x
        try moved.addRowVector(shifted.dictionary.decoderBias.scaled(by: -1))
        #expect(try shifted.encodeDense(x).scalars == plain.encodeDense(moved).scalars)
        // TopK keeps at most k positive values per row.
        let topk = try Self.randomSAE(.topK(k: 3)).encode(x)
        for r in 0..<topk.rows { #expect(topk.rowStarts[r + 1] - topk.rowStarts[r] <= 3) }
        #expect(topk.values.allSatisfy { $0 > 0 })
    }

    @Test func featurePagesScanTheSAEAsItEncodes() throws {
        // The scan's dictionary folds b_dec into b_enc and raises thresholds to 0: the same codes.
        var random = TestRandom(seed: 12)
        let sae = try Self.randomSAE(.jumpReLU(threshold: random.normal([24], std: 0.4)), subtract: true)
        let x = random.normal([9, 16], std: 1)
        let scanned = try sae.scanDictionary().encode(x), direct = try sae.encode(x)
        #expect(scanned.features == direct.features && scanned.rowStarts == direct.rowStarts)
        for (a, b) in zip(scanned.values, direct.values) { #expect(abs(a - b) < 1e-5) }
        // A scan of an SAE on the tiny model files its pages under the hook's layer.
        let model = try TransformerModel(huggingFaceFolder: Fixtures.url("tiny-models/llama").path)
        let tiny = try Self.randomSAE(.relu, width: model.configuration.width, hook: "blocks.1.hook_resid_post")
        var options = FeatureScanOptions()
        options.sequencesPerBatch = 4
        options.checkpointSeconds = 0
        let scan = try FeatureScan(model: model, sae: tiny, corpus: ArchitectureTrainingTests.corpus(vocabulary: model.configuration.vocabularySize),
                                   options: options, setFingerprint: "tiny-sae")
        try scan.run()
        let evidence = try scan.evidence(layer: 0)
        #expect(evidence.count == 24 && evidence.allSatisfy { $0.layer == 1 })
        #expect(evidence.contains { $0.firings > 0 })
    }

    @Test func badFilesAreRefusedNamingTheProblem() throws {
        let sae = try Self.randomSAE(.relu)
        let path = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try sae.save(to: path)
        let cfgPath = path + "/cfg.json"
        let good = try Data(contentsOf: URL(fileURLWithPath: cfgPath))
        func refused(_ mutate: (inout [String: Any]) -> Void, _ mention: String) throws {
            var cfg = try JSONSerialization.jsonObject(with: good) as! [String: Any]
            mutate(&cfg)
            try JSONSerialization.data(withJSONObject: cfg).write(to: URL(fileURLWithPath: cfgPath))
            #expect { try SparseAutoencoder.load(path: path) } throws: { "\($0)".contains(mention) }
        }
        try refused({ $0["d_in"] = 17 }, "W_enc")
        try refused({ $0["d_sae"] = "many" }, "d_sae")
        try refused({ $0["architecture"] = "gated" }, "gated")
        try refused({ $0["normalize_activations"] = "layer_norm" }, "normalize_activations")
        try refused({ $0["metadata"] = [String: Any](); $0["hook_name"] = nil }, "hook_name")
        try "{ not json".write(toFile: cfgPath, atomically: true, encoding: .utf8)
        #expect { try SparseAutoencoder.load(path: path) } throws: { "\($0)".contains("not a JSON object") }
        #expect { try SparseAutoencoder.load(path: path + "/missing") } throws: { "\($0)".contains("no such SAE") }
    }

    @Test func dInMustMatchTheHook() throws {
        let model = try TransformerModel(huggingFaceFolder: Fixtures.url("tiny-models/llama").path)
        let wrong = try Self.randomSAE(.relu, width: model.configuration.width + 1)
        #expect { _ = try wrong.validate(for: model) } throws: { "\($0)".contains("d_in") }
        let unknown = try Self.randomSAE(.relu, width: model.configuration.width, hook: "blocks.1.hook_nothing")
        #expect { _ = try unknown.validate(for: model) } throws: { "\($0)".contains("not a hook point") }
        let outside = try Self.randomSAE(.relu, width: model.configuration.width, hook: "blocks.99.hook_resid_post")
        #expect { _ = try outside.validate(for: model) } throws: { "\($0)".contains("outside the model") }
    }

    @Test(arguments: ["batchtopk", "l1", "jumprelu"])
    func trainingOnAHookPointLowersTheFVU(_ method: String) throws {
        let model = try TransformerModel(huggingFaceFolder: Fixtures.url("tiny-models/llama").path)
        let corpus = ArchitectureTrainingTests.corpus(vocabulary: model.configuration.vocabularySize)
        var o = TrainingOptions()
        o.saeHook = "blocks.1.hook_resid_mid"
        o.sparsity = method
        o.l1Coefficient = 1e-3
        o.features = 48
        o.k = 4
        o.tokens = 3000
        o.sequencesPerBatch = 8
        o.batchRows = 100
        o.learningRate = 5e-3
        o.warmupSteps = 2
        o.deadAfterTokens = 800
        o.checkpointSeconds = 0
        o.skip = false
        let trainer = try TranscoderTrainer(model: model, corpus: corpus, options: o, checkpointFolder: nil)
        var fvus = [Double]()
        try trainer.run { fvus.append($0.meanFVU) }
        #expect(fvus.last! < fvus.first! * 0.9, "\(method): training FVU \(fvus.first!) → \(fvus.last!)")
        let sae = try trainer.sparseAutoencoder(modelName: "tiny")
        #expect(sae.architecture == (method == "l1" ? "standard" : "jumprelu"))
        if method == "jumprelu", case .jumpReLU(let threshold) = sae.activation {
            // Learned per feature: no longer all at the starting 0.2.
            #expect(threshold.scalars.contains { abs($0 - 0.2) > 1e-3 } && Set(threshold.scalars).count > 1)
        }
        if method == "l1" {
            // The decoder-norm constraint: unit rows in the normalised space, one common scale raw.
            let w = try sae.dictionary.decoder, d = sae.width
            let norms = (0..<sae.features).map { i in (0..<d).reduce(Float(0)) { $0 + w.scalars[i * d + $1] * w.scalars[i * d + $1] }.squareRoot() }
            #expect(norms.max()! - norms.min()! < 1e-3 * norms.max()!)
        }
        let quality = try SAEEvaluation.evaluate(sae, model: model, corpus: corpus, sequences: 8, batch: 4)
        #expect(quality.fvu < 1 && quality.fvu.isFinite && quality.splicedLoss.isFinite && quality.meanL0 > 0, "\(quality)")
        #expect(quality.zeroAblatedLoss.isFinite)
    }

    @Test(arguments: ["batchtopk", "l1", "jumprelu"])
    func resumingAnSAEMatchesAnUninterruptedRun(_ method: String) throws {
        let model = try TransformerModel(huggingFaceFolder: Fixtures.url("tiny-models/llama").path)
        let corpus = ArchitectureTrainingTests.corpus(vocabulary: model.configuration.vocabularySize)
        var o = TrainingOptions()
        o.saeHook = "blocks.0.hook_resid_post"
        o.sparsity = method
        o.features = 32
        o.k = 4
        o.tokens = 2400
        o.sequencesPerBatch = 8
        o.batchRows = 100
        o.warmupSteps = 2
        o.checkpointSeconds = 0
        o.skip = false
        let uninterrupted = try TranscoderTrainer(model: model, corpus: corpus, options: o, checkpointFolder: nil)
        try uninterrupted.run()
        let checkpoint = temporaryPath("-sae-ckpt")
        defer { try? FileManager.default.removeItem(atPath: checkpoint) }
        let interrupted = try TranscoderTrainer(model: model, corpus: corpus, options: o, checkpointFolder: checkpoint)
        interrupted.stopAfterTokens = 1000
        try interrupted.run()
        try interrupted.saveCheckpoint(to: checkpoint)
        let resumed = try TranscoderTrainer.resume(from: checkpoint, model: model, corpus: corpus)
        #expect(resumed.options.saeHook == o.saeHook && resumed.options.sparsity == method)
        try resumed.run()
        let a = try uninterrupted.sparseAutoencoder(modelName: "tiny"), b = try resumed.sparseAutoencoder(modelName: "tiny")
        let (decoderA, decoderB) = (try a.dictionary.decoder, try b.dictionary.decoder)
        #expect(a.dictionary.encoder == b.dictionary.encoder && decoderA == decoderB)
        #expect(a.activation == b.activation)
    }

    @Test func anSAEOptionsRefuseTranscoderOnlySettings() throws {
        var o = TrainingOptions()
        o.saeHook = "blocks.0.hook_resid_post"
        o.crossLayer = true
        #expect { try o.validate() } throws: { "\($0)".contains("cross-layer") }
        var l1 = TrainingOptions()
        l1.sparsity = "l1"
        #expect { try l1.validate() } throws: { "\($0)".contains("l1 recipe is for SAEs") }
        var bad = TrainingOptions()
        bad.sparsity = "magic"
        #expect { try bad.validate() } throws: { "\($0)".contains("magic") }
    }
}
