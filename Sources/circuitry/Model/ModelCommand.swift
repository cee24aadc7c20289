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
        let parameters = loaded.model.parameterCount
        if output.json {
            try Output.json(Report(path: loaded.path, file_bytes: loaded.fileSize, parameters: parameters, configuration: c,
                                   metadata: Dictionary(loaded.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })))
            return
        }
        print("""
            \(loaded.path)
              architecture     \(c.architecture), \(c.layers) layers, width \(c.width), vocabulary \(c.vocabularySize)
              attention        \(c.heads) query heads, \(c.keyValueHeads) key/value heads of size \(c.headDimension)\(attentionExtras(c))
              MLP              \(c.gatedMLP ? "gated " : "")\(c.mlpActivation == .silu ? "SiLU" : "GELU (tanh)"), width \(c.mlpWidth)
              norms            \(c.normKind == .rms ? "RMSNorm" : "LayerNorm"), epsilon \(c.rmsEpsilon), \(loaded.model.layers[0].postAttentionNorm != nil ? "before and after attention and the MLP" : "before attention and the MLP")
              positions        \(positions(c)), context \(c.contextLength)
              capabilities     attention bias \(c.attentionBias), query/key norm \(c.queryKeyNorm), tied embeddings \(c.tiedEmbeddings)\(c.embeddingScale.map { ", embeddings × \(String(format: "%.3g", $0))" } ?? ""), prompts start with BOS \(loaded.startsWithBOS)
              parameters       \(parameters.formatted()) (\(String(format: "%.1f", Double(loaded.fileSize) / 1e6)) MB on disk)
              special tokens   BOS \(c.bosTokenId.map(String.init) ?? "none"), EOS \(c.eosTokenId.map(String.init) ?? "none")
            metadata:
            """)
        for (key, value) in loaded.metadata { print("  \(key) = \(value)") }
    }

    private func attentionExtras(_ c: ModelConfiguration) -> String {
        var parts = [String]()
        if let q = c.queryScale { parts.append("scores × \(String(format: "%.4g", q))") }
        if let cap = c.attentionSoftcap { parts.append("soft-cap \(cap)") }
        if let w = c.slidingWindow, let spans = c.layerSpans {
            parts.append("sliding window \(w) on \(spans.filter { $0 == .sliding }.count) of \(c.layers) layers")
        }
        if let cap = c.finalSoftcap { parts.append("logits soft-capped at \(cap)") }
        return parts.isEmpty ? "" : "; " + parts.joined(separator: ", ")
    }

    private func positions(_ c: ModelConfiguration) -> String {
        if c.learnedPositions { return "learned" }
        var text = "RoPE base \(c.rope.base), \(c.rope.style.rawValue) pairs"
        if c.rope.llama3Scaling != nil { text += ", Llama 3 scaling" }
        if let f = c.rope.linearFactor { text += ", positions scaled by 1/\(f)" }
        if let local = c.localRope { text += " (sliding layers: base \(local.base))" }
        return text
    }
}
