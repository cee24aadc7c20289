import ArgumentParser
import Foundation
import LanguageModels

/// `--model PATH`, shared by every command that runs a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A GGUF file or a Hugging Face folder (config.json, safetensors, tokenizer.json).",
        discussion: "Default: $CIRCUITRY_MODEL, else the SmolLM2-135M-Instruct GGUF placed by `make setup`.",
        valueName: "path"))
    var model: String?

    static let defaultFileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    /// The model path: the option, the environment, or the default file found near the
    /// working directory or the executable.
    func resolvedPath() throws -> String {
        if let model { return model }
        if let fromEnvironment = ProcessInfo.processInfo.environment["CIRCUITRY_MODEL"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(directory)
            directory.deleteLastPathComponent()
        }
        for base in candidates {
            let path = base.appendingPathComponent("models").appendingPathComponent(Self.defaultFileName).path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw CommandError("no model found: pass --model PATH, set CIRCUITRY_MODEL, or run `make setup` to fetch the default model")
    }

    func load() throws -> LoadedModel {
        try LoadedModel.load(path: resolvedPath())
    }
}

/// `--json`, shared by commands with a machine-readable form.
struct JSONOption: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON document on standard output instead of text.")
    var json = false
}

/// A command-line error with its message.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

extension LoadedModel {
    /// Runs `body`, naming this model's file in any model error it throws.
    func running<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as LanguageModelError {
            throw CommandError("\(path): \(error)")
        }
    }
}
