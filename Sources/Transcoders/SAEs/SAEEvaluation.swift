// Quality of an SAE on held-out text, as SAELens reports it:
//   FVU = Σ‖x − x̂‖² / Σ‖x − x̄‖², mean L0, the fraction of features that never fire, and the
//   next-token loss with the hook point replaced by its reconstruction (spliced) against the
//   original and against the point zeroed (zero-ablated): loss recovered =
//   (zero − spliced) / (zero − original). Position 0 (BOS) keeps its true value everywhere.

import Foundation
import LanguageModels
import TensorCore

public struct SAEQuality: Codable, Sendable {
    public var hookName: String
    public var tokens: Int
    public var fvu: Double
    public var meanL0: Double
    public var deadFraction: Double
    public var originalLoss: Double
    public var splicedLoss: Double
    public var zeroAblatedLoss: Double

    public var splicedLossIncrease: Double { splicedLoss - originalLoss }
    /// 1 when splicing costs nothing, 0 when it is as bad as zeroing the point.
    public var lossRecovered: Double { (zeroAblatedLoss - splicedLoss) / max(zeroAblatedLoss - originalLoss, 1e-12) }
}

public enum SAEEvaluation {
    /// Evaluates on `sequences` held-out sequences of the corpus, `batch` at a time.
    public static func evaluate(_ sae: SparseAutoencoder, model: TransformerModel, corpus: TokenCorpus, sequences: Int = 64, batch: Int = 16,
                                progress: (Int, Int) -> Void = { _, _ in }) throws -> SAEQuality {
        let point = try sae.validate(for: model)
        let count = min(sequences, corpus.heldOutSequences)
        guard count > 0 else { throw TranscoderError.corpus("no held-out sequences to evaluate on") }
        let d = sae.width
        var errorSum = 0.0, squareSum = 0.0, sum = [Double](repeating: 0, count: d), l0Sum = 0.0, tokens = 0
        var fired = [Bool](repeating: false, count: sae.features)
        var nll = [0.0, 0.0, 0.0]
        let source = ActivationSource(model: model, corpus: corpus, sequencesPerBatch: 1, heldOut: true)
        for start in stride(from: 0, to: count, by: batch) {
            let ids = (start..<min(start + batch, count)).map { source.sequences($0)[0] }
            let n = ids[0].count
            let clean = try model.forward(ids, cache: .points([point]), logits: .all)
            let keep = (0..<ids.count).flatMap { j in (1..<n).map { j * n + $0 } }
            let x = try clean.cache[point]!.reshaped([ids.count * n, d]).gatherRows(keep)
            let active = try sae.encode(x)
            let reconstruction = try sae.decode(active)
            errorSum += Double(try (reconstruction - x).squared().sum())
            squareSum += Double(x.squared().sum())
            for r in 0..<keep.count { for j in 0..<d { sum[j] += Double(x.scalars[r * d + j]) } }
            l0Sum += Double(active.count)
            for f in active.features { fired[Int(f)] = true }
            let spliced = try model.forward(ids, hooks: [point: replacingHook(keep: keep, rows: reconstruction)], logits: .all)
            let zeroed = try model.forward(ids, hooks: [point: replacingHook(keep: keep, rows: try Tensor(zeros: [keep.count, d]))], logits: .all)
            let v = model.configuration.vocabularySize
            for (k, run) in [clean, spliced, zeroed].enumerated() {
                let log = try run.logits.reshaped([ids.count * n, v]).logSoftmax()
                for (j, sequence) in ids.enumerated() { for p in 1..<(n - 1) { nll[k] -= Double(log.scalars[(j * n + p) * v + sequence[p + 1]]) } }
            }
            tokens += keep.count
            progress(min(start + batch, count), count)
        }
        let predicted = Double(count * (source.length - 2))
        let centred = squareSum - sum.reduce(0) { $0 + $1 * $1 } / Double(tokens)
        return SAEQuality(hookName: sae.hookName, tokens: tokens, fvu: errorSum / max(centred, 1e-30), meanL0: l0Sum / Double(tokens),
                          deadFraction: Double(fired.filter { !$0 }.count) / Double(sae.features),
                          originalLoss: nll[0] / predicted, splicedLoss: nll[1] / predicted, zeroAblatedLoss: nll[2] / predicted)
    }

    /// A hook that writes `rows` ([keep.count, d]) over the activation's flattened rows `keep`.
    static func replacingHook(keep: [Int], rows: Tensor) -> Hook {
        { _, value in
            let d = value.shape[value.rank - 1]
            for (r, row) in keep.enumerated() { for j in 0..<d { value.scalars[row * d + j] = rows.scalars[r * d + j] } }
        }
    }
}
