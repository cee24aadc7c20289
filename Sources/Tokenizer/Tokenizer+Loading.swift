// Building a tokenizer from a GGUF file's metadata or from a Hugging Face tokenizer.json.

import Foundation
import ModelIO

extension Tokenizer {
    /// From GGUF metadata: `tokenizer.ggml.model` (gpt2), `.pre`, `.tokens`, `.merges`,
    /// `.token_type` (3 = control, 4 = user-defined: both parsed in text), BOS and EOS ids.
    public convenience init(gguf: GGUFFile) throws {
        let meta = gguf.metadata
        let model = try meta.string("tokenizer.ggml.model")
        if model == "llama" {
            try self.init(sentencePieceGGUF: gguf)
            return
        }
        guard model == "gpt2" else { throw TokenizerError.unsupportedModel(source: gguf.path, model: model) }
        let pre = (try? meta.string("tokenizer.ggml.pre")) ?? "gpt2"
        guard let preTokenizer = PreTokenizer(ggufName: pre) else {
            throw TokenizerError.unsupportedPreTokenizer(source: gguf.path, name: pre)
        }
        let tokens = try meta.strings("tokenizer.ggml.tokens")
        let merges = try meta.strings("tokenizer.ggml.merges").map { line -> (String, String) in
            guard let space = line.firstIndex(of: " ") else {
                throw TokenizerError.invalidFile(source: gguf.path, reason: "merge \"\(line)\" has no space")
            }
            return (String(line[..<space]), String(line[line.index(after: space)...]))
        }
        let types = (try? meta.ints("tokenizer.ggml.token_type")) ?? []
        var special = [String: Int]()
        for (id, type) in types.enumerated() where (type == 3 || type == 4) && id < tokens.count {
            special[tokens[id]] = id
        }
        let bos = meta["tokenizer.ggml.bos_token_id"]?.intValue
        let eos = meta["tokenizer.ggml.eos_token_id"]?.intValue
        for id in [bos, eos].compactMap({ $0 }) where id < 0 || id >= tokens.count {
            throw TokenizerError.invalidFile(source: gguf.path, reason: "special token id \(id) is outside the vocabulary")
        }
        try self.init(source: gguf.path, tokens: tokens, merges: merges, preTokenizer: preTokenizer,
                      specialTokens: special, bos: bos, eos: eos)
    }

    /// From a SentencePiece-style GGUF vocabulary: `.tokens`, `.scores`, `.token_type` (1 normal,
    /// 3 control, 4 user-defined — both cut out of text —, 6 byte), `.add_space_prefix`.
    convenience init(sentencePieceGGUF gguf: GGUFFile) throws {
        let meta = gguf.metadata
        let tokens = try meta.strings("tokenizer.ggml.tokens")
        let scores = (meta["tokenizer.ggml.scores"]?.arrayValue ?? []).map { Float($0.doubleValue ?? 0) }
        let types = (try? meta.ints("tokenizer.ggml.token_type")) ?? []
        guard scores.count == tokens.count, types.count == tokens.count else {
            throw TokenizerError.invalidFile(source: gguf.path, reason: "tokenizer.ggml.scores and .token_type must have one entry per token (\(tokens.count))")
        }
        var special = [String: Int]()
        for (id, type) in types.enumerated() where type == 3 || type == 4 { special[tokens[id]] = id }
        let bos = meta["tokenizer.ggml.bos_token_id"]?.intValue
        let eos = meta["tokenizer.ggml.eos_token_id"]?.intValue
        for id in [bos, eos].compactMap({ $0 }) where id < 0 || id >= tokens.count {
            throw TokenizerError.invalidFile(source: gguf.path, reason: "special token id \(id) is outside the vocabulary")
        }
        let spm = SentencePieceModel(tokens: tokens, scores: scores, types: types,
                                     addSpacePrefix: meta["tokenizer.ggml.add_space_prefix"]?.boolValue ?? true)
        try self.init(source: gguf.path, tokens: tokens, merges: [], preTokenizer: .sentencePiece, specialTokens: special,
                      bos: bos, eos: eos, sentencePiece: spm, tokenTypes: types)
    }

    /// From a Hugging Face `tokenizer.json` (BPE model, ByteLevel pre-tokenizer, optionally
    /// preceded by Digits with individual_digits). BOS/EOS come from the added tokens named
    /// `bosToken`/`eosToken` when given.
    public convenience init(huggingFaceJSON path: String, bosToken: String? = nil, eosToken: String? = nil) throws {
        guard let bytes = try? MappedFile.contents(of: path, limit: 256 << 20) else {
            throw TokenizerError.invalidFile(source: path, reason: "cannot read it as a regular file of at most 256 MB")
        }
        let data = Data(bytes)
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let model = root["model"] as? [String: Any] else {
            throw TokenizerError.invalidFile(source: path, reason: "not a tokenizer.json (no model object)")
        }
        let type = model["type"] as? String ?? "?"
        guard type == "BPE", let vocab = model["vocab"] as? [String: Any] else {
            throw TokenizerError.unsupportedModel(source: path, model: type)
        }
        var tokens = [String](repeating: "", count: vocab.count)
        var special = [String: Int]()
        var added = [(String, Int)]()
        /// A token id: a whole number, checked before conversion (5e14 or 1e20 must not size an array).
        func wholeNumber(_ value: Any?) -> Int? {
            guard let n = value as? NSNumber, n.doubleValue.isFinite, n.doubleValue == n.doubleValue.rounded(),
                  (0...Double(1 << 30)).contains(n.doubleValue) else { return nil }
            return n.intValue
        }
        let entries = root["added_tokens"] as? [[String: Any]] ?? []
        // Added tokens follow the vocabulary: their ids may leave gaps, but not more ids than there are tokens.
        let limit = vocab.count + entries.count + 1024
        for entry in entries {
            guard let content = entry["content"] as? String else { continue }
            guard let id = wholeNumber(entry["id"]), id < limit else {
                throw TokenizerError.invalidFile(source: path, reason: "added token \(content.debugDescription) has id \(entry["id"] ?? "nil"), "
                    + "not a whole number below \(limit)")
            }
            added.append((content, id))
        }
        let size = max(vocab.count, (added.map(\.1).max() ?? -1) + 1)
        tokens = [String](repeating: "", count: size)
        for (token, value) in vocab {
            guard let id = wholeNumber(value), id < size else {
                throw TokenizerError.invalidFile(source: path, reason: "vocabulary entry \(token) has a bad id")
            }
            tokens[id] = token
        }
        for (content, id) in added where id >= 0 && id < size {
            tokens[id] = content
            special[content] = id
        }
        let rawMerges = model["merges"] as? [Any] ?? []
        let merges = try rawMerges.map { item -> (String, String) in
            if let pair = item as? [String], pair.count == 2 { return (pair[0], pair[1]) }
            if let line = item as? String, let space = line.firstIndex(of: " ") {
                return (String(line[..<space]), String(line[line.index(after: space)...]))
            }
            throw TokenizerError.invalidFile(source: path, reason: "a merge is neither \"a b\" nor [a, b]")
        }
        let preTokenizer = try PreTokenizer(huggingFace: root["pre_tokenizer"] as? [String: Any], source: path)
        try self.init(source: path, tokens: tokens, merges: merges, preTokenizer: preTokenizer, specialTokens: special,
                      bos: bosToken.flatMap { special[$0] }, eos: eosToken.flatMap { special[$0] })
    }
}

extension PreTokenizer {
    /// Qwen 2's pattern as its tokenizer.json writes it (and as transformers' GGUF conversion does).
    static let qwen2Patterns: Set<String> = [
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
        #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
    ]

    init?(ggufName: String) {
        switch ggufName {
        case "gpt2", "gpt-2", "default": self = .gpt2       // llama.cpp writes gpt-2 for GPT-2 itself
        case "smollm", "starcoder", "refact", "codeshell": self = .smollm
        case "qwen2", "deepseek-r1-qwen": self = .qwen2
        default: return nil
        }
    }

    init(huggingFace config: [String: Any]?, source: String) throws {
        let type = config?["type"] as? String ?? "none"
        if type == "ByteLevel" { self = .gpt2; return }
        if type == "Sequence", let parts = config?["pretokenizers"] as? [[String: Any]] {
            let kinds = parts.map { $0["type"] as? String ?? "?" }
            if kinds == ["Digits", "ByteLevel"], parts[0]["individual_digits"] as? Bool == true {
                self = .smollm
                return
            }
            if kinds == ["ByteLevel"] { self = .gpt2; return }
            if kinds == ["Split", "ByteLevel"], let pattern = (parts[0]["pattern"] as? [String: Any])?["Regex"] as? String,
               PreTokenizer.qwen2Patterns.contains(pattern), parts[1]["use_regex"] as? Bool == false {
                self = .qwen2
                return
            }
            throw TokenizerError.unsupportedPreTokenizer(source: source, name: "Sequence" + kinds.description)
        }
        throw TokenizerError.unsupportedPreTokenizer(source: source, name: type)
    }
}
