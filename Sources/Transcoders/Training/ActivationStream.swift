// MLP inputs and outputs of every layer, streamed from the model over a token corpus.
//
// Model batch b runs training sequences b·S ..< (b+1)·S of the corpus (wrapping around), each
// with BOS prepended, in one forward pass that caches `mlp.hook_in` and `mlp.hook_out` of all
// layers. Position 0 (BOS) is left out: graphs never use features there. Rows then pass through
// a shuffled buffer: it keeps the rows not yet used, adds a new model batch, and hands out a
// random selection, so one training step mixes tokens from many sequences and two model batches.

import LanguageModels
import TensorCore

/// Identifies one row: (model batch, row within it).
struct RowID: Hashable, Codable, Sendable {
    var batch: Int
    var row: Int
}

/// Rows of activations for every layer.
struct ActivationRows: Sendable {
    /// [rows, d] per layer: MLP inputs and outputs.
    var inputs: [Tensor]
    var outputs: [Tensor]
    var ids: [RowID]

    var count: Int { ids.count }

    /// The rows at `indices`, in that order.
    func gathered(_ indices: [Int]) throws -> ActivationRows {
        ActivationRows(inputs: try inputs.map { try $0.gatherRows(indices) },
                       outputs: try outputs.map { try $0.gatherRows(indices) },
                       ids: indices.map { ids[$0] })
    }

    static func concatenate(_ parts: [ActivationRows]) throws -> ActivationRows {
        let layers = parts[0].inputs.count
        return ActivationRows(
            inputs: try (0..<layers).map { l in try Tensor.concatenate(parts.map { $0.inputs[l] }, axis: 0) },
            outputs: try (0..<layers).map { l in try Tensor.concatenate(parts.map { $0.outputs[l] }, axis: 0) },
            ids: parts.flatMap(\.ids))
    }
}

extension TransformerModel {
    /// What a corpus sequence is prefixed with: the BOS token when the model's prompts start with
    /// one, nothing otherwise (the sequence's first token then takes position 0, which, as BOS
    /// does, has no features).
    public var sequencePrefix: [Int] { startsWithBOS ? [configuration.bosTokenId ?? 0] : [] }
}

/// Runs model batches.
struct ActivationSource {
    let model: TransformerModel
    let corpus: TokenCorpus
    let sequencesPerBatch: Int
    let heldOut: Bool
    /// Where layer l's transcoder reads and writes.
    var inputPoint: (Int) -> HookPoint = TranscoderSet.defaultInputPoint
    var outputPoint: (Int) -> HookPoint = TranscoderSet.defaultOutputPoint
    /// The layers whose rows a batch holds (all when nil); `inputs[i]` is the i-th of them.
    var layers: [Int]? = nil

    /// Positions of each sequence as the model sees it.
    var length: Int { model.sequencePrefix.count + corpus.sequenceLength }

    /// Rows per model batch (position 0 excluded).
    var rowsPerBatch: Int { sequencesPerBatch * (length - 1) }

    func sequences(_ batch: Int) -> [[Int]] {
        let available = heldOut ? corpus.heldOutSequences : corpus.trainSequences
        return (0..<sequencesPerBatch).map { j in
            model.sequencePrefix + corpus.sequence((batch * sequencesPerBatch + j) % available, heldOut: heldOut)
        }
    }

    func batch(_ index: Int) throws -> ActivationRows {
        let layers = self.layers ?? Array(0..<model.configuration.layers)
        let points = Set(layers.flatMap { [inputPoint($0), outputPoint($0)] })
        // Layers after the last point needed are not run.
        let cache = try model.activations(sequences(index), at: points)
        let (s, n, d) = (sequencesPerBatch, length, model.configuration.width)
        // Rows of positions 1..<n of every sequence.
        let keep = (0..<s).flatMap { j in (1..<n).map { j * n + $0 } }
        func rows(_ point: HookPoint) throws -> Tensor {
            let value = cache[point]!
            return try value.reshaped([s * n, value.shape.last ?? d]).gatherRows(keep)
        }
        let inputs = try layers.map { try rows(inputPoint($0)) }
        // An SAE reads and reconstructs one point: its outputs are its inputs (shared storage).
        let outputs = try layers.enumerated().map { i, l in outputPoint(l) == inputPoint(l) ? inputs[i] : try rows(outputPoint(l)) }
        return ActivationRows(inputs: inputs, outputs: outputs,
                              ids: (0..<keep.count).map { RowID(batch: index, row: $0) })
    }
}

/// The shuffled buffer: holds unused rows between steps.
struct ShuffledBuffer {
    var pending: ActivationRows?

    /// Adds rows, then returns `count` of all held rows chosen at random; the rest stay.
    mutating func exchange(adding rows: ActivationRows, taking count: Int, random: inout SeededGenerator) throws -> ActivationRows {
        let all = try pending.map { try ActivationRows.concatenate([$0, rows]) } ?? rows
        var order = Array(0..<all.count)
        order.shuffle(using: &random)
        let taken = min(count, all.count)
        pending = taken < all.count ? try all.gathered(Array(order[taken...])) : nil
        return try all.gathered(Array(order[..<taken]))
    }
}
