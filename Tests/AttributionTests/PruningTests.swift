// Influence, pruning and scores on a small graph whose numbers are worked out by hand.
//
// Nodes (NodeLayout: 2 features, 1 layer, 2 positions, 1 logit):
//   0 f0   1 f1   2 e(0,0)   3 e(0,1)   4 t0   5 t1   6 logit (p = 0.9)
// Edges (target ← source): logit ← f0: 3, logit ← f1: 1, logit ← e01: −1
//                          f0 ← t0: 2, f0 ← t1: 2;  f1 ← t0: 3, f1 ← t1: 1
// Â rows: logit (f0 .6, f1 .2, e01 .2); f0 (t0 .5, t1 .5); f1 (t0 .75, t1 .25)
// I = wÂ + wÂ²: f0 .54, f1 .18, e01 .18, t0 .405, t1 .315
// replacement = (.405 + .315) / (.72 + .18) = 0.8
// completeness = (.9·.8 + .54 + .18 + .18 + .405 + .315) / (.9 + .54 + .18 + .18 + .405 + .315) = 2.34 / 2.52

import Testing
import TensorCore
@testable import Attribution
import TestSupport

@Suite struct PruningTests {
    let layout = NodeLayout(features: 2, layers: 1, positions: 2, logits: 1)

    func adjacency() throws -> Tensor {
        var a = try Tensor(zeros: [7, 7])
        for (t, s, w) in [(6, 0, 3.0), (6, 1, 1), (6, 3, -1), (0, 4, 2), (0, 5, 2), (1, 4, 3), (1, 5, 1)] as [(Int, Int, Float)] {
            a.scalars[t * 7 + s] = w
        }
        return a
    }

    @Test func influenceAndScoresMatchTheHandComputation() throws {
        var w = [Float](repeating: 0, count: 7)
        w[6] = 0.9
        let influence = try Influence.nodeInfluence(adjacency: adjacency(), logitWeights: w)
        assertClose(Tensor(influence), Tensor([0.54, 0.18, 0, 0.18, 0.405, 0.315, 0]), rtol: 1e-6, atol: 1e-6)
        let scores = try Influence.scores(adjacency: adjacency(), layout: layout, logitProbabilities: [0.9])
        assertClose(Float(scores.replacement), 0.8, rtol: 1e-6, atol: 1e-6)
        assertClose(Float(scores.completeness), Float(2.34 / 2.52), rtol: 1e-6, atol: 1e-6)
    }

    @Test func nodeThresholdsKeepTheHandPickedNodes() throws {
        let all = try Influence.prune(adjacency: adjacency(), layout: layout, logitProbabilities: [0.9], nodeThreshold: 0.8, edgeThreshold: 0.98)
        #expect(all.nodes == [true, true, false, true, true, true, true])
        // Every nonzero edge stays at 0.98 (the smallest score, .045, is needed to pass 97.2%).
        #expect(all.edges.enumerated().filter { $0.element }.map(\.offset).sorted() == [0 * 7 + 4, 0 * 7 + 5, 1 * 7 + 4, 1 * 7 + 5, 6 * 7 + 0, 6 * 7 + 1, 6 * 7 + 3])
        let tight = try Influence.prune(adjacency: adjacency(), layout: layout, logitProbabilities: [0.9], nodeThreshold: 0.5, edgeThreshold: 0.98)
        // Cut at .405: f0 and t0 by influence, t1 and the logit always.
        #expect(tight.nodes == [true, false, false, false, true, true, true])
        #expect(tight.edges.enumerated().filter { $0.element }.map(\.offset).sorted() == [0 * 7 + 4, 0 * 7 + 5, 6 * 7 + 0])
    }

    @Test func edgeThresholdsDropWeakEdgesAndThenOrphans() throws {
        // Scores .54 .27 .27 .18 .18 .135 .045 (sum 1.62); at 0.85 the cut is the .18 scores
        // (cumulative .889): f1's edges (.135, .045) go, so f1 loses its inputs and is dropped,
        // which removes logit ← f1 too.
        let pruned = try Influence.prune(adjacency: adjacency(), layout: layout, logitProbabilities: [0.9], nodeThreshold: 0.8, edgeThreshold: 0.85)
        #expect(pruned.nodes == [true, false, false, true, true, true, true])
        #expect(!pruned.edges[6 * 7 + 1] && pruned.edges[6 * 7 + 3])
    }

    @Test func layoutIndexing() {
        let l = NodeLayout(features: 5, layers: 3, positions: 4, logits: 2)
        #expect(l.error(layer: 2, position: 1) == 5 + 9 && l.token(position: 3) == 5 + 12 + 3 && l.logit(1) == 5 + 12 + 4 + 1 && l.count == 23)
        #expect(l.kind(of: 4) == .feature && l.kind(of: 5) == .error && l.kind(of: 17) == .token && l.kind(of: 22) == .logit)
        #expect(l.errorSite(l.error(layer: 2, position: 1)) == (2, 1))
    }
}
