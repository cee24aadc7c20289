import Foundation
import Testing
import ModelIO
import Tokenizer
import TestSupport

/// The default model's tokenizer, loaded once.
let defaultTokenizer: Result<Tokenizer, Error> = Result {
    try Tokenizer(gguf: GGUFFile(path: Fixtures.requireModel()))
}

@Suite struct ReferenceTokenizationTests {
    @Test func everyReferenceStringEncodesAndDecodesExactly() throws {
        let tokenizer = try defaultTokenizer.get()
        let records = try Fixtures.tokenizerRecords()
        #expect(records.count == 20)
        for record in records {
            let ids = try tokenizer.encode(record.text)
            #expect(ids == record.ids, "\(record.text.debugDescription)")
            #expect(try tokenizer.decode(ids) == record.text)
        }
    }

    @Test func bosAndSpecialTokens() throws {
        let tokenizer = try defaultTokenizer.get()
        #expect(tokenizer.bosTokenId == 1 && tokenizer.eosTokenId == 2)
        #expect(try tokenizer.encode("Hi", addBOS: true).first == 1)
        // Not parsing special tokens encodes their text as ordinary characters.
        let literal = try tokenizer.encode("<|im_end|>", parseSpecial: false)
        #expect(literal != [2] && literal.count > 1)
        #expect(try tokenizer.decode(literal) == "<|im_end|>")
        #expect(throws: TokenizerError.unknownTokenId(49_152, vocabularySize: 49_152)) { try tokenizer.decode([49_152]) }
    }

    @Test func referencePromptsTokenizeLikeTheLogitReference() throws {
        let tokenizer = try defaultTokenizer.get()
        for record in try Fixtures.logitRecords() {
            #expect(try tokenizer.encode(record.prompt, addBOS: true) == record.token_ids)
            #expect(try record.token_ids.map { try tokenizer.text(of: $0) } == record.tokens)
        }
    }
}
