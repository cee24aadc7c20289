import ArgumentParser
import Foundation
import Transcoders

struct EvaluateTranscoders: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure a transcoder set on held-out text: FVU, L0, dead features, spliced loss.",
        discussion: """
            Examples:
              circuitry transcoders eval
              circuitry transcoders eval --transcoders models/transcoders/smollm2-long \\
                  --json
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var transcoderOptions: TranscoderOptions
    @OptionGroup var corpusOptions: CorpusOptions

    @Option(name: .long, help: "Held-out sequences (of 127 tokens) to evaluate on.")
    var sequences = 64

    @OptionGroup var output: JSONOption

    func run() throws {
        let loaded = try modelOptions.load()
        let set = try transcoderOptions.load(for: loaded.configuration)
        let corpus = try corpusOptions.load(tokenizer: loaded, seed: 0)
        let bar = output.json ? nil : ProgressBar("evaluate", total: sequences)
        let quality = try TranscoderEvaluation.evaluate(set: set, model: loaded.model, corpus: corpus, sequences: sequences) { done, _ in
            bar?.update(done)
        }
        bar?.finish()
        if output.json {
            try Output.json(EvaluationReport(transcoders: transcoderOptions.resolvedPath(), median_fvu: quality.medianFVU,
                                             worst_fvu: quality.worstFVU, mean_l0: quality.meanL0,
                                             dead_fraction: quality.meanDeadFraction, original_loss: quality.originalLoss,
                                             spliced_loss: quality.splicedLoss, spliced_loss_increase: quality.splicedLossIncrease,
                                             tokens: quality.tokens, layers: quality.layers))
        } else {
            print(quality.summary)
        }
    }

    struct EvaluationReport: Encodable {
        var transcoders: String
        var median_fvu, worst_fvu, mean_l0, dead_fraction, original_loss, spliced_loss, spliced_loss_increase: Double
        var tokens: Int
        var layers: [LayerQuality]
    }
}

struct TranscodersInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a transcoder set: shapes, activation, and what was recorded when it was made.",
        discussion: """
            Example:
              circuitry transcoders info --transcoders models/transcoders/smollm2-default
            """)

    @OptionGroup var transcoderOptions: TranscoderOptions

    func run() throws {
        let path = transcoderOptions.resolvedPath()
        let set = try TranscoderSet.load(folder: path)
        print("""
            \(path)
              model          \(set.modelName)
              kind           \(set.kind)\(set.isCrossLayer ? " (layer l's features write to layers l…\(set.layers - 1))" : "")
              layers         \(set.layers), \(set.features) features each, width \(set.modelWidth)
              activation     \(try set[0].activation.name)\(set.hasSkip ? ", with skip connections" : "")
              hooks          \(set.inputHook) → \(set.outputHook)
            """)
        for (key, value) in set.notes.sorted(by: { $0.key < $1.key }) { print("  \(key) = \(value)") }
    }
}
