// A tiny model and transcoder set written to disk, for tests that trace, store and export graphs
// the way a user does (the files work with `circuitry trace --model … --transcoders …`).

import Attribution
import Foundation
import LanguageModels
import TensorCore
import Transcoders

public struct TinyTrace: Sendable {
    public let modelPath: String
    public let transcoderFolder: String
    public let model: LoadedModel
    public let transcoders: TranscoderSet

    /// Writes a tiny GGUF (byte-level vocabulary, so any text tokenises) and a two-layer JumpReLU
    /// transcoder set with skip connections in circuit-tracer's folder format.
    public init(seed: UInt64 = 90) throws {
        modelPath = try TinyModel(TinyModelSpec()).writeGGUF()
        model = try LoadedModel.load(path: modelPath)
        var random = TestRandom(seed: seed)
        let threshold = random.uniform([24], 0, 0.3)
        let set = try TinyTranscoders.random(layers: 2, width: 16, features: 24, activation: { _ in .jumpReLU(threshold: threshold) },
                                             skip: true)
        transcoderFolder = temporaryPath("-transcoders")
        try set.save(to: transcoderFolder)
        transcoders = try TranscoderSet.load(folder: transcoderFolder)
    }

    /// The attribution graph of `prompt` (with the beginning-of-sequence token).
    public func graph(_ prompt: String, options: AttributionOptions = AttributionOptions()) throws -> AttributionGraph {
        let tokens = try model.tokenize(prompt)
        let provenance = GraphProvenance(modelPath: modelPath, modelFingerprint: "tiny-model", transcoderSet: transcoderFolder,
                                         transcoderFingerprint: "tiny-set", prompt: prompt, tokens: tokens, options: options,
                                         engineVersion: Attribution.engineVersion)
        return try Attribution.attribute(model: model.model, transcoders: transcoders, tokens: tokens, options: options, provenance: provenance)
    }

    /// A token's text as the tokenizer decodes it ("?" when it cannot).
    public func tokenText(_ id: Int) -> String { (try? model.tokenizer.text(of: id)) ?? "?" }
}
