// Byte-level BPE tokenizer: special tokens are cut out of the text first, the rest is split by
// the pre-tokenizer, and each piece's UTF-8 bytes are encoded with BPE. Decoding maps every
// token back to its bytes, so encode-then-decode returns the original text exactly.

import Foundation
import ModelIO

/// A byte-level BPE tokenizer (GPT-2 family, SmolLM2).
public final class Tokenizer: @unchecked Sendable {
    /// Where the vocabulary came from (a file path), for messages.
    public let source: String
    /// Token texts in the vocabulary's byte-level alphabet, by id.
    public let tokens: [String]
    public let preTokenizer: PreTokenizer
    public let bosTokenId: Int?
    public let eosTokenId: Int?
    /// Token texts cut out of input text as single tokens (control and user-defined tokens).
    public let specialTokens: [String: Int]

    private let ids: [String: Int]
    private let merges: [(String, String)]
    private let tokenTypes: [Int]
    private let bpe: BPEModel
    /// Bytes of each token when decoded.
    private let tokenBytes: [[UInt8]]
    private let cache = PieceCache()
    /// Set for SentencePiece-style vocabularies (GGUF `tokenizer.ggml.model = llama`).
    let sentencePiece: SentencePieceModel?

    public var vocabularySize: Int { tokens.count }

    init(source: String, tokens: [String], merges: [(String, String)], preTokenizer: PreTokenizer,
         specialTokens: [String: Int], bos: Int?, eos: Int?, sentencePiece: SentencePieceModel? = nil, tokenTypes: [Int] = []) throws {
        self.sentencePiece = sentencePiece
        self.source = source
        self.tokens = tokens
        self.preTokenizer = preTokenizer
        self.specialTokens = specialTokens
        self.bosTokenId = bos
        self.eosTokenId = eos
        self.merges = merges
        self.tokenTypes = tokenTypes
        var ids = [String: Int](minimumCapacity: tokens.count)
        for (id, token) in tokens.enumerated() where ids[token] == nil { ids[token] = id }
        self.ids = ids
        bpe = try BPEModel(tokens: tokens, ids: ids, merges: merges, source: source)
        let specialIds = Set(specialTokens.values)
        if let spm = sentencePiece {
            // Entries write spaces as "▁"; byte entries stand for their byte; others for their text.
            tokenBytes = tokens.enumerated().map { id, token in
                if id < tokenTypes.count && tokenTypes[id] == 6, let byte = spm.byteTokens.firstIndex(of: Int32(id)) { return [UInt8(byte)] }
                if specialIds.contains(id) || (id < tokenTypes.count && tokenTypes[id] != 1) { return Array(token.utf8) }
                return Array(token.replacingOccurrences(of: "\u{2581}", with: " ").utf8)
            }
        } else {
            tokenBytes = tokens.enumerated().map { id, token in
                specialIds.contains(id) ? Array(token.utf8) : (ByteLevel.decode(token) ?? Array(token.utf8))
            }
        }
    }

    /// Token ids for `text`. Special tokens written in the text (such as `<|im_start|>`) become
    /// their ids when `parseSpecial` is true; `addBOS` prepends the beginning-of-sequence token.
    public func encode(_ text: String, addBOS: Bool = false, parseSpecial: Bool = true) throws -> [Int] {
        var out = [Int]()
        if addBOS, let bos = bosTokenId { out.append(bos) }
        let scalars = Array(text.unicodeScalars)
        if let spm = sentencePiece {
            var afterSpecial = true
            for fragment in fragments(scalars, parseSpecial: parseSpecial) {
                switch fragment {
                case .special(let id):
                    out.append(id)
                    afterSpecial = true
                case .text(let range):
                    var view = String.UnicodeScalarView()
                    view.append(contentsOf: scalars[range])
                    let piece = String(view)
                    let key = (afterSpecial ? "1" : "0") + piece
                    if let cached = cache.get(key) { out.append(contentsOf: cached) } else {
                        let encoded = try spm.encode(piece, afterSpecial: afterSpecial, source: source)
                        cache.set(key, encoded)
                        out.append(contentsOf: encoded)
                    }
                    afterSpecial = false
                }
            }
            return out
        }
        for fragment in fragments(scalars, parseSpecial: parseSpecial) {
            switch fragment {
            case .special(let id):
                out.append(id)
            case .text(let range):
                let part = Array(scalars[range])
                for piece in preTokenizer.split(part) {
                    var string = String.UnicodeScalarView()
                    string.append(contentsOf: part[piece])
                    let key = String(string)
                    if let cached = cache.get(key) {
                        out.append(contentsOf: cached)
                    } else {
                        let encoded = try bpe.encode(Array(key.utf8), source: source)
                        cache.set(key, encoded)
                        out.append(contentsOf: encoded)
                    }
                }
            }
        }
        return out
    }

    /// The text of a token sequence (special tokens as their text).
    public func decode(_ tokenIds: [Int]) throws -> String {
        var bytes = [UInt8]()
        for id in tokenIds {
            guard id >= 0, id < tokens.count else { throw TokenizerError.unknownTokenId(id, vocabularySize: tokens.count) }
            bytes.append(contentsOf: tokenBytes[id])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The bytes one token stands for.
    public func bytes(of id: Int) throws -> [UInt8] {
        guard id >= 0, id < tokens.count else { throw TokenizerError.unknownTokenId(id, vocabularySize: tokens.count) }
        return tokenBytes[id]
    }

    /// One token's text for display (a partial UTF-8 character shows as U+FFFD).
    public func text(of id: Int) throws -> String {
        String(decoding: try bytes(of: id), as: UTF8.self)
    }

    /// The same vocabulary with BOS/EOS ids given by the model's configuration.
    public func withSpecialIds(bos: Int?, eos: Int?) throws -> Tokenizer {
        try Tokenizer(source: source, tokens: tokens, merges: merges, preTokenizer: preTokenizer,
                      specialTokens: specialTokens, bos: bos ?? bosTokenId, eos: eos ?? eosTokenId,
                      sentencePiece: sentencePiece, tokenTypes: tokenTypes)
    }

    /// The id of a token given in the vocabulary's alphabet, if it exists.
    public func id(of token: String) -> Int? { ids[token] }

    private enum Fragment { case text(Range<Int>), special(Int) }

    /// Cuts special tokens out of the text (longest match at each position).
    private func fragments(_ scalars: [Unicode.Scalar], parseSpecial: Bool) -> [Fragment] {
        guard parseSpecial, !specialTokens.isEmpty else { return scalars.isEmpty ? [] : [.text(0..<scalars.count)] }
        let candidates = specialTokens.map { (Array($0.key.unicodeScalars), $0.value) }
            .filter { !$0.0.isEmpty }.sorted { $0.0.count > $1.0.count }
        let firsts = Set(candidates.map { $0.0[0] })
        var result = [Fragment]()
        var start = 0, i = 0
        scan: while i < scalars.count {
            if firsts.contains(scalars[i]) {
                for (pattern, id) in candidates where i + pattern.count <= scalars.count {
                    if scalars[i..<(i + pattern.count)].elementsEqual(pattern) {
                        if start < i { result.append(.text(start..<i)) }
                        result.append(.special(id))
                        i += pattern.count
                        start = i
                        continue scan
                    }
                }
            }
            i += 1
        }
        if start < scalars.count { result.append(.text(start..<scalars.count)) }
        return result
    }
}

/// A bounded cache of encoded pieces, shared across threads.
final class PieceCache: @unchecked Sendable {
    private var storage = [String: [Int]]()
    private let lock = NSLock()
    private let capacity = 100_000

    func get(_ key: String) -> [Int]? {
        lock.lock(); defer { lock.unlock() }
        return storage[key]
    }

    func set(_ key: String, _ value: [Int]) {
        lock.lock(); defer { lock.unlock() }
        if storage.count >= capacity { storage.removeAll(keepingCapacity: true) }
        storage[key] = value
    }
}
