import Foundation
import Testing
import ModelIO
import Tokenizer
import TestSupport

@Suite struct HuggingFaceTokenizerTests {
    /// Writes a tokenizer.json in Hugging Face's layout.
    private func write(vocab: [String: Int], merges: [String], added: [(String, Int)], pre: [String: Any]) throws -> String {
        let json: [String: Any] = [
            "model": ["type": "BPE", "vocab": vocab, "merges": merges],
            "added_tokens": added.map { ["id": $0.1, "content": $0.0, "special": true] },
            "pre_tokenizer": pre,
        ]
        let path = NSTemporaryDirectory() + "tokenizer-\(UUID().uuidString).json"
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        return path
    }

    private static var smollmPre: [String: Any] { [
        "type": "Sequence",
        "pretokenizers": [["type": "Digits", "individual_digits": true],
                          ["type": "ByteLevel", "add_prefix_space": false, "use_regex": true]],
    ] }

    @Test func handMadeMergesApplyInRankOrder() throws {
        // Byte alphabet for "a", "b", space (Ġ) plus merged tokens.
        var vocab = ["a": 0, "b": 1, "Ġ": 2, "ab": 3, "Ġa": 4, "Ġab": 5, "bb": 6, "<s>": 7]
        for (i, digit) in "0123456789".enumerated() { vocab[String(digit)] = 8 + i }
        // Ranks: "a b" first, then "Ġ a", then "Ġa b" is impossible after "a b"; "Ġ ab" applies.
        let path = try write(vocab: vocab, merges: ["a b", "Ġ a", "Ġ ab", "b b"], added: [("<s>", 7)], pre: Self.smollmPre)
        let tokenizer = try Tokenizer(huggingFaceJSON: path, bosToken: "<s>")
        #expect(try tokenizer.encode("ab ab") == [3, 5])
        #expect(try tokenizer.encode("abb") == [3, 1])          // "a b" outranks "b b"
        #expect(try tokenizer.encode("bbb") == [6, 1])          // leftmost pair first
        #expect(try tokenizer.encode("a12", addBOS: true) == [7, 0, 9, 10])
        #expect(try tokenizer.encode("<s>a") == [7, 0])
        #expect(throws: TokenizerError.self) { try tokenizer.encode("c") }   // no byte token for "c"
    }

    @Test func unsupportedFilesAreNamed() throws {
        let path = try write(vocab: ["a": 0], merges: [], added: [], pre: ["type": "Metaspace"])
        #expect(throws: TokenizerError.unsupportedPreTokenizer(source: path, name: "Metaspace")) {
            try Tokenizer(huggingFaceJSON: path)
        }
        let bad = try write(vocab: ["a": 0], merges: ["a z"], added: [], pre: ["type": "ByteLevel"])
        #expect(throws: TokenizerError.self) { try Tokenizer(huggingFaceJSON: bad) }
    }

    @Test func theDefaultVocabularyAsTokenizerJSONEncodesLikeTheGGUF() throws {
        let gguf = try GGUFFile(path: Fixtures.requireModel())
        let fromGGUF = try Tokenizer(gguf: gguf)
        let tokens = try gguf.metadata.strings("tokenizer.ggml.tokens")
        let types = try gguf.metadata.ints("tokenizer.ggml.token_type")
        var vocab = [String: Int]()
        for (id, token) in tokens.enumerated() { vocab[token] = id }
        let added = types.enumerated().filter { $0.element == 3 }.map { (tokens[$0.offset], $0.offset) }
        let path = try write(vocab: vocab, merges: try gguf.metadata.strings("tokenizer.ggml.merges"), added: added, pre: Self.smollmPre)
        let fromJSON = try Tokenizer(huggingFaceJSON: path, bosToken: "<|im_start|>")
        for record in try Fixtures.tokenizerRecords() {
            #expect(try fromJSON.encode(record.text) == record.ids)
        }
        #expect(try fromJSON.encode("x", addBOS: true) == fromGGUF.encode("x", addBOS: true))
    }
}
