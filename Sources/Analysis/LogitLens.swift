// The logit lens: the residual stream after each layer, read as if it were the last one. Each
// row goes through the final norm (with that row's own scale, as the model would normalise it)
// and the unembedding (soft-capped where the model caps its logits), then a softmax:
//
//   lens(l, i) = softmax(cap(norm_final(x_l[i]) · W_Uᵀ))      x_l = hook_resid_post of layer l
//
// Row "embed" is the stream before the first block (blocks.0.hook_resid_pre); the last row is the
// model's own output distribution. One forward pass records every layer; the unembedding runs
// one layer's positions at a time, so memory stays at n × v floats.

import LanguageModels
import TensorCore

/// Top tokens and a target's probability at every layer and position.
public struct LogitLens: Sendable {
    public struct Cell: Sendable {
        /// The most likely tokens, best first, with their probabilities.
        public var top: [(id: Int, prob: Float)]
        /// The target's probability and rank (0 = most likely), when a target was given.
        public var targetProb: Float?
        public var targetRank: Int?
    }

    /// Row names: "embed", then each layer's index.
    public var rows: [String]
    /// [row][position]
    public var cells: [[Cell]]
    public var target: Int?

    /// Runs the lens on one prompt's token ids.
    public static func run(model: TransformerModel, tokens: [Int], target: Int? = nil, top k: Int = 5) throws -> LogitLens {
        guard !tokens.isEmpty else { throw AnalysisError.emptyPrompt }
        let c = model.configuration
        if let target, !(0..<c.vocabularySize).contains(target) {
            throw LanguageModelError.tokenOutOfRange(id: target, vocabularySize: c.vocabularySize)
        }
        let cells = try streams(model: model, tokens: tokens).map { stream in
            try lensRow(try model.logits(of: try model.finalNormalized(stream)), target: target, top: k)      // [n, v] logits
        }
        return LogitLens(rows: ["embed"] + (0..<c.layers).map(String.init), cells: cells, target: target)
    }

    /// The stream of each lens row for one prompt, [rows][n, d]: entering block 0, then leaving each block.
    static func streams(model: TransformerModel, tokens: [Int]) throws -> [Tensor] {
        let c = model.configuration
        let points: [HookPoint] = [.residPre(layer: 0)] + (0..<c.layers).map { .residPost(layer: $0) }
        let run = try model.forward([tokens], cache: .points(Set(points)), logits: .none)
        return try points.map { try run.cache[$0]!.reshaped([tokens.count, c.width]) }
    }

    /// One row of cells from logits [n, v].
    static func lensRow(_ logits: Tensor, target: Int?, top k: Int) throws -> [Cell] {
        let (n, v) = (logits.shape[0], logits.shape[1])
        let probabilities = try logits.softmax()
        var row = [Cell]()
        var scratch = [Float]()
        probabilities.scalars.withUnsafeBufferPointer { p in
            for i in 0..<n {
                let r = UnsafeBufferPointer(rebasing: p[(i * v)..<((i + 1) * v)])
                let best = topKIndices(r, min(k, v), scratch: &scratch)
                var cell = Cell(top: best.map { ($0, r[$0]) })
                if let target {
                    let t = r[target]
                    cell.targetProb = t
                    cell.targetRank = r.reduce(0) { $0 + ($1 > t ? 1 : 0) }
                }
                row.append(cell)
            }
        }
        return row
    }
}
