// The other real models against Hugging Face transformers (logits) and llama.cpp (token ids).
// Opt-in, since the models are large downloads kept out of CI:
//   scripts/fetch-model.sh qwen2.5-0.5b && CIRCUITRY_MODELS=qwen2.5-0.5b make test
// References: Tests/Fixtures/<name>-reference.json and <name>-last-logits.f32, made by
// scripts/make-model-reference.py (docs/MODELS.md says how).

import Foundation
import Testing
import TensorCore
import ModelIO
import Tokenizer
import LanguageModels
import TestSupport

enum RealModels {
    static let files = ["qwen2.5-0.5b": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "gemma-3-270m": "gemma-3-270m-q4_k_m.gguf",
                        "smollm2-135m": "SmolLM2-135M-Instruct.Q4_1.gguf"]

    static func requested(_ name: String) -> Bool {
        (ProcessInfo.processInfo.environment["CIRCUITRY_MODELS"] ?? "").split(whereSeparator: { $0 == "," || $0 == " " })
            .contains { $0 == name }
    }

    struct Reference: Decodable {
        struct Record: Decodable { let prompt: String; let token_ids: [Int]; let top20_last: [[Double]]; let nll_of_next_tokens: [Double] }
        struct Text: Decodable { let text: String; let ids: [Int] }
        let vocabulary: Int
        let records: [Record]
        let strings: [Text]
    }

    /// Checks one model: every reference string's ids, every prompt's ids, logits and NLLs.
    static func check(_ name: String) throws {
        let path = Fixtures.packageRoot.appendingPathComponent("models").appendingPathComponent(files[name]!).path
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("\(name) is not in models/: run scripts/fetch-model.sh \(name)")
            return
        }
        let loaded = try LoadedModel.load(path: path)
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Fixtures.url("\(name)-reference.json")))
        // Every last-position logit (4.9 MB for Qwen) is generated, not committed: present after
        // scripts/make-model-reference.py has run; without it the top 20 values and every NLL are checked.
        let blob = try? Data(contentsOf: Fixtures.url("\(name)-last-logits.f32"))
        let v = reference.vocabulary
        #expect(loaded.configuration.vocabularySize == v)
        var wrongStrings = 0
        for s in reference.strings {
            let ids = try loaded.tokenizer.encode(s.text)
            if ids != s.ids { wrongStrings += 1 }
            #expect(ids == s.ids, "\(name): \(s.text.debugDescription) → \(ids), llama.cpp \(s.ids)")
            #expect(try loaded.tokenizer.decode(ids) == s.text, "\(name): \(s.text.debugDescription) does not decode back")
        }
        var worst: Float = 0, worstNLL = 0.0
        for (i, record) in reference.records.enumerated() {
            // The text's ids must be llama.cpp's; whether a BOS goes first is each architecture's
            // declared rule (SmolLM2's traces start with one although its file says add_bos_token false).
            var ids = try loaded.tokenize(record.prompt)
            if let bos = loaded.configuration.bosTokenId, ids.first == bos, record.token_ids.first != bos { ids.removeFirst() }
            #expect(ids == record.token_ids, "\(name): ids of \(record.prompt.debugDescription)")
            let n = record.token_ids.count
            let logits = try loaded.model.forward([record.token_ids], logits: .all).logits
            let last = Array(logits.scalars[((n - 1) * v)..<(n * v)])
            let difference: Float
            if let blob, blob.count == reference.records.count * v * 4 {
                let expected = blob.withUnsafeBytes { raw in (0..<v).map { raw.loadUnaligned(fromByteOffset: (i * v + $0) * 4, as: Float.self) } }
                difference = zip(last, expected).map { abs($0 - $1) }.max()!
            } else {
                difference = record.top20_last.map { abs(last[Int($0[0])] - Float($0[1])) }.max()!
            }
            worst = max(worst, difference)
            #expect(difference <= 2e-3, "\(name) \(record.prompt.debugDescription): largest logit difference \(difference)")
            let top = try Tensor(last).reshaped([1, v]).topK(20).indices
            #expect(top == record.top20_last.map { Int($0[0]) }, "\(name) \(record.prompt.debugDescription): top-20 order")
            let logProbabilities = try logits.reshaped([n, v]).logSoftmax()
            for (p, nllExpected) in record.nll_of_next_tokens.enumerated() {
                let nll = -Double(logProbabilities.scalars[p * v + record.token_ids[p + 1]])
                worstNLL = max(worstNLL, abs(nll - nllExpected))
            }
            #expect(worstNLL <= 1e-3, "\(name) \(record.prompt.debugDescription): NLL difference \(worstNLL)")
        }
        print("\(name): \(reference.strings.count - wrongStrings)/\(reference.strings.count) strings tokenised as llama.cpp does; "
              + "\(reference.records.count) prompts, worst |logit difference| \(worst) over "
            + (blob == nil ? "the top 20" : "all \(v)") + " last-position logits, worst |NLL difference| \(worstNLL)")
    }
}

@Suite struct RealModelReferenceTests {
    @Test(.enabled(if: RealModels.requested("gemma-3-270m"), "set CIRCUITRY_MODELS=gemma-3-270m"))
    func gemma() throws { try RealModels.check("gemma-3-270m") }

    /// The default model is always present (set-up places it), so this runs in every `make test`.
    @Test func smollm2() throws { try RealModels.check("smollm2-135m") }

    @Test(.enabled(if: RealModels.requested("qwen2.5-0.5b"), "set CIRCUITRY_MODELS=qwen2.5-0.5b"))
    func qwen() throws { try RealModels.check("qwen2.5-0.5b") }
}
