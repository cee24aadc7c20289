// What each attention head does, read from its pattern P[i, j] (query i, key j):
//
//   previous_token  mean over i ≥ 1 of P[i, i−1]
//   bos             mean over i ≥ 1 of P[i, 0]            (attention to the first position)
//   entropy         mean over i ≥ 1 of −Σ_j P[i, j] ln P[i, j]   (nats)
//   induction       on a random sequence repeated twice (r r, after BOS when the model uses one):
//                   mean over the second copy's positions i of P[i, i − T + 1], the token after
//                   the previous occurrence of the current one (T = length of r)
//   duplicate       on the same sequence: mean of P[i, i − T], the previous occurrence itself
//   prompt_induction on the prompt itself: mean, over positions whose token occurred before, of
//                   the attention to the token after its latest earlier occurrence
//
// A head is classified by the first threshold it passes, in this order: induction ≥ 0.4,
// previous-token ≥ 0.4, duplicate-token ≥ 0.4, BOS sink (bos ≥ 0.8); otherwise none.

import LanguageModels
import TensorCore

public struct HeadScores: Sendable {
    /// [layer][head] each.
    public var previousToken: [[Double]], bos: [[Double]], entropy: [[Double]]
    public var induction: [[Double]], duplicate: [[Double]]
    /// nil when no token of the prompt repeats.
    public var promptInduction: [[Double]]?

    public static let thresholds: [(kind: String, score: String, atLeast: Double)] = [
        ("induction", "induction", 0.4), ("previous-token", "previous_token", 0.4),
        ("duplicate-token", "duplicate", 0.4), ("BOS sink", "bos", 0.8),
    ]

    /// The classification of head (l, h), or nil.
    public func kind(layer l: Int, head h: Int) -> String? {
        let scores = ["induction": induction[l][h], "previous_token": previousToken[l][h], "duplicate": duplicate[l][h], "bos": bos[l][h]]
        return HeadScores.thresholds.first { scores[$0.score]! >= $0.atLeast }?.kind
    }

    /// A random sequence of `length` token ids repeated twice, after BOS when the model starts prompts with it.
    public static func repeatedRandomTokens(model: TransformerModel, length: Int, seed: UInt64 = 0, bos: Int?) throws -> [Int] {
        guard length >= 2 else { throw AnalysisError.tooShort("the repeated sequence needs at least 2 tokens (--length)") }
        let v = model.configuration.vocabularySize
        let special = Set([model.configuration.bosTokenId, model.configuration.eosTokenId, bos].compactMap { $0 })
        var generator = SeededGenerator(seed: seed)
        var r = [Int]()
        while r.count < length {
            let id = Int(generator.next() % UInt64(v))
            if !special.contains(id) { r.append(id) }
        }
        return (bos.map { [$0] } ?? []) + r + r
    }

    /// Scores every head: prompt scores on `prompt`, induction and duplicate scores on `repeated`
    /// (a sequence from `repeatedRandomTokens`, whose copies have length `length` after `offset` tokens).
    public static func run(model: TransformerModel, prompt: [Int], repeated: [Int], length T: Int, offset: Int) throws -> HeadScores {
        guard prompt.count >= 2 else { throw AnalysisError.tooShort("head scores need a prompt of at least 2 tokens") }
        guard repeated.count == offset + 2 * T else { throw AnalysisError.tooShort("the repeated sequence is not \(offset) + 2 × \(T) tokens") }
        let c = model.configuration
        let patterns: CacheSelection = .matching { if case .attnPattern = $0 { true } else { false } }
        let onPrompt = try model.forward([prompt], cache: patterns, logits: .none).cache
        let onRepeat = try model.forward([repeated], cache: patterns, logits: .none).cache
        let n = prompt.count
        // The position after the latest earlier occurrence of each position's token.
        var seen = [Int: Int](), after = [Int?](repeating: nil, count: n)
        for (i, t) in prompt.enumerated() {
            if let j = seen[t], j + 1 <= i { after[i] = j + 1 }
            seen[t] = i
        }
        let repeats = after.compactMap { $0 }.count
        var scores = HeadScores(previousToken: [], bos: [], entropy: [], induction: [], duplicate: [], promptInduction: repeats > 0 ? [] : nil)
        for l in 0..<c.layers {
            let p = onPrompt[.attnPattern(layer: l)]!.scalars, q = onRepeat[.attnPattern(layer: l)]!.scalars
            let m = repeated.count
            var prev = [Double](), bos = [Double](), entropy = [Double](), induction = [Double](), duplicate = [Double](), promptInduction = [Double]()
            for h in 0..<c.heads {
                func P(_ i: Int, _ j: Int) -> Double { Double(p[(h * n + i) * n + j]) }
                func Q(_ i: Int, _ j: Int) -> Double { Double(q[(h * m + i) * m + j]) }
                var sums = (prev: 0.0, bos: 0.0, entropy: 0.0, prompt: 0.0)
                for i in 1..<n {
                    sums.prev += P(i, i - 1)
                    sums.bos += P(i, 0)
                    for j in 0...i where P(i, j) > 0 { sums.entropy -= P(i, j) * Foundation.log(P(i, j)) }
                    if let a = after[i] { sums.prompt += P(i, a) }
                }
                prev.append(sums.prev / Double(n - 1))
                bos.append(sums.bos / Double(n - 1))
                entropy.append(sums.entropy / Double(n - 1))
                if repeats > 0 { promptInduction.append(sums.prompt / Double(repeats)) }
                var ind = 0.0, dup = 0.0
                for i in (offset + T)..<(offset + 2 * T) {
                    ind += Q(i, i - T + 1)
                    dup += Q(i, i - T)
                }
                induction.append(ind / Double(T))
                duplicate.append(dup / Double(T))
            }
            scores.previousToken.append(prev)
            scores.bos.append(bos)
            scores.entropy.append(entropy)
            scores.induction.append(induction)
            scores.duplicate.append(duplicate)
            if repeats > 0 { scores.promptInduction!.append(promptInduction) }
        }
        return scores
    }

    /// One head's pattern on a prompt: [n, n] (query rows, key columns).
    public static func pattern(model: TransformerModel, tokens: [Int], layer l: Int, head h: Int) throws -> [[Double]] {
        let c = model.configuration
        guard (0..<c.layers).contains(l) else { throw AnalysisError.layerOutOfRange(layer: l, layers: c.layers) }
        guard (0..<c.heads).contains(h) else { throw AnalysisError.headOutOfRange(head: h, heads: c.heads) }
        guard !tokens.isEmpty else { throw AnalysisError.emptyPrompt }
        let cache = try model.forward([tokens], cache: .points([.attnPattern(layer: l)]), logits: .none).cache
        let p = cache[.attnPattern(layer: l)]!.scalars, n = tokens.count
        return (0..<n).map { i in (0..<n).map { j in Double(p[(h * n + i) * n + j]) } }
    }
}

import Foundation
