import Foundation
import Testing
import ModelIO
@testable import Tokenizer
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

    /// Found by fuzzing: an added token's id sized the token table (5e14 asked for 8 PB).
    @Test(arguments: ["5e14", "500000000000000", "2.5", "-1", "\"7\""])
    func addedTokenIdsMustBeSmallWholeNumbers(_ id: String) throws {
        let json = #"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []}, "added_tokens": [{"id": "# + id
            + #", "content": "<s>", "special": true}], "pre_tokenizer": {"type": "ByteLevel"}}"#
        let path = NSTemporaryDirectory() + "tokenizer-\(UUID().uuidString).json"
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try Tokenizer(huggingFaceJSON: path) } throws: { error in
            "\(error)".contains("added token \"<s>\" has id")
        }
    }

    /// Qwen 2's pattern, by hand: letters take one leading non-letter, numbers go one by one,
    /// punctuation keeps its line breaks, whitespace ends at its last line break.
    @Test func qwen2PiecesFollowItsPattern() throws {
        for (text, expected) in [
            ("Hello  world", ["Hello", " ", " world"]), ("IT'S it's", ["IT", "'S", " it", "'s"]), ("x123", ["x", "1", "2", "3"]),
            ("!abc", ["!abc"]), ("\tab", ["\tab"]), (" !!\n\nx", [" !!\n\n", "x"]), ("a  \n  \n  b", ["a", "  \n  \n", " ", " b"]),
            ("end   ", ["end", "   "]), ("\n Hi", ["\n", " Hi"]),
        ] {
            let scalars = Array(text.unicodeScalars)
            let pieces = PreTokenizer.qwen2.split(scalars).map { range in
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars[range])
                return String(view)
            }
            #expect(pieces == expected, "\(text.debugDescription)")
        }
        // Qwen's tokenizer.json names the pattern in a Split before a regex-free ByteLevel.
        let json: [String: Any] = [
            "model": ["type": "BPE", "vocab": ["a": 0], "merges": [String]()],
            "pre_tokenizer": ["type": "Sequence", "pretokenizers": [
                ["type": "Split", "pattern": ["Regex": PreTokenizer.qwen2Patterns.sorted().first!], "behavior": "Isolated", "invert": false],
                ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false]]],
        ]
        let path = NSTemporaryDirectory() + "tokenizer-\(UUID().uuidString).json"
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        #expect(try Tokenizer(huggingFaceJSON: path).preTokenizer == .qwen2)
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
