// SentencePiece-style vocabularies as GGUF stores them, on a hand-made vocabulary whose answers
// are worked out by hand; Gemma 3's real vocabulary against llama.cpp is in RealModelReferenceTests.

import Foundation
import Testing
import ModelIO
@testable import Tokenizer
import TestSupport

@Suite struct SentencePieceTests {
    /// tokens (text, score, type): 1 normal, 3 control, 4 user-defined, 6 byte.
    static func tokenizer(_ entries: [(String, Double, Int)], addSpacePrefix: Bool) throws -> Tokenizer {
        var b = GGUFBuilder()
        b.set("general.architecture", .string("test"))
        b.set("tokenizer.ggml.model", .string("llama"))
        b.set("tokenizer.ggml.tokens", .array(entries.map { .string($0.0) }))
        b.set("tokenizer.ggml.scores", .array(entries.map { .float($0.1, bits: 32) }))
        b.set("tokenizer.ggml.token_type", .array(entries.map { .int(Int64($0.2), bits: 32) }))
        b.set("tokenizer.ggml.add_space_prefix", .bool(addSpacePrefix))
        b.set("tokenizer.ggml.bos_token_id", .uint(1, bits: 32))
        return try Tokenizer(gguf: GGUFFile(path: b.write(to: temporaryPath(".gguf"))))
    }

    static let entries: [(String, Double, Int)] = [
        ("<unk>", 0, 2), ("<bos>", 0, 3), ("<turn>", 0, 3),
        ("▁", -1, 1), ("a", -2, 1), ("b", -3, 1), ("c", -4, 1),
        ("ab", -5, 1), ("bc", -0.5, 1), ("▁a", -6, 1), ("▁ab", -7, 1), ("abc", -8, 1),
    ] + (0..<256).map { (String(format: "<0x%02X>", $0), 0, 6) }

    @Test func mergesFollowScoresAndBytesFillTheRest() throws {
        let t = try Self.tokenizer(Self.entries, addSpacePrefix: false)
        // "abc": "bc" (score -0.5) beats "ab" (-5); then "a"+"bc" = "abc" is an entry (-8).
        #expect(try t.encode("abc") == [11])
        // "ab": only "ab" is possible.
        #expect(try t.encode("ab") == [7])
        // " ab" → "▁ab" via "▁a" then "▁a"+"b"; a space alone is "▁".
        #expect(try t.encode(" ab") == [10])
        #expect(try t.encode(" ") == [3])
        // "d" is no entry: its byte; "é" is two bytes.
        #expect(try t.encode("d") == [12 + 0x64])
        #expect(try t.encode("é") == [12 + 0xC3, 12 + 0xA9])
        // Control tokens are cut out of the text; BOS when asked.
        #expect(try t.encode("a<turn>b", addBOS: true) == [1, 4, 2, 5])
        // Decoding writes "▁" as a space and byte entries as their bytes.
        #expect(try t.decode([10, 12 + 0xC3, 12 + 0xA9]) == " abé")
    }

    @Test func aSpacePrefixGoesBeforeTextThatStartsOrFollowsASpecialToken() throws {
        let t = try Self.tokenizer(Self.entries, addSpacePrefix: true)
        #expect(try t.encode("ab") == [10])                 // "▁ab"
        #expect(try t.encode("ab<turn>ab") == [10, 2, 10])
    }

    @Test func scoresAndTypesMustCoverTheVocabulary() throws {
        var b = GGUFBuilder()
        b.set("general.architecture", .string("test"))
        b.set("tokenizer.ggml.model", .string("llama"))
        b.set("tokenizer.ggml.tokens", .array([.string("a"), .string("b")]))
        b.set("tokenizer.ggml.scores", .array([.float(0, bits: 32)]))
        b.set("tokenizer.ggml.token_type", .array([.int(1, bits: 32), .int(1, bits: 32)]))
        let path = try b.write(to: temporaryPath(".gguf"))
        #expect { try Tokenizer(gguf: GGUFFile(path: path)) } throws: { "\($0)".contains("one entry per token") }
    }
}
