// Influence.prune against its definition written out plainly (ATTRIBUTION.md §6): mask the dropped
// nodes, renormalise, sum the influence series with dense matrix–vector products, score and cut
// the edges by a full sort, drop orphans. Random layered graphs with nodes that reach no logit
// (zero influence, and nodes that feed only those), at thresholds from the traces' to exactly 1,
// where the pruning reuses the graph's influence instead of solving again.

import Testing
import TensorCore
@testable import Attribution
import TestSupport

@Suite struct PruningDefinitionTests {
    /// A layered graph: tokens at level 0, features and errors at levels 1–3, logits at 4; an
    /// edge t ← s only from a lower level. Features with index % 5 == 0 have no outgoing edge, and
    /// those with index % 7 == 0 feed only them: both have no influence.
    static func graph(seed: UInt64) throws -> (Tensor, NodeLayout, [Float]) {
        let layout = NodeLayout(features: 30, layers: 3, positions: 4, logits: 3)
        let n = layout.count
        var random = TestRandom(seed: seed)
        let level = (0..<n).map { i -> Int in
            switch layout.kind(of: i) {
            case .token: return 0
            case .logit: return 4
            case .error: return 1 + (i - layout.errorStart) / layout.positions
            default: return 1 + i % 3
            }
        }
        let weights = random.normal([n, n]).scalars, coins = random.uniform([n, n], 0, 1).scalars
        func inert(_ i: Int) -> Bool { i < layout.features && (i % 5 == 0 || i % 7 == 0) }
        var a = try Tensor(zeros: [n, n])
        for t in 0..<n {
            for s in 0..<n where level[s] < level[t] && coins[t * n + s] < 0.5 {
                if s < layout.features && s % 5 == 0 { continue }                         // reaches nothing
                if s < layout.features && s % 7 == 0 && !(t < layout.features && t % 5 == 0) { continue }  // reaches only those
                if inert(t) && s < layout.features && !inert(s) && coins[s * n + t] < 0.5 { continue }
                a.scalars[t * n + s] = weights[t * n + s]
            }
        }
        return (a, layout, [0.6, 0.3, 0.1])
    }

    /// The pruning as defined, with nothing skipped or reused.
    static func definition(_ a: Tensor, _ layout: NodeLayout, _ p: [Float], nodeThreshold: Double, edgeThreshold: Double) throws -> Influence.Pruning {
        let n = layout.count
        let w = Influence.logitWeights(layout, p)
        func series(_ m: Tensor) throws -> [Float] {
            var total = [Float](repeating: 0, count: n), x = try Tensor.matvec(m, Tensor(w), transposeA: true)
            while x.scalars.contains(where: { $0 != 0 }) {
                for i in 0..<n { total[i] += x.scalars[i] }
                x = try Tensor.matvec(m, x, transposeA: true)
            }
            return total
        }
        let influence = try series(Influence.normalized(a))
        let cut = Influence.thresholdBySorting(influence, keeping: nodeThreshold)
        var keep = influence.map { $0 >= cut }
        for i in layout.tokenStart..<n { keep[i] = true }
        var masked = a
        for t in 0..<n { for s in 0..<n where !keep[t] || !keep[s] { masked.scalars[t * n + s] = 0 } }
        var scores = Influence.normalized(masked)
        let pruned = try series(scores)
        for t in 0..<n { for s in 0..<n { scores.scalars[t * n + s] *= pruned[t] + w[t] } }
        let edgeCut = Influence.thresholdBySorting(scores.scalars, keeping: edgeThreshold)
        var edges = scores.scalars.map { $0 >= edgeCut }
        while true {
            var out = [Bool](repeating: false, count: n), into = [Bool](repeating: false, count: n)
            for t in 0..<n { for s in 0..<n where edges[t * n + s] { out[s] = true; into[t] = true } }
            var changed = false
            for s in 0..<layout.tokenStart where keep[s] && !out[s] { keep[s] = false; changed = true }
            for t in 0..<layout.features where keep[t] && !into[t] { keep[t] = false; changed = true }
            guard changed else { break }
            for i in 0..<n where !keep[i] { for j in 0..<n { edges[i * n + j] = false; edges[j * n + i] = false } }
        }
        return Influence.Pruning(nodes: keep, edges: edges, nodeInfluence: influence)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func pruningFollowsItsDefinition(seed: UInt64) throws {
        let (a, layout, p) = try Self.graph(seed: seed)
        let influence = try Influence.nodeInfluence(adjacency: a, logitWeights: Influence.logitWeights(layout, p))
        #expect(influence.enumerated().contains { $0.offset < layout.features && $0.element == 0 }, "the graph has nodes without influence")
        for (nt, et) in [(0.5, 0.9), (0.8, 0.98), (0.95, 0.99), (0.999, 0.999), (1.0, 0.98), (1.0, 1.0)] {
            let expected = try Self.definition(a, layout, p, nodeThreshold: nt, edgeThreshold: et)
            for known in [nil, influence] {
                let got = try Influence.prune(adjacency: a, layout: layout, logitProbabilities: p, nodeThreshold: nt, edgeThreshold: et, influence: known)
                let sameNodes = got.nodes == expected.nodes, sameEdges = got.edges == expected.edges
                #expect(sameNodes, "seed \(seed), thresholds \(nt)/\(et): \(got.nodes.filter { $0 }.count) nodes, defined \(expected.nodes.filter { $0 }.count)")
                #expect(sameEdges, "seed \(seed), thresholds \(nt)/\(et): \(got.edges.filter { $0 }.count) edges, defined \(expected.edges.filter { $0 }.count)")
                assertClose(Tensor(got.nodeInfluence), Tensor(expected.nodeInfluence), rtol: 1e-5, atol: 1e-7)
            }
        }
    }
}
