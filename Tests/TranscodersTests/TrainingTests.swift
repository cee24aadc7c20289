import Foundation
import Testing
import TensorCore
import Autodiff
@testable import Transcoders
import LanguageModels
import TestSupport

@Suite struct BatchTopKOpTests {
    /// Inputs whose pre-activations are far apart, so a small step never changes the selection:
    /// x rows are unit vectors, so z[r, i] = W_enc[i, r], and W_enc holds distinct values 0.07 apart.
    private func fixture(seed: UInt64) throws -> (x: Tensor, y: Tensor, wEnc: Tensor, bEnc: Tensor, wDec: Tensor, bDec: Tensor, skip: Tensor) {
        var random = TestRandom(seed: seed)
        let (n, f, d) = (4, 6, 5)
        var x = try Tensor(zeros: [n, d])
        for r in 0..<n { x.scalars[r * d + r] = 1 }
        var values = (0..<(f * d)).map { Float($0) * 0.07 - 0.9 }
        values.shuffle(using: &random.generator)
        return (x, random.normal([n, d]), try Tensor(shape: [f, d], scalars: values), try Tensor(zeros: [f]),
                random.normal([f, d], std: 0.5), random.normal([d], std: 0.2), random.normal([d, d], std: 0.3))
    }

    @Test func lossPullbackMatchesFiniteDifferences() throws {
        // The AuxK term's target r = y − ŷ is held constant in the pullback (a stop-gradient), which
        // finite differences would differentiate through; its weight is zero here, and its branch
        // (the same code as the main one) is checked structurally below.
        let p = try fixture(seed: 80)
        let dead = [Bool](repeating: false, count: 6)
        let loss = BatchTopKLoss(k: 2, auxK: 2, normaliser: 0.7, auxWeight: 0)
        // Every parameter is an input of the check; x and y are data. b_enc is held at zero: moving
        // it moves whole columns of z and would cross the selection boundary within one step.
        let checked = try FiniteDifferences.check([p.wEnc, p.wDec, p.bDec, p.skip], step: 1e-3) { t, v in
            try Variable.batchTopKTranscoderLoss(input: p.x, target: p.y, encoder: v[0], encoderBias: t.constant(p.bEnc), decoder: v[1],
                                                 decoderBias: v[2], skip: v[3], loss: loss, dead: dead).loss
        }
        print("finite-difference checks: batchTopKTranscoderLoss \(checked) elements")
        #expect(checked > 40)
    }

    @Test func auxiliaryGradientsReachOnlyDeadFeatures() throws {
        let p = try fixture(seed: 83)
        let dead = [false, true, false, true, false, true]
        let tape = Tape()
        let encoder = Parameter(p.wEnc, name: "W_enc"), decoder = Parameter(p.wDec, name: "W_dec")
        // Only the auxiliary term: a huge weight, and the main term scaled away by the normaliser.
        let (loss, selection) = try Variable.batchTopKTranscoderLoss(
            input: p.x, target: p.y, encoder: tape.parameter(encoder), encoderBias: tape.constant(p.bEnc),
            decoder: tape.parameter(decoder), decoderBias: tape.constant(p.bDec), loss: BatchTopKLoss(k: 2, auxK: 2, normaliser: 1, auxWeight: 1),
            dead: dead)
        try tape.backward(seeds: [(loss, try Tensor(repeating: 1, shape: [1]))])
        let activeFeatures = Set(selection.active.features.map(Int.init)), auxFeatures = Set(selection.aux.features.map(Int.init))
        #expect(!auxFeatures.isEmpty && auxFeatures.allSatisfy { dead[$0] })
        let g = try #require(encoder.gradient)
        for i in 0..<6 {
            let row = g.scalars[(i * 5)..<((i + 1) * 5)]
            #expect(row.contains { $0 != 0 } == (activeFeatures.contains(i) || auxFeatures.contains(i)), "feature \(i)")
        }
    }

    @Test func selectionKeepsKTimesNRowsAndAuxUsesOnlyDeadFeatures() throws {
        var random = TestRandom(seed: 81)
        let (n, f, d) = (32, 64, 8)
        let tape = Tape()
        let dead = (0..<f).map { $0 % 4 == 0 }
        let (_, selection) = try Variable.batchTopKTranscoderLoss(
            input: random.normal([n, d]), target: random.normal([n, d]), encoder: tape.parameter(Parameter(random.normal([f, d]), name: "e")),
            encoderBias: tape.constant(try Tensor(zeros: [f])), decoder: tape.constant(random.normal([f, d])),
            decoderBias: tape.constant(try Tensor(zeros: [d])), loss: BatchTopKLoss(k: 4, auxK: 3, normaliser: 1, auxWeight: 0.1), dead: dead)
        #expect(selection.active.count == 4 * n)
        #expect(selection.active.values.allSatisfy { $0 >= selection.cutoff })
        #expect(selection.aux.features.allSatisfy { dead[Int($0)] })
        #expect((0..<n).allSatisfy { selection.aux.rowStarts[$0 + 1] - selection.aux.rowStarts[$0] <= 3 })
    }

    @Test func theCutoffHintNeverChangesTheAnswer() throws {
        var random = TestRandom(seed: 82)
        let z = random.normal([50, 40])
        var all = z.scalars
        let exact = max(selectLargest(&all, rank: 200), 0)
        for hint: Float in [0, 0.1, 0.5, 1, 5, 50] {
            #expect(batchCutoff(z, keep: 200, hint: hint) == exact)
        }
    }
}

/// A tiny model and corpus: 2 layers of width 16, byte-level text.
func tinyTrainingSetUp() throws -> (LoadedModel, TokenCorpus) {
    let model = try LoadedModel.load(path: TinyModel(TinyModelSpec()).writeGGUF())
    let documents = (0..<40).map { i in
        CorpusDocument(name: "doc\(i)", text: String(repeating: "The quick brown fox \(i) jumps over the lazy dog. ", count: 6))
    }
    let corpus = try TokenCorpus.build(documents: documents, tokenizer: model.tokenizer, sequenceLength: 31, heldOutEvery: 5,
                                       seed: 1, description: "tiny")
    return (model, corpus)
}

@Suite struct TrainerTests {
    private func setUp() throws -> (LoadedModel, TokenCorpus) { try tinyTrainingSetUp() }

    private func options() -> TrainingOptions {
        var o = TrainingOptions()
        o.features = 32
        o.k = 4
        o.tokens = 2400
        o.sequencesPerBatch = 8
        o.batchRows = 120
        o.learningRate = 5e-3
        o.warmupSteps = 2
        o.deadAfterTokens = 600
        o.checkpointSeconds = 0
        return o
    }

    @Test func trainingReducesTheErrorAndIsDeterministic() throws {
        let (loaded, corpus) = try setUp()
        let first = try TranscoderTrainer(model: loaded.model, corpus: corpus, options: options(), checkpointFolder: nil)
        var fvus = [Double]()
        try first.run { fvus.append($0.meanFVU) }
        #expect(fvus.last! < fvus.first! * 0.8, "training FVU \(fvus)")
        let again = try TranscoderTrainer(model: loaded.model, corpus: corpus, options: options(), checkpointFolder: nil)
        try again.run()
        let a = try first.transcoderSet(name: "a", modelName: "tiny"), b = try again.transcoderSet(name: "b", modelName: "tiny")
        for l in 0..<2 {
            let (x, y) = (try a[l], try b[l])
            #expect(try x.encoder == y.encoder && x.decoder == y.decoder && x.skip == y.skip)
        }
        guard case .jumpReLU(let threshold) = try a[0].activation else { Issue.record("saved as JumpReLU"); return }
        #expect(threshold.scalars.allSatisfy { $0 > 0 })
    }

    @Test func resumingFromACheckpointMatchesAnUninterruptedRun() throws {
        let (loaded, corpus) = try setUp()
        let uninterrupted = try TranscoderTrainer(model: loaded.model, corpus: corpus, options: options(), checkpointFolder: nil)
        try uninterrupted.run()
        // Stop half way (a shorter run with the same schedule), checkpoint, resume.
        var half = options()
        let checkpoint = temporaryPath("-ckpt")
        let interrupted = try TranscoderTrainer(model: loaded.model, corpus: corpus, options: half, checkpointFolder: checkpoint)
        interrupted.stopAfterTokens = 1200
        try interrupted.run()
        try interrupted.saveCheckpoint(to: checkpoint)
        let resumed = try TranscoderTrainer.resume(from: checkpoint, model: loaded.model, corpus: corpus)
        try resumed.run()
        half.tokens = 0
        let a = try uninterrupted.transcoderSet(name: "a", modelName: "tiny"), b = try resumed.transcoderSet(name: "b", modelName: "tiny")
        for l in 0..<2 {
            let (x, y) = (try a[l], try b[l])
            #expect(x.encoder == y.encoder, "layer \(l) encoder")
            #expect(try x.decoder == y.decoder, "layer \(l) decoder")
        }
    }

    @Test func evaluationMeasuresWhatItSays() throws {
        let (loaded, corpus) = try setUp()
        let trainer = try TranscoderTrainer(model: loaded.model, corpus: corpus, options: options(), checkpointFolder: nil)
        try trainer.run()
        let set = try trainer.transcoderSet(name: "tiny", modelName: "tiny")
        let quality = try TranscoderEvaluation.evaluate(set: set, model: loaded.model, corpus: corpus, sequences: 4, batch: 2)
        #expect(quality.layers.count == 2 && quality.tokens == 4 * 31)
        // FVU by hand for layer 1 over the same rows.
        var error = 0.0, rows = [Tensor]()
        var targets = [Tensor]()
        for i in 0..<4 {
            let ids = [256] + corpus.sequence(i, heldOut: true)
            let run = try loaded.model.forward([ids], cache: .points([.mlpIn(layer: 1), .mlpOut(layer: 1)]), logits: .none)
            let x = try run.cache[.mlpIn(layer: 1)]!.reshaped([32, 16]).slice(axis: 0, 1..<32)
            let y = try run.cache[.mlpOut(layer: 1)]!.reshaped([32, 16]).slice(axis: 0, 1..<32)
            error += Double(try (set[1].reconstruct(x) - y).squared().sum())
            rows.append(x); targets.append(y)
        }
        let all = try Tensor.concatenate(targets, axis: 0)
        let centred = Double(try (all - all.mean(axis: 0)).squared().sum())
        assertClose(Float(quality.layers[1].fvu), Float(error / centred), rtol: 1e-4, atol: 1e-6)
        #expect(quality.splicedLoss.isFinite && quality.originalLoss.isFinite)
    }
}

@Suite struct CrossLayerTrainingTests {
    /// Three layers' trainers with random parameters (the later decoders too) and unit scales.
    private func trainers(skip: Bool) throws -> [LayerTrainer] {
        var random = TestRandom(seed: 41)
        let (L, f, d) = (3, 6, 5)
        return try (0..<L).map { l in
            let t = try LayerTrainer(layer: l, features: f, width: d, learningRate: 1e-3, seed: 9, skip: skip, span: L - l)
            t.encoder.value = random.normal([f, d], std: 0.6)
            t.encoderBias.value = random.normal([f], std: 0.2)
            t.decoder.value = random.normal([f, (L - l) * d], std: 0.4)
            t.decoderBias.value = random.normal([d], std: 0.1)
            t.skip?.value = random.normal([d, d], std: 0.2)
            (t.inputScale, t.outputScale) = (1, 1)
            return t
        }
    }

    @Test(arguments: [false, true])
    func jointGradientsMatchFiniteDifferences(_ skip: Bool) throws {
        // k = f keeps every positive pre-activation (the cutoff is 0): the loss is continuous in
        // every parameter, so central differences are exact to second order.
        let layers = try trainers(skip: skip)
        var random = TestRandom(seed: 42)
        let inputs = (0..<3).map { _ in random.normal([7, 5]) }, outputs = (0..<3).map { _ in random.normal([7, 5]) }
        var options = TrainingOptions()
        options.k = 6
        options.auxK = 0
        let base = try CrossLayerStep.gradients(layers, inputs: inputs, outputs: outputs, options: options, tokensSeen: 0)
        #expect(base.active.allSatisfy { $0.count > 5 })
        var checked = 0, worst: Float = 0
        for t in layers {
            for p in t.parameters {
                let g = try #require(p.gradient, "\(p.name) of layer \(t.layer) has no gradient")
                for j in stride(from: 0, to: p.value.count, by: max(1, p.value.count / 12)) {
                    let h: Float = 1e-3, original = p.value.scalars[j]
                    p.value.scalars[j] = original + h
                    let up = try CrossLayerStep.gradients(layers, inputs: inputs, outputs: outputs, options: options, tokensSeen: 0).loss
                    p.value.scalars[j] = original - h
                    let down = try CrossLayerStep.gradients(layers, inputs: inputs, outputs: outputs, options: options, tokensSeen: 0).loss
                    p.value.scalars[j] = original
                    let numeric = Float((up - down) / Double(2 * h))
                    worst = max(worst, abs(numeric - g.scalars[j]) / max(abs(numeric), 1e-2))
                    checked += 1
                }
            }
            // The gradients above were overwritten by the perturbed evaluations: restore them.
            _ = try CrossLayerStep.gradients(layers, inputs: inputs, outputs: outputs, options: options, tokensSeen: 0)
        }
        #expect(checked > 100)
        #expect(worst < 2e-2, "worst relative difference \(worst) over \(checked) elements")
    }

    private func setUp() throws -> (LoadedModel, TokenCorpus) { try tinyTrainingSetUp() }

    private func options() -> TrainingOptions {
        var o = TrainingOptions()
        (o.features, o.k, o.tokens, o.sequencesPerBatch, o.batchRows) = (32, 4, 2400, 8, 120)
        (o.learningRate, o.warmupSteps, o.deadAfterTokens, o.checkpointSeconds) = (5e-3, 2, 600, 0)
        o.crossLayer = true
        o.outputHook = "hook_mlp_out"
        return o
    }

    @Test func aCrossLayerTranscoderTrainsResumesAndSavesInCircuitTracersLayout() throws {
        let (loaded, corpus) = try setUp()
        let trainer = try TranscoderTrainer(model: loaded.model, corpus: corpus, options: options(), checkpointFolder: nil)
        var fvus = [Double]()
        try trainer.run { fvus.append($0.meanFVU) }
        #expect(fvus.last! < fvus.first! * 0.8, "training FVU \(fvus)")
        let set = try trainer.transcoderSet(name: "clt", modelName: "tiny")
        #expect(try set.isCrossLayer && set[0].decoder.shape == [32, 2, 16])
        // The later decoders learned something.
        #expect(try set[0].decoder.scalars.enumerated().contains { $0.offset % 32 >= 16 && $0.element != 0 })
        let twice = try TranscoderTrainer(model: loaded.model, corpus: corpus, options: options(), checkpointFolder: nil)
        try twice.run()
        let second = try twice.transcoderSet(name: "clt", modelName: "tiny")
        for l in 0..<2 { #expect(try set[l].decoder == second[l].decoder && set[l].encoder == second[l].encoder, "deterministic layer \(l)") }
        // Interrupted half way and resumed: the same set.
        let checkpoint = temporaryPath("-clt-ckpt")
        let interrupted = try TranscoderTrainer(model: loaded.model, corpus: corpus, options: options(), checkpointFolder: checkpoint)
        interrupted.stopAfterTokens = 1200
        try interrupted.run()
        try interrupted.saveCheckpoint(to: checkpoint)
        let resumed = try TranscoderTrainer.resume(from: checkpoint, model: loaded.model, corpus: corpus)
        #expect(resumed.options.crossLayer)
        try resumed.run()
        let again = try resumed.transcoderSet(name: "clt", modelName: "tiny")
        for l in 0..<2 { #expect(try set[l].decoder == again[l].decoder && set[l].encoder == again[l].encoder, "layer \(l)") }
        // Saved in circuit-tracer's CLT layout, read back, and evaluated: layer 1's FVU counts
        // what layer 0's features write to it.
        let folder = temporaryPath("-clt-trained")
        try set.save(to: folder)
        let loadedSet = try TranscoderSet.load(folder: folder)
        #expect(loadedSet.isCrossLayer && loadedSet.outputHook == "hook_mlp_out")
        let quality = try TranscoderEvaluation.evaluate(set: loadedSet, model: loaded.model, corpus: corpus, sequences: 4, batch: 2)
        var error = 0.0, targets = [Tensor]()
        for i in 0..<4 {
            let ids = [256] + corpus.sequence(i, heldOut: true)
            let run = try loaded.model.forward([ids], cache: .points([.mlpIn(layer: 0), .mlpIn(layer: 1), .mlpOut(layer: 1)]), logits: .none)
            let xs = try [0, 1].map { try run.cache[.mlpIn(layer: $0)]!.reshaped([32, 16]).slice(axis: 0, 1..<32) }
            let y = try run.cache[.mlpOut(layer: 1)]!.reshaped([32, 16]).slice(axis: 0, 1..<32)
            let a0 = try loadedSet[0].encode(xs[0]), a1 = try loadedSet[1].encode(xs[1])
            let reconstruction = try loadedSet[1].decode(a1, input: xs[1]) + loadedSet[0].writes(a0)[1]
            error += Double(try (reconstruction - y).squared().sum())
            targets.append(y)
        }
        let all = try Tensor.concatenate(targets, axis: 0)
        assertClose(Float(quality.layers[1].fvu), Float(error / Double(try (all - all.mean(axis: 0)).squared().sum())), rtol: 1e-4, atol: 1e-6)
        #expect(quality.splicedLoss.isFinite)
        var partial = options()
        partial.onlyLayers = [1]
        #expect(throws: TranscoderError.self) { try partial.validate() }
    }
}
