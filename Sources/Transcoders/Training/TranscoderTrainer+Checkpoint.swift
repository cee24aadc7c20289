// Checkpoints: everything a training run needs to continue exactly where it stopped.
//
//   checkpoint/state.json            options, counters, random state, buffered row ids, per-layer
//                                    scales, cutoff averages and Adam step counts
//   checkpoint/layer_{l}.safetensors parameters, Adam moments, last-fired token counts
// A checkpoint is written to a temporary folder and swapped in, so an interruption while writing
// leaves the previous checkpoint intact.

import Autodiff
import Foundation
import LanguageModels
import ModelIO
import TensorCore

struct CheckpointState: Codable {
    struct Layer: Codable {
        var layer: Int
        var inputScale: Float, outputScale: Float
        var cutoff: Float, cutoffSteps: Int
        var fvu: Double, l0: Double
        var adamSteps: Int
    }
    var options: TrainingOptions
    var tokensSeen: Int, steps: Int, nextBatch: Int
    var random: [UInt64]
    var pending: [RowID]
    var forwardSeconds: Double, trainSeconds: Double, elapsed: Double
    var layers: [Layer]
}

/// Writes a folder's new contents into a temporary folder beside it, then swaps it in, so an
/// interruption while writing leaves the previous contents whole.
func replaceFolder(_ folder: String, writing body: (_ temporary: String) throws -> Void) throws {
    let fm = FileManager.default
    let temporary = folder + ".writing", previous = folder + ".previous"
    try? fm.removeItem(atPath: temporary)
    try fm.createDirectory(atPath: temporary, withIntermediateDirectories: true)
    try body(temporary)
    try? fm.removeItem(atPath: previous)
    if fm.fileExists(atPath: folder) { try fm.moveItem(atPath: folder, toPath: previous) }
    try fm.moveItem(atPath: temporary, toPath: folder)
    try? fm.removeItem(atPath: previous)
}

extension TranscoderTrainer {
    public func saveCheckpoint(to folder: String) throws {
        try replaceFolder(folder) { temporary in try writeCheckpoint(into: temporary) }
    }

    private func writeCheckpoint(into temporary: String) throws {
        for trainer in layers {
            var tensors = [String: Tensor]()
            for p in trainer.parameters {
                tensors[p.name] = p.value
                if let moments = trainer.adam.moments[p.name] {
                    tensors["adam.m.\(p.name)"] = try Tensor(shape: p.value.shape, scalars: moments.first)
                    tensors["adam.v.\(p.name)"] = try Tensor(shape: p.value.shape, scalars: moments.second)
                }
            }
            tensors["last_fired"] = Tensor(trainer.lastFired.map(Float.init))
            try SafetensorsFile.write(tensors, to: "\(temporary)/layer_\(trainer.layer).safetensors")
        }
        let state = CheckpointState(
            options: options, tokensSeen: tokensSeen, steps: steps, nextBatch: nextBatch, random: random.state,
            pending: buffer.pending?.ids ?? [], forwardSeconds: forwardSeconds, trainSeconds: trainSeconds, elapsed: elapsedBefore,
            layers: layers.map { .init(layer: $0.layer, inputScale: $0.inputScale, outputScale: $0.outputScale, cutoff: $0.cutoff,
                                       cutoffSteps: $0.cutoffSteps, fvu: $0.fvu, l0: $0.l0, adamSteps: $0.adam.stepCount) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(state).write(to: URL(fileURLWithPath: "\(temporary)/state.json"))
    }

    /// True when `folder` holds a checkpoint.
    public static func hasCheckpoint(_ folder: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(folder)/state.json")
    }

    /// A trainer continuing from a checkpoint (with the options it was started with).
    public static func resume(from folder: String, model: TransformerModel, corpus: TokenCorpus) throws -> TranscoderTrainer {
        let statePath = "\(folder)/state.json"
        guard let data = FileManager.default.contents(atPath: statePath) else {
            throw TranscoderError.checkpoint(file: statePath, reason: "cannot read the checkpoint")
        }
        let state: CheckpointState
        do { state = try JSONDecoder().decode(CheckpointState.self, from: data) } catch {
            throw TranscoderError.checkpoint(file: statePath, reason: "not a checkpoint state: \(error)")
        }
        let trainer = try TranscoderTrainer(model: model, corpus: corpus, options: state.options, checkpointFolder: folder)
        guard state.layers.map(\.layer) == trainer.layerIndices else {
            throw TranscoderError.checkpoint(file: statePath, reason: "the checkpoint's layers do not match its options")
        }
        for (trainer, saved) in zip(trainer.layers, state.layers) {
            let path = "\(folder)/layer_\(saved.layer).safetensors"
            let file = try SafetensorsFile(path: path)
            var moments = [String: Adam.Moments]()
            for p in trainer.parameters {
                p.value = try file.tensor(p.name, shape: p.value.shape)
                if file.contains("adam.m.\(p.name)") {
                    moments[p.name] = Adam.Moments(first: try file.tensor("adam.m.\(p.name)").scalars,
                                                   second: try file.tensor("adam.v.\(p.name)").scalars)
                }
            }
            trainer.adam.restore(moments: moments, stepCount: saved.adamSteps)
            trainer.lastFired = try file.tensor("last_fired").scalars.map { Int($0) }
            trainer.inputScale = saved.inputScale
            trainer.outputScale = saved.outputScale
            trainer.cutoff = saved.cutoff
            trainer.cutoffSteps = saved.cutoffSteps
            trainer.fvu = saved.fvu
            trainer.l0 = saved.l0
        }
        trainer.tokensSeen = state.tokensSeen
        trainer.steps = state.steps
        trainer.nextBatch = state.nextBatch
        trainer.random.state = state.random
        trainer.forwardSeconds = state.forwardSeconds
        trainer.trainSeconds = state.trainSeconds
        trainer.elapsedBefore = state.elapsed
        // Rebuild the buffered rows from their model batches.
        if !state.pending.isEmpty {
            let batchIndices = Set(state.pending.map(\.batch)).sorted()
            let all = try ActivationRows.concatenate(try batchIndices.map { try trainer.source.batch($0) })
            var position = [RowID: Int]()
            for (i, id) in all.ids.enumerated() { position[id] = i }
            trainer.buffer.pending = try all.gathered(try state.pending.map { id in
                guard let i = position[id] else { throw TranscoderError.checkpoint(file: statePath, reason: "a buffered row is not in its batch") }
                return i
            })
        }
        return trainer
    }
}
