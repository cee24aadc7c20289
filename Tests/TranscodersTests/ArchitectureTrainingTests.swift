// Training, evaluation and feature scans through the model interface, on tiny random-weight
// models of other architectures (Tests/Fixtures/tiny-models): Gemma 3's sandwich blocks, Qwen 2's
// prompts without BOS, GPT-2's LayerNorm. The same code paths as SmolLM2's, at each
// architecture's transcoder sites.

import Foundation
import Testing
import TensorCore
import LanguageModels
@testable import Transcoders
import TestSupport

@Suite struct ArchitectureTrainingTests {
    static func corpus(vocabulary: Int, length: Int = 15) -> TokenCorpus {
        var random = TestRandom(seed: 11)
        let ids = random.uniform([64 * length], 3, Float(vocabulary) - 0.01).scalars.map { Int32($0) }
        return TokenCorpus(sequenceLength: length, train: Array(ids[..<(48 * length)]), heldOut: Array(ids[(48 * length)...]),
                           documents: 1, heldOutDocuments: 1, description: "random ids")
    }

    @Test(arguments: ["gemma3", "qwen2", "gpt2"])
    func trainEvaluateAndScanOnEveryArchitecture(_ name: String) throws {
        let model = try TransformerModel(huggingFaceFolder: Fixtures.url("tiny-models/\(name)").path)
        let corpus = Self.corpus(vocabulary: model.configuration.vocabularySize)
        var o = TrainingOptions()
        o.features = 48
        o.k = 4
        o.tokens = 3000
        o.sequencesPerBatch = 8
        o.batchRows = 100
        o.learningRate = 5e-3
        o.warmupSteps = 2
        o.deadAfterTokens = 800
        o.checkpointSeconds = 0
        let trainer = try TranscoderTrainer(model: model, corpus: corpus, options: o, checkpointFolder: nil)
        var fvus = [Double]()
        try trainer.run { fvus.append($0.meanFVU) }
        #expect(fvus.last! < fvus.first! * 0.9, "\(name): training FVU \(fvus.first!) → \(fvus.last!)")
        let set = try trainer.transcoderSet(name: name, modelName: name)
        #expect(set.inputPoint(layer: 1) == .mlpIn(layer: 1) && set.outputPoint(layer: 1) == .mlpRawOut(layer: 1))
        let quality = try TranscoderEvaluation.evaluate(set: set, model: model, corpus: corpus, sequences: 8, batch: 4)
        #expect(quality.layers.count == model.configuration.layers && quality.medianFVU.isFinite && quality.splicedLoss.isFinite)
        #expect(quality.medianFVU < 1, "\(name): held-out median FVU \(quality.medianFVU)")
        var scanOptions = FeatureScanOptions()
        scanOptions.sequencesPerBatch = 4
        scanOptions.checkpointSeconds = 0
        let scan = try FeatureScan(model: model, set: set, corpus: corpus, options: scanOptions, setFingerprint: name)
        try scan.run()
        #expect(scan.sequencesDone == scan.sequenceCount)
        // Qwen's sequences start with their first token; the others with BOS.
        #expect(scan.sequence(0).count == corpus.sequenceLength + (model.startsWithBOS ? 1 : 0))
    }
}
