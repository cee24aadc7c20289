// The pruning threshold found by selection (Influence.threshold) against its definition, the walk
// down the fully sorted scores (Influence.thresholdBySorting): the same cut on skewed, flat, tied
// and sparse scores, at the thresholds traces use and at the ends.

import Testing
@testable import Attribution
import TestSupport

@Suite struct ThresholdSelectionTests {
    static func scores(_ kind: Int, count: Int, seed: UInt64) -> [Float] {
        var random = TestRandom(seed: seed)
        let u = random.uniform([count], 0, 1).scalars
        switch kind {
        case 0: return u.map { $0 * $0 * $0 * $0 }                      // heavy-tailed, like edge scores
        case 1: return u                                                 // flat
        case 2: return u.map { ($0 * 20).rounded() / 20 }                // many ties
        default: return u.enumerated().map { $0.offset % 3 == 0 ? 0 : $0.element * $0.element }  // a third zero
        }
    }

    @Test(arguments: [0, 1, 2, 3])
    func selectionFindsTheSortedCut(kind: Int) {
        for (count, seed) in [(10, 1), (3000, 2), (50_000, 3), (400_000, 4)] as [(Int, UInt64)] {
            let s = Self.scores(kind, count: count, seed: seed)
            for t in [0.0, 0.1, 0.5, 0.8, 0.9, 0.98, 0.999, 1.0] {
                #expect(Influence.threshold(s, keeping: t) == Influence.thresholdBySorting(s, keeping: t),
                        "kind \(kind), \(count) scores, threshold \(t)")
            }
        }
    }

    @Test func degenerateScores() {
        #expect(Influence.threshold([], keeping: 0.8) == 0)
        #expect(Influence.threshold([0, 0, 0], keeping: 0.8) == 0)
        #expect(Influence.threshold([Float](repeating: 0.5, count: 10_000), keeping: 0.8) == 0.5)
        #expect(Influence.threshold([3], keeping: 1) == 3)
    }
}
