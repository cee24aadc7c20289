// Every capability of the Llama family, on tiny random models, against the naive reference;
// and the GGUF and Hugging Face loaders against each other.

import Foundation
import Testing
import TensorCore
import ModelIO
import LanguageModels
import TestSupport

private func specs() -> [TinyModelSpec] {
    var plain = TinyModelSpec()
    var bias = TinyModelSpec(); bias.attentionBias = true; bias.seed = 2
    var qkNorm = TinyModelSpec(); qkNorm.queryKeyNorm = true; qkNorm.seed = 3
    var scaled = TinyModelSpec(); scaled.llama3Scaling = (8, 1, 4, 16); scaled.seed = 4; scaled.headDimension = 8
    var untied = TinyModelSpec(); untied.tiedEmbeddings = false; untied.heads = 2; untied.keyValueHeads = 2; untied.seed = 5
    plain.seed = 1
    return [plain, bias, qkNorm, scaled, untied]
}

@Suite struct TinyModelTests {
    let tokens = [256, 72, 105, 33, 10, 200, 3, 72, 72, 104]

    @Test(arguments: specs())
    func bothLoadersMatchTheNaiveReference(_ spec: TinyModelSpec) throws {
        let tiny = TinyModel(spec)
        let expected = NaiveLlama(tiny).logits(tokens).flatMap { $0.map(Float.init) }
        let fromHF = try LoadedModel.load(path: tiny.writeHuggingFace())
        let fromGGUF = try LoadedModel.load(path: tiny.writeGGUF())
        #expect(fromHF.configuration.attentionBias == spec.attentionBias)
        #expect(fromGGUF.configuration.queryKeyNorm == spec.queryKeyNorm)
        #expect(fromGGUF.configuration.tiedEmbeddings == spec.tiedEmbeddings)
        let reference = try Tensor(shape: [1, tokens.count, spec.vocabularySize], scalars: expected)
        let hf = try fromHF.model.forward([tokens], logits: .all).logits
        let gguf = try fromGGUF.model.forward([tokens], logits: .all).logits
        assertClose(hf, reference, rtol: 1e-4, atol: 1e-4, "\(spec) Hugging Face")
        assertClose(gguf, reference, rtol: 1e-4, atol: 1e-4, "\(spec) GGUF")
        assertClose(gguf, hf, rtol: 1e-5, atol: 1e-5, "\(spec) GGUF vs Hugging Face")
        // Both tokenizers read the same byte-level vocabulary.
        #expect(try fromHF.tokenize("Hi!") == [256, 72, 105, 33])
        // Qwen's prompts start without BOS (the architecture declares it); Llama's with it.
        #expect(fromGGUF.startsWithBOS == (spec.ggufArchitecture == "llama"))
        #expect(try fromGGUF.tokenize("Hi!") == (fromGGUF.startsWithBOS ? [256] : []) + [72, 105, 33])
    }

    @Test func patchingOneResidualPositionMatchesTheReference() throws {
        let tiny = TinyModel(TinyModelSpec())
        let model = try LoadedModel.load(path: tiny.writeGGUF()).model
        let donor = [256, 10, 20, 30, 40, 50, 60, 70, 80, 90]
        let donorRun = try model.forward([donor], cache: .points([.residPre(layer: 1)]))
        let patched = try model.forward([tokens], hooks: [.residPre(layer: 1): Hooks.patch(from: donorRun.cache, positions: [4])],
                                        logits: .all).logits
        // Independently: the naive model with the donor's resid_pre at (layer 1, position 4).
        let donorResidual = try donorRun.cache[.residPre(layer: 1)]!.reshaped([donor.count, 16])
        let replacement = try donorResidual.row(4).scalars.map(Double.init)
        let expected = NaiveLlama(tiny).logits(tokens) { l, p in l == 1 && p == 4 ? replacement : nil }
        assertClose(patched, try Tensor(shape: patched.shape, scalars: expected.flatMap { $0.map(Float.init) }), rtol: 1e-4, atol: 1e-4)
        // Positions before the patch are untouched (causality).
        let clean = try model.forward([tokens], logits: .all).logits
        #expect(Array(patched.scalars[0..<(4 * 258)]) == Array(clean.scalars[0..<(4 * 258)]))
        #expect(Array(patched.scalars[(4 * 258)...]) != Array(clean.scalars[(4 * 258)...]))
    }

    @Test func batchesMatchSinglePromptsAndKVCacheDecoding() throws {
        let model = try LoadedModel.load(path: TinyModel(TinyModelSpec()).writeGGUF()).model
        let other = tokens.reversed().map { $0 }
        let batch = try model.forward([tokens, other], logits: .all).logits
        let first = try model.forward([tokens], logits: .all).logits
        let second = try model.forward([other], logits: .all).logits
        assertClose(try batch.row(0), try first.row(0), rtol: 1e-5, atol: 1e-5)
        assertClose(try batch.row(1), try second.row(0), rtol: 1e-5, atol: 1e-5)
        // Prefill 6 tokens, then decode the rest one at a time.
        var cache = KVCache(layers: 2)
        var decoded = [Tensor]()
        decoded.append(try model.forward(Array(tokens[0..<6]), continuing: &cache, logits: .all).logits.reshaped([6, 258]))
        for t in tokens[6...] { decoded.append(try model.forward([t], continuing: &cache).logits.reshaped([1, 258])) }
        #expect(cache.length == tokens.count)
        assertClose(try Tensor.concatenate(decoded, axis: 0), try first.reshaped([tokens.count, 258]), rtol: 1e-4, atol: 1e-4)
    }

    @Test func badInputsAreTypedErrors() throws {
        let model = try LoadedModel.load(path: TinyModel(TinyModelSpec()).writeGGUF()).model
        #expect(throws: LanguageModelError.emptyPrompt) { try model.forward([[]]) }
        #expect(throws: LanguageModelError.promptTooLong(tokens: 65, context: 64)) { try model.forward([[Int](repeating: 1, count: 65)]) }
        #expect(throws: LanguageModelError.tokenOutOfRange(id: 258, vocabularySize: 258)) { try model.forward([[258]]) }
        #expect(throws: LanguageModelError.unequalBatch(lengths: [2, 1])) { try model.forward([[1, 2], [1]]) }
        let shrink: Hook = { _, value in value = try value.slice(axis: 1, 0..<1) }
        #expect(throws: LanguageModelError.hookShape(hook: "blocks.0.hook_attn_out", expected: [1, 3, 16], found: [1, 1, 16])) {
            try model.forward([[1, 2, 3]], hooks: [.attnOut(layer: 0): shrink])
        }
    }

    /// A sharded Hugging Face folder loads as one model (and lists every shard for its
    /// fingerprint); a missing shard, an unknown model_type and a broken index are named.
    @Test func shardedFoldersAndUnknownModelTypes() throws {
        let tiny = TinyModel(TinyModelSpec())
        let folder = try tiny.writeHuggingFace()
        let whole = try LoadedModel.load(path: folder).model.forward([tokens], logits: .all).logits
        try FileManager.default.removeItem(atPath: folder + "/model.safetensors")
        let names = tiny.weights.keys.sorted()
        let halves = [Array(names.prefix(names.count / 2)), Array(names.dropFirst(names.count / 2))]
        var map = [String: String]()
        for (i, half) in halves.enumerated() {
            let file = "model-0000\(i + 1)-of-00002.safetensors"
            try SafetensorsFile.write(Dictionary(uniqueKeysWithValues: half.map { ($0, tiny.weights[$0]!) }), to: folder + "/" + file)
            for name in half { map[name] = file }
        }
        let index = folder + "/model.safetensors.index.json"
        try JSONSerialization.data(withJSONObject: ["metadata": [String: Any](), "weight_map": map]).write(to: URL(fileURLWithPath: index))
        let sharded = try LoadedModel.load(path: folder).model.forward([tokens], logits: .all).logits
        #expect(sharded.scalars == whole.scalars)
        #expect(try TransformerModel.weightFiles(huggingFaceFolder: folder).map { ($0 as NSString).lastPathComponent }
                == ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
        func expectError(_ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                _ = try LoadedModel.load(path: folder)
                Issue.record("loaded", sourceLocation: sourceLocation)
            } catch { #expect("\(error)".contains(message), "\(error)", sourceLocation: sourceLocation) }
        }
        try FileManager.default.moveItem(atPath: folder + "/model-00002-of-00002.safetensors", toPath: folder + "/moved")
        expectError("model-00002-of-00002.safetensors: cannot open: a shard that model.safetensors.index.json lists is missing")
        try "{\"weight_map\": 3}".write(toFile: index, atomically: true, encoding: .utf8)
        expectError("not a shard index")
        let configPath = folder + "/config.json"
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as? [String: Any])
        config["model_type"] = "mamba"
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        expectError("architecture mamba is not supported")
    }

    /// config.json values that are not whole numbers of a sane size are named, not wrapped around.
    @Test(arguments: [("hidden_size", "1e20", "hidden_size is 1e+20"), ("num_hidden_layers", "2.5", "num_hidden_layers is 2.5"),
                      ("vocab_size", "\"many\"", "vocab_size is many")])
    func configNumbersAreChecked(_ key: String, _ literal: String, _ message: String) throws {
        let value = try JSONSerialization.jsonObject(with: Data(literal.utf8), options: .fragmentsAllowed)
        let folder = try TinyModel(TinyModelSpec()).writeHuggingFace()
        let path = folder + "/config.json"
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        config[key] = value
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
        do {
            _ = try LoadedModel.load(path: folder)
            Issue.record("loaded a config with \(key) = \(value)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }
}

@Suite struct GenerationTests {
    @Test func greedyGenerationFollowsTheFullForwardArgmax() throws {
        let model = try LoadedModel.load(path: TinyModel(TinyModelSpec()).writeGGUF()).model
        let prompt = [256, 72, 105]
        let generated = try model.generate(prompt, options: GenerationOptions(maxTokens: 8, stopAtEOS: false))
        #expect(generated.count == 8)
        // Each token is the argmax of a full (uncached) forward over everything before it.
        var context = prompt
        for token in generated {
            let logits = try model.forward([context]).logits
            #expect(try logits.reshaped([1, 258]).argmaxLastAxis()[0] == token)
            context.append(token)
        }
    }

    @Test func samplingIsReproducibleForASeed() throws {
        let model = try LoadedModel.load(path: TinyModel(TinyModelSpec()).writeGGUF()).model
        let options = GenerationOptions(maxTokens: 12, temperature: 1.0, seed: 9, stopAtEOS: false)
        let a = try model.generate([256, 1], options: options)
        let b = try model.generate([256, 1], options: options)
        #expect(a == b)
        var other = options
        other.seed = 10
        #expect(try model.generate([256, 1], options: other) != a)
        #expect(throws: LanguageModelError.promptTooLong(tokens: 70, context: 64)) {
            try model.generate([Int](repeating: 1, count: 60), options: GenerationOptions(maxTokens: 10))
        }
    }
}
