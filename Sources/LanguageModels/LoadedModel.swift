// A model and its tokenizer, loaded from a GGUF file or a Hugging Face folder.

import Foundation
import ModelIO
import Tokenizer

/// A language model ready to run on text.
public struct LoadedModel: @unchecked Sendable {
    public let model: TransformerModel
    public let tokenizer: Tokenizer
    /// The path it was loaded from.
    public let path: String
    /// Metadata worth showing (GGUF key/value pairs, or config.json entries).
    public let metadata: [(key: String, value: String)]
    /// Size in bytes of the weight file(s) on disk.
    public let fileSize: Int

    public var configuration: ModelConfiguration { model.configuration }

    /// Loads a GGUF file, or a folder with config.json, safetensors and tokenizer.json.
    public static func load(path: String) throws -> LoadedModel {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelIOError.cannotOpen(file: path, reason: "no such file or folder")
        }
        if isDirectory.boolValue {
            let model = try TransformerModel(huggingFaceFolder: path)
            let tokenizerPath = (path as NSString).appendingPathComponent("tokenizer.json")
            let tokenizer = try Tokenizer(huggingFaceJSON: tokenizerPath, bosToken: nil, eosToken: nil)
                .withSpecialIds(bos: model.configuration.bosTokenId, eos: model.configuration.eosTokenId)
            let size = (try? FileManager.default.contentsOfDirectory(atPath: path))?.filter { $0.hasSuffix(".safetensors") }
                .compactMap { try? FileManager.default.attributesOfItem(atPath: (path as NSString).appendingPathComponent($0))[.size] as? Int }
                .reduce(0, +) ?? 0
            return LoadedModel(model: model, tokenizer: tokenizer, path: path,
                               metadata: [("format", "Hugging Face folder")], fileSize: size)
        }
        let gguf = try GGUFFile(path: path)
        let model = try TransformerModel(gguf: gguf)
        let tokenizer = try Tokenizer(gguf: gguf)
        let shown = gguf.metadata.keys.filter { !$0.hasPrefix("tokenizer.ggml.") || $0.hasSuffix("_id") || $0.hasSuffix(".model") || $0.hasSuffix(".pre") }
        return LoadedModel(model: model, tokenizer: tokenizer, path: path,
                           metadata: shown.map { ($0, gguf.metadata[$0]!.summary) }, fileSize: gguf.fileSize)
    }

    /// Whether prompts of this model start with its BOS token (by architecture).
    public var startsWithBOS: Bool { model.startsWithBOS }

    /// Token ids for a prompt, with the BOS token first when the model's prompts start with one
    /// and `bos` is not false.
    public func tokenize(_ text: String, bos: Bool = true) throws -> [Int] {
        try tokenizer.encode(text, addBOS: bos && startsWithBOS)
    }
}
