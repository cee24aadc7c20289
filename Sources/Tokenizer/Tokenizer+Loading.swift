// Building a tokenizer from a GGUF file's metadata or from a Hugging Face tokenizer.json.

import Foundation
import ModelIO

extension Tokenizer {
    /// From GGUF metadata: `tokenizer.ggml.model` (gpt2), `.pre`, `.tokens`, `.merges`,
    /// `.token_type` (3 = control, 4 = user-defined: both parsed in text), BOS and EOS ids.
    public convenience init(gguf: GGUFFile) throws {
        let meta = gguf.metadata
        let model = try meta.string("tokenizer.ggml.model")
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
        for entry in root["added_tokens"] as? [[String: Any]] ?? [] {
            if let content = entry["content"] as? String, let id = (entry["id"] as? NSNumber)?.intValue {
                added.append((content, id))
            }
        }
        let size = max(vocab.count, (added.map(\.1).max() ?? -1) + 1)
        tokens = [String](repeating: "", count: size)
        for (token, value) in vocab {
            guard let id = (value as? NSNumber)?.intValue, id >= 0, id < size else {
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
    init?(ggufName: String) {
        switch ggufName {
        case "gpt2", "default": self = .gpt2
        case "smollm", "starcoder", "refact", "codeshell": self = .smollm
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
            throw TokenizerError.unsupportedPreTokenizer(source: source, name: "Sequence" + kinds.description)
        }
        throw TokenizerError.unsupportedPreTokenizer(source: source, name: type)
    }
}
