// Paths to the test fixtures and the default model, and the reference records.

import Foundation

public enum Fixtures {
    /// The package root (three levels above this file).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A file under Tests/Fixtures.
    public static func url(_ name: String) -> URL {
        packageRoot.appendingPathComponent("Tests/Fixtures").appendingPathComponent(name)
    }

    /// The default model placed by `make setup` (or `CIRCUITRY_MODEL`).
    public static var modelPath: String {
        ProcessInfo.processInfo.environment["CIRCUITRY_MODEL"]
            ?? packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    }

    public struct MissingModel: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "the default model is missing at \(path): run `make setup` (or `make test`)" }
    }

    /// The model path, or an error telling how to fetch it.
    public static func requireModel() throws -> String {
        guard FileManager.default.fileExists(atPath: modelPath) else { throw MissingModel(path: modelPath) }
        return modelPath
    }

    /// One record of smollm2-reference.json.
    public struct LogitRecord: Decodable, Sendable {
        public let prompt: String
        public let token_ids: [Int]
        public let tokens: [String]
        public let top20_last: [[Double]]
        public let top5_per_position: [[[Double]]]
        public let nll_of_next_tokens: [Double]
        /// All last-position logits (from smollm2-last-logits.f32).
        public var lastLogits: [Float] = []

        enum CodingKeys: String, CodingKey {
            case prompt, token_ids, tokens, top20_last, top5_per_position, nll_of_next_tokens
        }
    }

    /// The reference logits for the default model, made by Hugging Face transformers.
    public static func logitRecords() throws -> [LogitRecord] {
        struct File: Decodable { let records: [LogitRecord] }
        var records = try JSONDecoder().decode(File.self, from: Data(contentsOf: url("smollm2-reference.json"))).records
        let blob = try Data(contentsOf: url("smollm2-last-logits.f32"))
        let vocabulary = 49_152
        for i in records.indices {
            records[i].lastLogits = blob.withUnsafeBytes { raw in
                (0..<vocabulary).map { raw.loadUnaligned(fromByteOffset: (i * vocabulary + $0) * 4, as: Float.self) }
            }
        }
        return records
    }

    /// One record of smollm2-tokenizer.json.
    public struct TokenizerRecord: Decodable, Sendable {
        public let text: String
        public let ids: [Int]
    }

    /// The reference token ids (llama.cpp's tokenizer on the same GGUF).
    public static func tokenizerRecords() throws -> [TokenizerRecord] {
        struct File: Decodable { let records: [TokenizerRecord] }
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url("smollm2-tokenizer.json"))).records
    }
}
