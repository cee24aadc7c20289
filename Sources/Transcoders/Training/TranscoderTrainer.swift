// Trains every layer's transcoder from one stream of model activations.
//
//   1. Each iteration runs one model batch (S sequences) and caches MLP inputs and outputs of all
//      layers; the shuffled buffer hands out rows mixed with the previous batch's leftovers.
//   2. Those rows are split into optimiser steps; every layer takes its steps as an independent
//      task (layers run in parallel): BatchTopK forward and sparse pullback on the Autodiff tape,
//      then Adam with warm-up and a linear decay.
//   3. Checkpoints save parameters, Adam moments, the data position, the random state and the
//      rows still in the buffer, so a resumed run continues exactly as if never stopped.
//   4. The result is saved as JumpReLU transcoders (threshold = mean BatchTopK cutoff), the form
//      circuit-tracer 0.5.0 also loads and runs identically.

import Foundation
import LanguageModels
import TensorCore

public final class TranscoderTrainer: @unchecked Sendable {
    public let options: TrainingOptions
    let model: TransformerModel
    let source: ActivationSource
    let layers: [LayerTrainer]
    let layerIndices: [Int]
    let checkpointFolder: String?

    // Progress state (saved in checkpoints).
    var tokensSeen = 0
    var steps = 0
    var nextBatch = 0
    var random: SeededGenerator
    var buffer = ShuffledBuffer()
    var forwardSeconds = 0.0
    var trainSeconds = 0.0
    var elapsedBefore = 0.0
    /// Stops `run` early once this many tokens are used (the schedule still follows `options.tokens`).
    var stopAfterTokens: Int?

    public init(model: TransformerModel, corpus: TokenCorpus, options: TrainingOptions, checkpointFolder: String?) throws {
        try options.validate()
        let c = model.configuration
        self.options = options
        self.model = model
        var width = c.width
        if let hook = options.saeHook {
            // An SAE: one dictionary reading and reconstructing one hook point.
            let point = try model.hookPoint(named: hook)
            guard let w = model.width(of: point) else { throw TranscoderError.invalidOptions("\(hook) has no rows an SAE could read") }
            width = w
            layerIndices = [point.layer ?? 0]
            self.source = ActivationSource(model: model, corpus: corpus, sequencesPerBatch: options.sequencesPerBatch, heldOut: false,
                                           inputPoint: { _ in point }, outputPoint: { _ in point }, layers: layerIndices)
        } else {
            layerIndices = options.onlyLayers ?? Array(0..<c.layers)
            for l in layerIndices where l < 0 || l >= c.layers { throw LanguageModelError.invalidLayer(layer: l, layers: c.layers) }
            self.source = ActivationSource(model: model, corpus: corpus, sequencesPerBatch: options.sequencesPerBatch, heldOut: false,
                                           inputPoint: TranscoderSet.inputSites[options.inputHook]!,
                                           outputPoint: TranscoderSet.outputSites[options.outputHook]!, layers: layerIndices)
            for site in [source.inputPoint(0), source.outputPoint(0)] where !model.hookPoints.contains(site) {
                throw TranscoderError.invalidOptions("\(site) is not a hook point of \(c.architecture) models")
            }
        }
        self.layers = try layerIndices.map {
            try LayerTrainer(layer: $0, features: options.features, width: width, learningRate: options.learningRate, seed: options.seed,
                             skip: options.saeHook == nil && options.skip, span: options.crossLayer ? c.layers - $0 : 1,
                             jumpReLU: options.learnsThresholds, initialThreshold: options.jumpReLUInitialThreshold)
        }
        self.checkpointFolder = checkpointFolder
        self.random = SeededGenerator(seed: options.seed ^ 0x5DEECE66D)
    }

    /// Total optimiser steps of the run.
    var totalSteps: Int { max(1, (options.tokens + options.batchRows - 1) / options.batchRows) }

    func learningRate(step: Int) -> Float {
        let warm = min(1, Float(step + 1) / Float(max(options.warmupSteps, 1)))
        let decayStart = Double(totalSteps) * (1 - options.decayFraction)
        let decay = Double(step) < decayStart ? 1 : max(0.1, 1 - 0.9 * (Double(step) - decayStart) / max(1, Double(totalSteps) - decayStart))
        return options.learningRate * warm * Float(decay)
    }

    /// Runs until `options.tokens` rows have been used; calls `progress` after each iteration.
    public func run(progress: (TrainingProgress) -> Void = { _ in }) throws {
        let start = Date()
        var lastCheckpoint = Date()
        let rowsPerBatch = source.rowsPerBatch
        if buffer.pending == nil && tokensSeen == 0 {
            // Prime the buffer with one batch so the first steps already mix two batches.
            let t0 = Date()
            let first = try source.batch(nextBatch)
            forwardSeconds += Date().timeIntervalSince(t0)
            nextBatch += 1
            for (i, trainer) in layers.enumerated() where trainer.inputScale == 0 {
                try trainer.calibrate(inputs: first.inputs[i], outputs: first.outputs[i])
            }
            _ = try buffer.exchange(adding: first, taking: 0, random: &random)
        }
        while tokensSeen < min(options.tokens, stopAfterTokens ?? .max) {
            var t0 = Date()
            let incoming = try source.batch(nextBatch)
            nextBatch += 1
            let rows = try buffer.exchange(adding: incoming, taking: min(rowsPerBatch, options.tokens - tokensSeen), random: &random)
            forwardSeconds += Date().timeIntervalSince(t0)
            t0 = Date()
            let stepCount = max(1, rows.count / options.batchRows)
            let size = rows.count / stepCount
            let baseStep = steps, baseTokens = tokensSeen
            let failure = FailureBox()
            if options.crossLayer {
                // One joint step over every layer (the step itself runs layers in parallel).
                for s in 0..<stepCount {
                    let indices = Array((s * size)..<(s == stepCount - 1 ? rows.count : (s + 1) * size))
                    try CrossLayerStep.step(layers, inputs: try rows.inputs.map { try $0.gatherRows(indices) },
                                            outputs: try rows.outputs.map { try $0.gatherRows(indices) }, options: options,
                                            learningRate: learningRate(step: baseStep + s), tokensSeen: baseTokens + s * size)
                }
            } else { Parallel.forEach(layers.count) { i in
                let trainer = self.layers[i]
                do {
                    for s in 0..<stepCount {
                        let range = (s * size)..<(s == stepCount - 1 ? rows.count : (s + 1) * size)
                        let indices = Array(range)
                        let x = try rows.inputs[i].gatherRows(indices)
                        let y = self.options.saeHook == nil ? try rows.outputs[i].gatherRows(indices) : x
                        if self.options.usesL1 {
                            try trainer.stepDense(inputs: x, options: self.options, learningRate: self.learningRate(step: baseStep + s),
                                               tokensSeen: baseTokens + range.lowerBound)
                        } else {
                            try trainer.step(inputs: x, outputs: y, options: self.options, learningRate: self.learningRate(step: baseStep + s),
                                             tokensSeen: baseTokens + range.lowerBound)
                        }
                    }
                } catch {
                    failure.record(error)
                }
            } }
            if let error = failure.error { throw error }
            steps += stepCount
            tokensSeen += rows.count
            trainSeconds += Date().timeIntervalSince(t0)
            progress(report(elapsed: elapsedBefore + Date().timeIntervalSince(start)))
            if let checkpointFolder, options.checkpointSeconds > 0, Date().timeIntervalSince(lastCheckpoint) > options.checkpointSeconds,
               tokensSeen < options.tokens {
                elapsedBefore += Date().timeIntervalSince(start)
                try saveCheckpoint(to: checkpointFolder)
                elapsedBefore -= Date().timeIntervalSince(start)
                lastCheckpoint = Date()
            }
        }
        elapsedBefore += Date().timeIntervalSince(start)
    }

    /// Seconds spent in `run` so far (over all resumed runs).
    public var elapsedSeconds: Double { elapsedBefore }

    public func report(elapsed: Double) -> TrainingProgress {
        let count = Double(max(layers.count, 1))
        return TrainingProgress(
            tokens: tokensSeen, totalTokens: options.tokens, steps: steps, elapsed: elapsed,
            forwardSeconds: forwardSeconds, trainSeconds: trainSeconds,
            meanFVU: layers.reduce(0) { $0 + $1.fvu } / count,
            deadFraction: layers.reduce(0) { $0 + $1.deadFraction(tokensSeen: tokensSeen, window: options.deadAfterTokens) } / count,
            meanL0: layers.reduce(0) { $0 + $1.l0 } / count)
    }

    /// The trained transcoders of the layers trained (JumpReLU, on raw activations).
    public func transcoders() throws -> [Transcoder] {
        let scales = layers.map(\.outputScale)
        return try layers.map { try $0.transcoder(outputScales: options.crossLayer ? scales : nil, l1: options.usesL1 && !options.learnsThresholds) }
    }

    /// The trained set; every layer of the model must have been trained.
    public func transcoderSet(name: String, modelName: String) throws -> TranscoderSet {
        guard layerIndices == Array(0..<model.configuration.layers) else {
            throw TranscoderError.invalidOptions("only layers \(layerIndices) were trained; a set needs all \(model.configuration.layers)")
        }
        let progress = report(elapsed: elapsedBefore)
        let notes = [
            "trained_tokens": "\(tokensSeen)", "features": "\(options.features)", "k": "\(options.k)",
            "training_seconds": String(format: "%.0f", elapsedBefore), "seed": "\(options.seed)",
            "final_training_fvu": String(format: "%.4f", progress.meanFVU),
            "method": options.crossLayer
                ? "cross-layer, trained jointly on every layer's output: BatchTopK per layer with AuxK, exported as JumpReLU at the mean batch cutoff"
                : "BatchTopK with AuxK, exported as JumpReLU at the mean batch cutoff",
        ]
        var set = try TranscoderSet(name: name, modelName: modelName, transcoders: transcoders(), notes: notes)
        set.inputHook = options.inputHook
        set.outputHook = options.outputHook
        return set
    }
}

extension TranscoderTrainer {
    /// The trained SAE (`options.saeHook` set): a ReLU SAE from the L1 recipe; from BatchTopK a
    /// JumpReLU at the mean batch cutoff, or with `topK` a TopK SAE with the trained k per row.
    public func sparseAutoencoder(modelName: String?, topK: Bool = false) throws -> SparseAutoencoder {
        guard let hook = options.saeHook else { throw TranscoderError.invalidOptions("this run trains transcoders, not an SAE") }
        var dictionary = try transcoders()[0]
        if topK {
            guard !options.usesL1 else { throw TranscoderError.invalidOptions("a TopK SAE is trained with BatchTopK, not the \(options.sparsity ?? "") recipe") }
            dictionary.activation = .topK(k: options.k)
        }
        let progress = report(elapsed: elapsedBefore)
        let method = options.learnsThresholds
            ? "JumpReLU with learned thresholds, an L0 penalty (coefficient \(options.sparsityCoefficient)) through straight-through estimators (bandwidth \(options.jumpReLUBandwidth)) and unit-norm decoder rows"
            : options.usesL1
            ? "ReLU with an L1 penalty (coefficient \(options.sparsityCoefficient)) and unit-norm decoder rows"
            : topK ? "BatchTopK with AuxK, exported as TopK (k = \(options.k))" : "BatchTopK with AuxK, exported as JumpReLU at the mean batch cutoff"
        return try SparseAutoencoder(hookName: hook, dictionary: dictionary, subtractsDecoderBias: false, modelName: modelName, notes: [
            "trained_tokens": "\(tokensSeen)", "training_seconds": String(format: "%.0f", elapsedBefore), "seed": "\(options.seed)",
            "final_training_fvu": String(format: "%.4f", progress.meanFVU), "method": method, "trained_by": "circuitry",
        ])
    }
}
