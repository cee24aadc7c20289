// Every architecture against Hugging Face transformers, on tiny random-weight models whose
// logits transformers computed (Tests/Fixtures/tiny-models, made by scripts/make-tiny-models.py):
// every logit at every position, the top-20 order, every next-token NLL. Then attribution's own
// invariants on each: the frozen pullback runs the same blocks, so its rows must sum to the
// targets and agree with interventions on the real model.

import Foundation
import Testing
import TensorCore
import LanguageModels
import ModelIO
import Attribution
import Transcoders
import TestSupport

enum TinyArchitectures {
    /// `gpt2-gguf` is the GPT-2 fixture as llama.cpp's converter would write it (scripts/make-tiny-gguf.py).
    static let names = ["llama", "llama-tied", "qwen2", "qwen3", "gemma2", "gemma3", "gpt2", "gpt2-gguf"]

    struct Reference: Decodable {
        let token_ids: [Int]
        let logits: [[Float]]
        let nll_of_next_tokens: [Double]
    }

    static func load(_ name: String) throws -> (TransformerModel, Reference) {
        let folder = Fixtures.url("tiny-models/\(name)")
        let gguf = folder.appendingPathComponent("model.gguf").path
        let model = FileManager.default.fileExists(atPath: gguf)
            ? try TransformerModel(gguf: GGUFFile(path: gguf)) : try TransformerModel(huggingFaceFolder: folder.path)
        // The GGUF copy has no reference of its own: its weights are the safetensors copy's.
        let referenceFolder = FileManager.default.fileExists(atPath: gguf) ? Fixtures.url("tiny-models/\(name.replacingOccurrences(of: "-gguf", with: ""))") : folder
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: referenceFolder.appendingPathComponent("reference.json")))
        return (model, reference)
    }
}

@Suite struct ArchitectureFixtureTests {
    @Test(arguments: TinyArchitectures.names)
    func logitsAtEveryPositionMatchTransformers(_ name: String) throws {
        let (model, reference) = try TinyArchitectures.load(name)
        let ids = reference.token_ids, n = ids.count, v = model.configuration.vocabularySize
        let logits = try model.forward([ids], logits: .all).logits.reshaped([n, v])
        var worst: Float = 0
        for p in 0..<n {
            let row = Array(logits.scalars[(p * v)..<((p + 1) * v)])
            worst = max(worst, zip(row, reference.logits[p]).map { abs($0 - $1) }.max()!)
            let ours = try Tensor(row).reshaped([1, v]).topK(20).indices
            let theirs = try Tensor(reference.logits[p]).reshaped([1, v]).topK(20).indices
            #expect(ours == theirs, "\(name) position \(p): top-20 order")
        }
        #expect(worst <= 2e-3, "\(name): largest logit difference \(worst)")
        let logProbabilities = try logits.logSoftmax()
        let worstNLL = reference.nll_of_next_tokens.enumerated().map { p, expected in
            abs(-Double(logProbabilities.scalars[p * v + ids[p + 1]]) - expected)
        }.max()!
        #expect(worstNLL <= 1e-3, "\(name): NLL difference \(worstNLL)")
        print("\(name) (\(model.configuration.architecture)): worst |logit difference| \(worst) over \(n) positions × \(v), worst |NLL difference| \(worstNLL)")
    }

    /// A pass asked only for the last position's logits runs the last layer on that row alone
    /// (every key and value still): it must give the full pass's last row, also for a batch, after
    /// a KV cache, and with a hook on the last layer (which turns the shortcut off).
    @Test(arguments: TinyArchitectures.names)
    func lastPositionLogitsEqualTheFullPasssLastRow(_ name: String) throws {
        let (model, reference) = try TinyArchitectures.load(name)
        let ids = reference.token_ids, n = ids.count, v = model.configuration.vocabularySize
        let all = try model.forward([ids, ids.reversed()], logits: .all).logits.reshaped([2, n, v])
        func worst(_ logits: Tensor, prompt j: Int) -> Float {
            let expected = all.scalars[((j * n + n - 1) * v)..<((j * n + n) * v)]
            return zip(logits.scalars[(j * v)..<((j + 1) * v)], expected).map { abs($0 - $1) }.max()!
        }
        let last = try model.forward([ids, ids.reversed()])
        #expect(last.logits.shape == [2, 1, v])
        #expect(worst(last.logits, prompt: 0) <= 1e-5 && worst(last.logits, prompt: 1) <= 1e-5, "\(name): batch")
        var cache = KVCache(layers: model.configuration.layers)
        _ = try model.forward(Array(ids.prefix(3)), continuing: &cache)
        let continued = try model.forward(Array(ids.dropFirst(3)), continuing: &cache)
        #expect(worst(continued.logits, prompt: 0) <= 1e-4, "\(name): after a KV cache")
        let hooked = try model.forward([ids], hooks: [.mlpOut(layer: model.configuration.layers - 1): { _, _ in }])
        #expect(worst(hooked.logits, prompt: 0) <= 1e-5, "\(name): with a hook")
    }

    @Test func eachArchitectureDeclaresItsCapabilities() throws {
        let (gemma3, _) = try TinyArchitectures.load("gemma3")
        let c = gemma3.configuration
        #expect(c.layerSpans == [.sliding, .global, .sliding] && c.slidingWindow == 4)
        #expect(c.localRope?.base == 100 && c.rope.base == 100_000)
        #expect(c.mlpActivation == .geluTanh && c.embeddingScale == Float(32.0.squareRoot()) && c.queryScale == 0.25)
        #expect(gemma3.hookPoints.contains(.attnPostNormScale(layer: 2)) && gemma3.hookPoints.contains(.mlpPostNormScale(layer: 0)))
        let (gemma2, _) = try TinyArchitectures.load("gemma2")
        #expect(gemma2.configuration.attentionSoftcap == 3 && gemma2.configuration.finalSoftcap == 5)
        #expect(gemma2.configuration.layerSpans == [.sliding, .global, .sliding])
        let (llama, _) = try TinyArchitectures.load("llama")
        #expect(!llama.hookPoints.contains(.attnPostNormScale(layer: 0)) && llama.configuration.layerSpans == nil)
        #expect(try TinyArchitectures.load("qwen2").0.configuration.attentionBias)
        #expect(try TinyArchitectures.load("qwen3").0.configuration.queryKeyNorm)
        #expect(!(try TinyArchitectures.load("qwen2").0.startsWithBOS) && llama.startsWithBOS)
        let (gpt2, _) = try TinyArchitectures.load("gpt2")
        #expect(gpt2.configuration.normKind == .layer && gpt2.configuration.learnedPositions && !gpt2.configuration.gatedMLP)
        #expect(gpt2.configuration.mlpWidth == 128 && gpt2.positionEmbedding?.shape == [64, 32] && gpt2.finalNormBias != nil)
        // The GGUF copy: the same configuration, its unembedding stored again (as llama.cpp writes it).
        let (gpt2File, _) = try TinyArchitectures.load("gpt2-gguf")
        #expect(gpt2File.configuration.normKind == .layer && gpt2File.configuration.learnedPositions && !gpt2File.configuration.gatedMLP)
        #expect(gpt2File.configuration.rmsEpsilon == gpt2.configuration.rmsEpsilon && !gpt2File.configuration.tiedEmbeddings && gpt2File.configuration.attentionBias)
        #expect(gpt2File.unembedding.scalars == gpt2.embedding.scalars && gpt2File.layers[1].qkv.scalars == gpt2.layers[1].qkv.scalars)
    }

    /// The product work `bench model` divides by the machine's sgemm rate, counted by hand for the
    /// tiny Gemma 3 (d 32, 4 query and 2 key/value heads of 16, MLP 64, vocabulary 96; layers 0
    /// and 2 sliding with window 4) on 6 tokens.
    @Test func productFloatOpsCountTheForwardPassesProducts() throws {
        let (gemma3, _) = try TinyArchitectures.load("gemma3")
        // Per layer: qkv 8·16·32 = 4,096 weights, output 32·64 + gate/up 128·32 + down 32·64 = 8,192,
        // on 6 rows; the last layer runs the 8,192 on its last row only.
        let weights = 2 * 6 * 4_096 * 3 + 2 * 6 * 8_192 * 2 + 2 * 1 * 8_192
        // Keys seen per query: 1…6 on the global layer (21), 1, 2, 3, 4, 4, 4 on the first sliding
        // one (18); the last (sliding) layer has one query, which sees 4 keys.
        let attention = 4 * 64 * (18 + 21 + 4)
        let unembedding = 2 * 96 * 32
        #expect(gemma3.productFloatOps(tokens: 6) == Double(weights + attention + unembedding))
        let (llama, _) = try TinyArchitectures.load("llama")
        #expect(llama.productFloatOps(tokens: 8) > llama.productFloatOps(tokens: 4))
    }

    /// Random transcoders at each architecture's default sites, and at the other sites a set may
    /// name: row identity and interventions hold on every architecture.
    @Test(arguments: TinyArchitectures.names)
    func attributionInvariantsHoldOnEveryArchitecture(_ name: String) throws {
        let (model, reference) = try TinyArchitectures.load(name)
        let tokens = reference.token_ids
        for (input, output) in [("mlp.hook_in", "mlp.hook_out"), ("ln2.hook_normalized", "hook_mlp_out"), ("hook_resid_mid", "hook_mlp_out")] {
            var set = try TinyTranscoders.random(for: model, tokens: tokens, features: 48, l0: 6)
            set.inputHook = input
            set.outputHook = output
            let provenance = GraphProvenance(modelPath: name, modelFingerprint: name, transcoderSet: "random", transcoderFingerprint: "random",
                                             prompt: "", tokens: tokens, options: AttributionOptions(), engineVersion: Attribution.engineVersion)
            let graph = try Attribution.attribute(model: model, transcoders: set, tokens: tokens, options: AttributionOptions(), provenance: provenance)
            let identity = try Attribution.rowIdentity(graph: graph, model: model, transcoders: set)
            #expect(identity.worstRelativeError < 1e-4, "\(name) \(input) → \(output): row identity \(identity.worstRelativeError)")
            let check = try Verification.verify(graph: graph, model: model, transcoders: set, samples: 30, seed: 2)
            #expect(check.passed, "\(name) \(input) → \(output): worst ratio \(check.worstRatio)")
            #expect(check.edges.count > 0)
        }
    }

    /// The GPT-2 GGUF without one of the tensors or keys its architecture needs: the message names it.
    @Test func gpt2GGUFWithoutATensorOrKeyIsRefusedByName() throws {
        let file = try GGUFFile(path: Fixtures.url("tiny-models/gpt2-gguf/model.gguf").path)
        func refusal(dropping dropped: String) throws -> String {
            var builder = GGUFBuilder()
            for key in file.metadata.keys where key != dropped { builder.set(key, file.metadata[key]!) }
            for info in file.tensors where info.name != dropped { builder.addF32(info.name, try file.tensor(info.name)) }
            let path = temporaryPath(".gguf")
            try Data(builder.bytes()).write(to: URL(fileURLWithPath: path))
            do { _ = try TransformerModel(gguf: GGUFFile(path: path)); return "loaded" } catch { return "\(error)" }
        }
        #expect(try refusal(dropping: "(nothing)") == "loaded")
        for tensor in ["position_embd.weight", "output_norm.bias", "blk.1.attn_qkv.bias", "blk.2.ffn_down.bias"] {
            let message = try refusal(dropping: tensor)
            #expect(message.contains(tensor), "\(tensor): \(message)")
        }
        let message = try refusal(dropping: "gpt2.attention.layer_norm_epsilon")
        #expect(message.contains("gpt2.attention.layer_norm_epsilon"), "\(message)")
    }

    @Test func unknownModelTypesAndMissingTensorsAreRefusedByName() throws {
        let source = Fixtures.url("tiny-models/gemma3")
        let folder = temporaryPath("-arch")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as! [String: Any]
        try FileManager.default.copyItem(atPath: source.appendingPathComponent("model.safetensors").path, toPath: folder + "/model.safetensors")
        func refusal(_ change: (inout [String: Any]) -> Void) -> String {
            var edited = config
            change(&edited)
            try? JSONSerialization.data(withJSONObject: edited).write(to: URL(fileURLWithPath: folder + "/config.json"))
            do { _ = try TransformerModel(huggingFaceFolder: folder); return "loaded" } catch { return "\(error)" }
        }
        #expect(refusal { _ in } == "loaded")
        #expect(refusal { $0["model_type"] = "mamba" }.contains("config.json model_type: architecture mamba is not supported"))
        #expect(refusal { $0["num_attention_heads"] = 3 }.contains("3 query heads are not a multiple of 2 key/value heads"))
        #expect(refusal { $0["layer_types"] = ["sliding_attention", "chunked_attention", "full_attention"] }.contains("layer_types entry chunked_attention"))
        #expect(refusal { $0["hidden_activation"] = "relu" }.contains("hidden_activation relu is not supported"))
        #expect(refusal { $0["rope_scaling"] = ["rope_type": "yarn", "factor": 4] }.contains("rope_scaling type yarn is not supported"))
        // Gemma 3 with a Qwen 2 model's tensors: the first tensor Gemma 3 needs and Qwen lacks is named, with the folder.
        try FileManager.default.removeItem(atPath: folder + "/model.safetensors")
        try FileManager.default.copyItem(atPath: Fixtures.url("tiny-models/qwen2/model.safetensors").path, toPath: folder + "/model.safetensors")
        let missing = refusal { $0["head_dim"] = 8 }
        #expect(missing.contains("model.layers.0.self_attn.q_norm.weight") && missing.contains(folder), "\(missing)")
    }
}
