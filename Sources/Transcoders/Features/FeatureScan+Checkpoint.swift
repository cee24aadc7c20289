// Checkpoints of a feature scan: everything needed to continue where it stopped.
//
//   checkpoint/state.json            identity, sequences done, seconds, per-layer firing counts
//                                    and activation sums (integers and doubles, kept exact)
//   checkpoint/layer_{l}.safetensors maxima, filled slot counts and each slot's sequence, start,
//                                    peak index, length and window activations (F32; the
//                                    integers are far below 2^24, so exact)
// Written to a temporary folder and swapped in (replaceFolder), like training checkpoints.

import Foundation
import ModelIO
import TensorCore

struct FeatureScanState: Codable {
    struct Layer: Codable {
        var firings: [Int]
        var sums: [Double]
    }
    var identity: String
    var sequencesDone: Int
    var elapsed: Double
    var forwardSeconds: Double
    var encodeSeconds: Double
    var layers: [Layer]
}

extension FeatureScan {
    func saveCheckpoint(to folder: String, elapsed: Double) throws {
        try replaceFolder(folder) { temporary in
            for (l, r) in reservoirs.enumerated() {
                try SafetensorsFile.write(r.tensors(), to: "\(temporary)/layer_\(l).safetensors")
            }
            let state = FeatureScanState(identity: identity, sequencesDone: sequencesDone, elapsed: elapsed, forwardSeconds: forwardSeconds,
                                         encodeSeconds: encodeSeconds, layers: reservoirs.map { .init(firings: $0.firings, sums: $0.sums) })
            try JSONEncoder().encode(state).write(to: URL(fileURLWithPath: "\(temporary)/state.json"))
        }
    }

    /// Continues from the checkpoint in `folder` when it is of this very scan; a checkpoint of
    /// another scan is left alone (and replaced at the next checkpoint).
    func resumeIfPossible(from folder: String) throws {
        let statePath = "\(folder)/state.json"
        guard let data = FileManager.default.contents(atPath: statePath) else { return }
        guard let state = try? JSONDecoder().decode(FeatureScanState.self, from: data),
              state.identity == identity, state.layers.count == reservoirs.count, state.sequencesDone <= sequenceCount else { return }
        for (l, r) in reservoirs.enumerated() {
            let file = try SafetensorsFile(path: "\(folder)/layer_\(l).safetensors")
            try r.restore(from: file, firings: state.layers[l].firings, sums: state.layers[l].sums)
        }
        sequencesDone = state.sequencesDone
        elapsedBefore = state.elapsed
        forwardSeconds = state.forwardSeconds
        encodeSeconds = state.encodeSeconds
    }

    /// Removes the checkpoint (after the evidence is safely stored).
    public func removeCheckpoint() {
        guard let checkpointFolder else { return }
        try? FileManager.default.removeItem(atPath: checkpointFolder)
    }
}

extension FeatureReservoir {
    func tensors() -> [String: Tensor] {
        func floats(_ values: [Int]) -> Tensor { Tensor(values.map(Float.init)) }
        return ["maxima": Tensor(maxima), "filled": floats(filled), "sequences": floats(sequences),
                "starts": floats(starts), "peaks": floats(peaks), "lengths": floats(lengths), "windows": Tensor(windows)]
    }

    func restore(from file: SafetensorsFile, firings: [Int], sums: [Double]) throws {
        let slots = features * capacity
        func ints(_ name: String, _ count: Int) throws -> [Int] { try file.tensor(name, shape: [count]).scalars.map { Int($0) } }
        guard firings.count == features, sums.count == features else {
            throw TranscoderError.checkpoint(file: file.path, reason: "per-feature counts do not match the set's width")
        }
        let restoredWindows = try file.tensor("windows", shape: [slots * window]).scalars
        let restoredMaxima = try file.tensor("maxima", shape: [features]).scalars
        let restored = (filled: try ints("filled", features), sequences: try ints("sequences", slots), starts: try ints("starts", slots),
                        peaks: try ints("peaks", slots), lengths: try ints("lengths", slots))
        self.firings = firings
        self.sums = sums
        maxima = restoredMaxima
        windows = restoredWindows
        filled = restored.filled
        sequences = restored.sequences
        starts = restored.starts
        peaks = restored.peaks
        lengths = restored.lengths
    }
}
