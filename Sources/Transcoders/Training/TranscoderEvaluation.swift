// Quality of a transcoder set on held-out text:
//   - per layer: fraction of variance unexplained FVU = Σ‖y − ŷ‖² / Σ‖y − ȳ‖² (normalised MSE),
//     mean L0 (active features per token), and the fraction of features that never fire;
//   - the model's next-token loss with every MLP replaced by its transcoder (the "spliced"
//     model), against the original model's loss on the same tokens.
// Position 0 (BOS) is excluded everywhere, as in attribution graphs; the spliced model keeps the
// true MLP output there.

import Foundation
import LanguageModels
import TensorCore

public struct LayerQuality: Codable, Sendable {
    public var layer: Int
    public var fvu: Double
    public var meanL0: Double
    public var deadFraction: Double
}

public struct TranscoderQuality: Codable, Sendable {
    public var layers: [LayerQuality]
    public var tokens: Int
    /// Mean next-token cross-entropy (nats) of the original and of the spliced model.
    public var originalLoss: Double
    public var splicedLoss: Double

    public var splicedLossIncrease: Double { splicedLoss - originalLoss }
    public var medianFVU: Double { median(layers.map(\.fvu)) }
    public var worstFVU: Double { layers.map(\.fvu).max() ?? .nan }
    public var meanL0: Double { layers.map(\.meanL0).reduce(0, +) / Double(max(layers.count, 1)) }
    public var meanDeadFraction: Double { layers.map(\.deadFraction).reduce(0, +) / Double(max(layers.count, 1)) }
}

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

public enum TranscoderEvaluation {
    /// Evaluates on `sequences` held-out sequences of the corpus, `batch` at a time.
    public static func evaluate(set: TranscoderSet, model: TransformerModel, corpus: TokenCorpus, sequences: Int = 64, batch: Int = 16,
                                progress: (Int, Int) -> Void = { _, _ in }) throws -> TranscoderQuality {
        try set.validate(for: model)
        let count = min(sequences, corpus.heldOutSequences)
        guard count > 0 else { throw TranscoderError.corpus("no held-out sequences to evaluate on") }
        let layers = set.layers, d = set.modelWidth
        var errorSum = [Double](repeating: 0, count: layers), sum = [[Double]](repeating: [Double](repeating: 0, count: d), count: layers)
        var squareSum = [Double](repeating: 0, count: layers), l0Sum = [Double](repeating: 0, count: layers)
        var fired = [[Bool]](repeating: [Bool](repeating: false, count: set.features), count: layers)
        var originalNLL = 0.0, splicedNLL = 0.0, tokens = 0
        let source = ActivationSource(model: model, corpus: corpus, sequencesPerBatch: 1, heldOut: true,
                                      inputPoint: set.inputPoint, outputPoint: set.outputPoint)
        for start in stride(from: 0, to: count, by: batch) {
            let ids = (start..<min(start + batch, count)).map { source.sequences($0)[0] }
            let n = ids[0].count
            let points = Set((0..<layers).flatMap { [set.inputPoint(layer: $0), set.outputPoint(layer: $0)] })
            let clean = try model.forward(ids, cache: .points(points), logits: .all)
            // Reconstruction statistics per layer (positions 1..<n).
            let keep = (0..<ids.count).flatMap { j in (1..<n).map { j * n + $0 } }
            let xs = try (0..<layers).map { try clean.cache[set.inputPoint(layer: $0)]!.reshaped([ids.count * n, d]).gatherRows(keep) }
            let (activations, reconstructions) = try set.reconstruct(inputs: xs)
            for l in 0..<layers {
                let y = try clean.cache[set.outputPoint(layer: l)]!.reshaped([ids.count * n, d]).gatherRows(keep)
                let active = activations[l]
                errorSum[l] += Double(try (reconstructions[l] - y).squared().sum())
                squareSum[l] += Double(y.squared().sum())
                for r in 0..<keep.count { for j in 0..<d { sum[l][j] += Double(y.scalars[r * d + j]) } }
                l0Sum[l] += Double(active.count)
                for f in active.features { fired[l][Int(f)] = true }
            }
            // The spliced model: every MLP output replaced by its transcoder's, from this run's input.
            let spliced = try model.forward(ids, hooks: splicingHooks(set), logits: .all)
            let v = model.configuration.vocabularySize
            let cleanLog = try clean.logits.reshaped([ids.count * n, v]).logSoftmax()
            let splicedLog = try spliced.logits.reshaped([ids.count * n, v]).logSoftmax()
            for (j, sequence) in ids.enumerated() {
                for p in 1..<(n - 1) {
                    let row = (j * n + p) * v + sequence[p + 1]
                    originalNLL -= Double(cleanLog.scalars[row])
                    splicedNLL -= Double(splicedLog.scalars[row])
                }
            }
            tokens += keep.count
            progress(min(start + batch, count), count)
        }
        let predicted = count * (source.length - 2)
        let quality = (0..<layers).map { l -> LayerQuality in
            // Σ‖y − ȳ‖² = Σ‖y‖² − N‖ȳ‖²
            let meanSquare = sum[l].reduce(0) { $0 + $1 * $1 } / Double(tokens)
            let centred = squareSum[l] - meanSquare
            return LayerQuality(layer: l, fvu: errorSum[l] / max(centred, 1e-30), meanL0: l0Sum[l] / Double(tokens),
                                deadFraction: Double(fired[l].filter { !$0 }.count) / Double(set.features))
        }
        return TranscoderQuality(layers: quality, tokens: tokens, originalLoss: originalNLL / Double(predicted),
                                 splicedLoss: splicedNLL / Double(predicted))
    }

    /// Hooks that replace each layer's MLP output by its reconstruction from the same run's MLP
    /// inputs (across layers: what this and every earlier layer's features write to it), at every
    /// position but 0.
    public static func splicingHooks(_ set: TranscoderSet) -> [HookPoint: Hook] {
        let inputs = InputBox()
        var hooks = [HookPoint: Hook]()
        for l in 0..<set.layers {
            hooks[set.inputPoint(layer: l)] = { _, value in
                inputs.value = value
                if l == 0 { inputs.pending = [:] }     // a new forward pass
            }
            hooks[set.outputPoint(layer: l)] = { _, value in
                guard let x = inputs.value else { return }
                let (b, n, d) = (value.shape[0], value.shape[1], value.shape[2])
                let t = try set[l], rows = try x.reshaped([b * n, d])
                let writes = try t.writes(t.encode(rows))
                var reconstruction = try t.affine(rows: b * n, input: rows) + writes[0]
                if let earlier = inputs.pending.removeValue(forKey: l) { try reconstruction.add(earlier) }
                for k in writes.indices.dropFirst() {
                    if inputs.pending[l + k] == nil { inputs.pending[l + k] = writes[k] } else { try inputs.pending[l + k]!.add(writes[k]) }
                }
                for j in 0..<b {
                    for p in 1..<n {
                        let base = (j * n + p) * d
                        for i in 0..<d { value.scalars[base + i] = reconstruction.scalars[base + i] }
                    }
                }
            }
        }
        return hooks
    }
}

/// The MLP input of the layer being run, handed from the `mlp.hook_in` hook to `hook_mlp_out`.
final class InputBox: @unchecked Sendable {
    var value: Tensor?
    /// Across layers: what earlier layers' features write to each later layer's output.
    var pending = [Int: Tensor]()
}
