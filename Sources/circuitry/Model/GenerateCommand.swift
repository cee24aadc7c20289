import ArgumentParser
import Foundation
import LanguageModels

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt, streaming tokens as they are chosen.",
        discussion: """
            Examples:
              circuitry generate "The capital of Texas is" --max-tokens 8
              circuitry generate "Once upon a time" --temperature 0.8 --seed 3
            """)

    @Argument(help: "The prompt.")
    var prompt: String

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "How many tokens to generate at most.")
    var maxTokens = 32

    @Option(name: .long, help: "0 for greedy decoding; higher samples more freely.")
    var temperature: Float = 0

    @Option(name: .long, help: "Random seed for sampling.")
    var seed: UInt64 = 0

    @Flag(name: .long, help: "Do not prepend the beginning-of-sequence token.")
    var noBos = false

    @OptionGroup var output: JSONOption

    struct Report: Encodable {
        var prompt_ids: [Int]
        var generated_ids: [Int]
        var text: String
        var tokens_per_second: Double
    }

    func validate() throws {
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be at least 1") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be 0 or more") }
    }

    func run() throws {
        let loaded = try modelOptions.load()
        let ids = try loaded.tokenize(prompt, bos: !noBos)
        guard !ids.isEmpty else { throw CommandError("the prompt is empty: it has no tokens (and --no-bos was given)") }
        let options = GenerationOptions(maxTokens: maxTokens, temperature: temperature, seed: seed)
        let start = Date()
        var pending = [Int]()
        if !output.json { FileHandle.standardOutput.write(Data(prompt.utf8)) }
        let generated = try loaded.running { try loaded.model.generate(ids, options: options) { token in
            guard !output.json else { return }
            // Print whole UTF-8 characters only: hold bytes of a character split across tokens.
            pending.append(token)
            let text = try loaded.tokenizer.decode(pending)
            if !text.hasSuffix("\u{FFFD}") {
                FileHandle.standardOutput.write(Data(text.utf8))
                pending.removeAll()
            }
        } }
        let seconds = Date().timeIntervalSince(start)
        if output.json {
            try Output.json(Report(prompt_ids: ids, generated_ids: generated, text: try loaded.tokenizer.decode(generated),
                                   tokens_per_second: Double(generated.count) / seconds))
        } else {
            if !pending.isEmpty { FileHandle.standardOutput.write(Data(try loaded.tokenizer.decode(pending).utf8)) }
            FileHandle.standardOutput.write(Data("\n".utf8))
            Output.note(String(format: "%d tokens in %.2f s (%.1f tokens/s, including the prompt)", generated.count, seconds, Double(generated.count) / seconds))
        }
    }
}
