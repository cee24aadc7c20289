import ArgumentParser
import Foundation
import LanguageModels
import ModelIO
import Tokenizer

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Split text into the model's tokens.",
        discussion: """
            Special tokens written in the text (such as <|im_start|>) become their ids.

            Examples:
              circuitry tokenize "The capital of Texas is"
              circuitry tokenize "The capital of Texas is" --bos --json
            """)

    @Argument(help: "The text to tokenize.")
    var text: String

    @OptionGroup var modelOptions: ModelOptions

    @Flag(name: .long, help: "Prepend the beginning-of-sequence token.")
    var bos = false

    @OptionGroup var output: JSONOption

    struct Report: Encodable {
        var ids: [Int]
        var tokens: [String]
    }

    func run() throws {
        // A GGUF file's vocabulary is read alone (fast, and for models whose architecture is not run).
        let path = try modelOptions.resolvedPath()
        var isDirectory: ObjCBool = false
        let tokenizer: Tokenizer
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            tokenizer = try Tokenizer(gguf: GGUFFile(path: path))
        } else {
            tokenizer = try modelOptions.load().tokenizer
        }
        let ids = try tokenizer.encode(text, addBOS: bos)
        let tokens = try ids.map { try tokenizer.text(of: $0) }
        if output.json {
            try Output.json(Report(ids: ids, tokens: tokens))
            return
        }
        print("\(ids.count) tokens")
        for (id, token) in zip(ids, tokens) { print(String(format: "%7d  ", id) + "\"\(Output.visible(token))\"") }
    }
}
