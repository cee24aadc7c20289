import ArgumentParser
import Foundation
import LanguageModels
import TensorCore

struct LogitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits",
        abstract: "The model's next-token logits and probabilities after a prompt.",
        discussion: """
            Examples:
              circuitry logits "The capital of Texas is"
              circuitry logits "The capital of Texas is" --top 20 --json
              circuitry logits "2 + 2 =" --full --json > logits.json
            """)

    @Argument(help: "The prompt.")
    var prompt: String

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "How many of the most likely tokens to show.")
    var top = 10

    @Flag(name: .long, help: "With --json, also print every logit of the last position.")
    var full = false

    @Flag(name: .long, help: "Do not prepend the beginning-of-sequence token.")
    var noBos = false

    @OptionGroup var output: JSONOption

    struct Entry: Encodable {
        var id: Int
        var token: String
        var logit: Float
        var prob: Float
    }

    struct Report: Encodable {
        var token_ids: [Int]
        var tokens: [String]
        var top: [Entry]
        var logits: [Float]?
    }

    func validate() throws {
        guard top >= 0 else { throw ValidationError("--top must be 0 or more") }
    }

    func run() throws {
        let loaded = try modelOptions.load()
        let ids = try loaded.tokenize(prompt, bos: !noBos)
        guard !ids.isEmpty else { throw CommandError("the prompt is empty: it has no tokens (and --no-bos was given)") }
        let logits = try loaded.running { try loaded.model.forward([ids]).logits }.reshaped([1, loaded.configuration.vocabularySize])
        let probabilities = try logits.softmax()
        let (_, best) = try logits.topK(min(top, loaded.configuration.vocabularySize))
        let entries = try best.map { id in
            Entry(id: id, token: try loaded.tokenizer.text(of: id), logit: logits.scalars[id], prob: probabilities.scalars[id])
        }
        if output.json {
            try Output.json(Report(token_ids: ids, tokens: try ids.map { try loaded.tokenizer.text(of: $0) },
                                   top: entries, logits: full ? logits.scalars : nil))
            return
        }
        print("\(ids.count) tokens; most likely next tokens:")
        for e in entries {
            print(String(format: "%7d  %9.4f  %6.2f%%  ", e.id, e.logit, e.prob * 100) + "\"\(Output.visible(e.token))\"")
        }
    }
}
