// Influence, pruning and graph scores (ATTRIBUTION.md §6–7), following circuit-tracer 0.5.0's
// graph.py exactly:
//   Â = |A| with each row divided by its sum (sums clamped at 1e-10)
//   influence I = w·Â + w·Â² + …, with w the logit probabilities on logit rows (the graph is
//   acyclic, so the series ends; iterated until the vector is exactly zero)
//   node pruning: keep nodes whose influence is at least the score at which the cumulative share
//   (over every node, sorted) first reaches the node threshold; tokens and logits always stay
//   edge pruning: on the node-pruned matrix, recompute Â and I, score each edge
//   Â[t, s]·(I_t + w_t), keep scores at least the threshold score over all entries
//   then repeatedly drop feature and error nodes with no outgoing edge and feature nodes with no
//   incoming edge.
// Matrices are square over the graph's nodes (NodeLayout order); rows are targets.

import Foundation
import TensorCore

public enum Influence {
    /// Row-normalised absolute values of a square matrix [N, N], in one pass.
    static func normalized(_ a: Tensor, clamp: Float = 1e-10) -> Tensor {
        let n = a.shape[0]
        return (try? Tensor(shape: a.shape) { out in
            a.scalars.withUnsafeBufferPointer { src in
                for r in 0..<n {
                    let row = src.baseAddress! + r * n, dst = out.baseAddress! + r * n
                    for j in 0..<n { dst[j] = abs(row[j]) }
                    let inverse = 1 / max(VectorReduce.sum(dst, n), clamp)
                    for j in 0..<n { dst[j] *= inverse }
                }
            }
        }) ?? a
    }

    /// I = w·Â + w·Â² + … for a row-normalised Â.
    static func influence(_ normalized: Tensor, weights: [Float], maxIterations: Int = 1000) throws -> [Float] {
        var current = try Tensor.matvec(normalized, Tensor(weights), transposeA: true)
        var total = current.scalars
        var iterations = 0
        while current.scalars.contains(where: { $0 != 0 }) {
            guard iterations < maxIterations else { throw AttributionError.notConverged("influence") }
            current = try Tensor.matvec(normalized, current, transposeA: true)
            for i in total.indices { total[i] += current.scalars[i] }
            iterations += 1
        }
        return total
    }

    /// Influence of every node on the logits.
    public static func nodeInfluence(adjacency: Tensor, logitWeights: [Float]) throws -> [Float] {
        try influence(normalized(adjacency), weights: logitWeights)
    }

    /// The score at which the cumulative share of the sorted scores first reaches `threshold`
    /// (as torch.searchsorted over the descending cumulative sum). Zero scores add nothing to the
    /// sum, so only the positive ones are sorted; if they do not reach the share, the answer is 0.
    static func threshold(_ scores: [Float], keeping threshold: Double) -> Float {
        var positive = [Float]()
        positive.reserveCapacity(min(scores.count, 1 << 20))
        for s in scores where s > 0 { positive.append(s) }
        guard !positive.isEmpty else { return 0 }
        let smallest = positive.min() ?? 0
        let fallback: Float = scores.count > positive.count ? 0 : smallest
        let total = positive.reduce(0.0) { $0 + Double($1) }
        let wanted = Float(threshold)
        func reached(_ running: Double) -> Bool { Float(running / total) >= wanted }
        // Selection instead of a full sort: split the candidates around a pivot into those above,
        // equal to and below it; the answer lies where the running share first reaches the
        // threshold. Small ranges are sorted and walked as the sorted list would be.
        var lo = 0, hi = positive.count, above = 0.0
        var generator = SeededGenerator(seed: UInt64(positive.count))   // the same pivots on every run
        return positive.withUnsafeMutableBufferPointer { v -> Float in
            while hi - lo > 2048 {
                let pivot = v[lo + Int(generator.next() % UInt64(hi - lo))]
                // Three-way partition of v[lo..<hi]: > pivot, == pivot, < pivot.
                var greater = lo, i = lo, smaller = hi
                while i < smaller {
                    if v[i] > pivot { v.swapAt(i, greater); greater += 1; i += 1 } else if v[i] < pivot { smaller -= 1; v.swapAt(i, smaller) } else { i += 1 }
                }
                var sumGreater = 0.0, sumEqual = 0.0
                for k in lo..<greater { sumGreater += Double(v[k]) }
                for k in greater..<smaller { sumEqual += Double(v[k]) }
                if greater > lo && reached(above + sumGreater) {
                    hi = greater
                } else if reached(above + sumGreater + sumEqual) {
                    // Within the run of equal values: the first one that reaches it is the pivot.
                    return pivot
                } else {
                    above += sumGreater + sumEqual
                    lo = smaller
                }
            }
            var rest = UnsafeMutableBufferPointer(rebasing: v[lo..<hi])
            rest.sort(by: >)
            var running = above
            for s in rest {
                running += Double(s)
                if reached(running) { return s }
            }
            // The walk over the sorted list ends at a share of exactly 1 (its running sum is its
            // total), so any threshold up to 1 is reached by the smallest score at the latest; the
            // sums here, taken in another order, may fall short by a rounding.
            return threshold <= 1 ? smallest : fallback
        }
    }

    /// The sort-based form of `threshold` (the definition; tests check the selection against it).
    static func thresholdBySorting(_ scores: [Float], keeping threshold: Double) -> Float {
        var positive = [Float]()
        for s in scores where s > 0 { positive.append(s) }
        guard !positive.isEmpty else { return 0 }
        positive.sort(by: >)
        let total = positive.reduce(0.0) { $0 + Double($1) }
        var running = 0.0
        for s in positive {
            running += Double(s)
            if Float(running / total) >= Float(threshold) { return s }
        }
        return scores.count > positive.count ? 0 : positive[positive.count - 1]
    }

    /// The pruned graph: which nodes and edges stay.
    public struct Pruning: Sendable, Equatable {
        public var nodes: [Bool]
        /// [N, N] row-major, true where the edge t ← s stays.
        public var edges: [Bool]
        public var nodeInfluence: [Float]

        public init(nodes: [Bool], edges: [Bool], nodeInfluence: [Float]) {
            self.nodes = nodes
            self.edges = edges
            self.nodeInfluence = nodeInfluence
        }
    }

    /// `influence` may pass the unpruned graph's node influence when it is already known (it does
    /// not depend on the thresholds), saving one solve.
    public static func prune(adjacency a: Tensor, layout: NodeLayout, logitProbabilities: [Float],
                             nodeThreshold: Double, edgeThreshold: Double, influence known: [Float]? = nil) throws -> Pruning {
        let n = layout.count
        let weights = logitWeights(layout, logitProbabilities)
        let influence = try known ?? nodeInfluence(adjacency: a, logitWeights: weights)
        let nodeCut = threshold(influence, keeping: nodeThreshold)
        var keep = influence.map { $0 >= nodeCut }
        for i in layout.tokenStart..<n { keep[i] = true }

        // Edge scores on the node-pruned graph: Â'[t, s]·(I'_t + w_t).
        let pruned = try Tensor(shape: [n, n]) { out in
            a.scalars.withUnsafeBufferPointer { src in
                for t in 0..<n {
                    let row = src.baseAddress! + t * n, dst = out.baseAddress! + t * n
                    if !keep[t] { for s in 0..<n { dst[s] = 0 }; continue }
                    for s in 0..<n { dst[s] = keep[s] ? row[s] : 0 }
                }
            }
        }
        var scores = normalized(pruned)
        var prunedInfluence = try Influence.influence(scores, weights: weights)
        for i in 0..<n { prunedInfluence[i] += weights[i] }
        scores.scalars.withUnsafeMutableBufferPointer { p in
            for t in 0..<n {
                let factor = prunedInfluence[t], row = p.baseAddress! + t * n
                for s in 0..<n { row[s] *= factor }
            }
        }
        let edgeCut = threshold(scores.scalars, keeping: edgeThreshold)
        var edges = scores.scalars.map { $0 >= edgeCut }

        // Drop nodes left without outgoing edges (features, errors) or incoming edges (features),
        // until nothing changes. Both tests are row scans of the edge mask.
        while true {
            var outgoing = [Bool](repeating: false, count: n), incoming = [Bool](repeating: false, count: n)
            for t in 0..<n {
                for s in 0..<n where edges[t * n + s] { outgoing[s] = true; incoming[t] = true }
            }
            var changed = false
            for s in 0..<layout.tokenStart where keep[s] && !outgoing[s] { keep[s] = false; changed = true }
            for t in 0..<layout.features where keep[t] && !incoming[t] { keep[t] = false; changed = true }
            guard changed else { break }
            for i in 0..<n where !keep[i] {
                for j in 0..<n { edges[i * n + j] = false; edges[j * n + i] = false }
            }
        }
        return Pruning(nodes: keep, edges: edges, nodeInfluence: influence)
    }

    public static func logitWeights(_ layout: NodeLayout, _ probabilities: [Float]) -> [Float] {
        var weights = [Float](repeating: 0, count: layout.count)
        for (i, p) in probabilities.enumerated() { weights[layout.logit(i)] = p }
        return weights
    }

    /// Replacement and completeness scores of the unpruned graph (ATTRIBUTION.md §7).
    public static func scores(adjacency a: Tensor, layout: NodeLayout, logitProbabilities: [Float]) throws -> (replacement: Double, completeness: Double) {
        let n = layout.count
        let weights = logitWeights(layout, logitProbabilities)
        let norm = normalized(a)
        let influence = try Influence.influence(norm, weights: weights)
        let tokenInfluence = (layout.tokenStart..<layout.logitStart).reduce(0.0) { $0 + Double(influence[$1]) }
        let errorInfluence = (layout.errorStart..<layout.tokenStart).reduce(0.0) { $0 + Double(influence[$1]) }
        var weighted = 0.0, total = 0.0
        norm.scalars.withUnsafeBufferPointer { p in
            for t in 0..<n {
                let output = Double(influence[t] + weights[t])
                var errorShare = 0.0
                for s in layout.errorStart..<layout.tokenStart { errorShare += Double(p[t * n + s]) }
                weighted += (1 - errorShare) * output
                total += output
            }
        }
        return (tokenInfluence / (tokenInfluence + errorInfluence), weighted / total)
    }

    /// circuit-tracer's partial influences while rows are still being computed: the rows computed
    /// so far (`rows` [r, C], row i belongs to node rowNode[i]), normalised with sums clamped at
    /// 1e-8, iterated from the logit probabilities. Returns an influence per column.
    static func partial(rows: UnsafePointer<Float>, count r: Int, columns c: Int, rowNode: [Int],
                        logitProbabilities: [Float], logitStart: Int, maxIterations: Int = 128) throws -> [Float] {
        // Row sums of |A| once; the iteration then never copies the matrix.
        var inverseSums = [Float](repeating: 0, count: r)
        for i in 0..<r {
            var total: Float = 0
            let row = rows + i * c
            for j in 0..<c { total += abs(row[j]) }
            inverseSums[i] = 1 / max(total, 1e-8)
        }
        let nodes = c + logitProbabilities.count
        var product = [Float](repeating: 0, count: nodes)
        for (i, p) in logitProbabilities.enumerated() { product[logitStart + i] = p }
        var influence = [Float](repeating: 0, count: nodes)
        for _ in 0..<maxIterations {
            var next = [Float](repeating: 0, count: nodes)
            var any = false
            next.withUnsafeMutableBufferPointer { out in
                for i in 0..<r {
                    let w = product[rowNode[i]] * inverseSums[i]
                    if w == 0 { continue }
                    let row = rows + i * c
                    for j in 0..<c { out[j] += w * abs(row[j]) }
                }
            }
            for j in 0..<nodes where next[j] != 0 { any = true; break }
            if !any { return influence }
            for j in 0..<nodes { influence[j] += next[j] }
            product = next
        }
        throw AttributionError.notConverged("partial influence")
    }
}
