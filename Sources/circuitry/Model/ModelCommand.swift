import ArgumentParser
import Foundation
import LanguageModels

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Inspect a model.",
        subcommands: [ModelInfo.self])
}

struct ModelInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show a model's architecture, sizes and file metadata.",
        discussion: """
            Examples:
              circuitry model info
              circuitry model info --model path/to/model.gguf --json
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: JSONOption

    struct Report: Encodable {
        var path: String
        var file_bytes: Int
        var parameters: Int
        var configuration: ModelConfiguration
        var metadata: [String: String]
    }

    func run() throws {
        let loaded = try modelOptions.load()
        let c = loaded.configuration
        let perLayer = c.qkvWidth * c.width + c.width * c.heads * c.headDimension + 3 * c.mlpWidth * c.width + 2 * c.width
        let parameters = c.vocabularySize * c.width * (c.tiedEmbeddings ? 1 : 2) + c.layers * perLayer + c.width
        if output.json {
            try Output.json(Report(path: loaded.path, file_bytes: loaded.fileSize, parameters: parameters, configuration: c,
                                   metadata: Dictionary(loaded.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })))
            return
        }
        print("""
            \(loaded.path)
              architecture     \(c.architecture), \(c.layers) layers, width \(c.width), vocabulary \(c.vocabularySize)
              attention        \(c.heads) query heads, \(c.keyValueHeads) key/value heads of size \(c.headDimension)
              MLP              gated SiLU, width \(c.mlpWidth)
              positions        RoPE base \(c.rope.base), \(c.rope.style.rawValue) pairs\(c.rope.llama3Scaling != nil ? ", Llama 3 scaling" : ""), context \(c.contextLength)
              capabilities     attention bias \(c.attentionBias), query/key norm \(c.queryKeyNorm), tied embeddings \(c.tiedEmbeddings)
              parameters       \(parameters.formatted()) (\(String(format: "%.1f", Double(loaded.fileSize) / 1e6)) MB on disk)
              special tokens   BOS \(c.bosTokenId.map(String.init) ?? "none"), EOS \(c.eosTokenId.map(String.init) ?? "none")
            metadata:
            """)
        for (key, value) in loaded.metadata { print("  \(key) = \(value)") }
    }
}
