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

    /// I = w·Â + w·Â² + … for a row-normalised Â. Each step is xÂ taken over the rows where x is
    /// not zero: the series moves down the layers, so later steps touch ever fewer rows.
    static func influence(_ normalized: Tensor, weights: [Float], maxIterations: Int = 1000) throws -> [Float] {
        let n = normalized.shape[0]
        var current = weights, next = [Float](repeating: 0, count: n)
        var total = [Float](repeating: 0, count: n)
        var iterations = 0
        try normalized.scalars.withUnsafeBufferPointer { a in
            while true {
                var any = false
                next.withUnsafeMutableBufferPointer { y in
                    for s in 0..<n { y[s] = 0 }
                    for t in 0..<n where current[t] != 0 {
                        let c = current[t], row = a.baseAddress! + t * n
                        for s in 0..<n { y[s] += c * row[s] }
                    }
                    for s in 0..<n where y[s] != 0 { any = true; break }
                }
                guard any else { break }
                guard iterations < maxIterations else { throw AttributionError.notConverged("influence") }
                for i in 0..<n { total[i] += next[i] }
                swap(&current, &next)
                iterations += 1
            }
        }
        return total
    }

    /// Influence of every node on the logits.
    public static func nodeInfluence(adjacency: Tensor, logitWeights: [Float]) throws -> [Float] {
        try influence(normalized(adjacency), weights: logitWeights)
    }

    /// The score at which the cumulative share of the sorted scores first reaches `threshold`
    /// (as torch.searchsorted over the descending cumulative sum). Zero scores add nothing to the
    /// sum, so only the positive ones count; if they do not reach the share, the answer is 0.
    ///
    /// Instead of sorting, one pass sums the scores into bins by the top 16 bits of their IEEE
    /// pattern (for positive floats, the bit pattern orders as the value does): the bins, walked
    /// from the top, say which bin holds the cut; only that bin's scores are sorted and walked.
    static func threshold(_ scores: [Float], keeping threshold: Double) -> Float {
        let bins = 1 << 15
        var sums = [Double](repeating: 0, count: bins), counts = [Int](repeating: 0, count: bins)
        var positives = 0, smallest = Float.infinity
        scores.withUnsafeBufferPointer { v in
            for s in v where s > 0 {
                let b = Int(s.bitPattern >> 16)
                sums[b] += Double(s); counts[b] += 1
                positives += 1
                if s < smallest { smallest = s }
            }
        }
        guard positives > 0 else { return 0 }
        let fallback: Float = scores.count > positives ? 0 : smallest
        var total = 0.0
        for b in stride(from: bins - 1, through: 0, by: -1) where counts[b] > 0 { total += sums[b] }
        let wanted = Float(threshold)
        func reached(_ running: Double) -> Bool { Float(running / total) >= wanted }
        var above = 0.0
        var b = bins - 1
        while b >= 0 {
            if counts[b] > 0 {
                if reached(above + sums[b]) {
                    // The cut is in this bin: walk its scores as the sorted list would. (Its sum,
                    // taken in another order, may round either way: fall through to the next.)
                    var members = [Float]()
                    members.reserveCapacity(counts[b])
                    let key = UInt32(b)
                    for s in scores where s > 0 && s.bitPattern >> 16 == key { members.append(s) }
                    members.sort(by: >)
                    var running = above
                    for s in members {
                        running += Double(s)
                        if reached(running) { return s }
                    }
                    above = running
                } else {
                    above += sums[b]
                }
            }
            b -= 1
        }
        // The walk over the sorted list ends at a share of exactly 1 (its running sum is its
        // total), so any threshold up to 1 is reached by the smallest score at the latest; the
        // sums here, taken in another order, may fall short by a rounding.
        return threshold <= 1 ? smallest : fallback
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

        // Edge scores on the node-pruned graph: Â'[t, s]·(I'_t + w_t), with Â' normalised from
        // the kept rows and columns in one pass (no masked copy of A is made).
        let keptAll = !keep.contains(false)
        var scores = keptAll ? normalized(a) : try Tensor(shape: [n, n]) { out in
            a.scalars.withUnsafeBufferPointer { src in
                for t in 0..<n {
                    let row = src.baseAddress! + t * n, dst = out.baseAddress! + t * n
                    if !keep[t] { for s in 0..<n { dst[s] = 0 }; continue }
                    for s in 0..<n { dst[s] = keep[s] ? abs(row[s]) : 0 }
                    let inverse = 1 / max(VectorReduce.sum(dst, n), 1e-10)
                    for s in 0..<n { dst[s] *= inverse }
                }
            }
        }
        // When every node dropped has no influence (as at thresholds near 1), the kept nodes'
        // influence is the graph's: a node without influence feeds only nodes without it, so the
        // rows its removal renormalises carry nothing in the series, which skips rows of zero.
        let inert = (0..<n).allSatisfy { keep[$0] || (influence[$0] == 0 && weights[$0] == 0) }
        var prunedInfluence = try inert ? influence.indices.map { keep[$0] ? influence[$0] : 0 } : Influence.influence(scores, weights: weights)
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
