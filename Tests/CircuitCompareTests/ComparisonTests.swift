// Comparison metrics on hand-made graphs, with every value worked out by hand below.

import Foundation
import Testing
@testable import CircuitCompare
@testable import GraphExport
import GraphStore
import TestSupport

enum CompareFixture {
    // A: prompt of 3 tokens. Features (layer, position, feature, influence).
    static let a = HandGraph(prompt: "x y", tokens: ["<s>", "x", "y"],
                             features: [(1, 1, 10, 0.4), (2, 2, 20, 0.3), (3, 2, 30, 0.2), (4, 2, 40, 0.1)],
                             logits: [("P", 0.5)],
                             edges: [("t1", "f0", 1), ("f0", "f1", 1), ("f1", "f2", 1), ("f2", "l0", 1), ("f3", "l0", 1), ("t2", "f3", 1)])
    // B: one token longer; (1,10) and (2,20) sit at the same offsets from the end as in A, (3,30) does not.
    static let b = HandGraph(prompt: "a b c", tokens: ["<s>", "a", "b", "c"],
                             features: [(1, 2, 10, 0.5), (2, 3, 20, 0.25), (3, 1, 30, 0.25), (5, 3, 50, 0.5)],
                             logits: [("Q", 0.4)],
                             edges: [("t2", "f0", 1), ("f0", "f1", 1), ("f1", "f2", 1), ("f2", "l0", 1), ("f3", "l0", 1), ("t3", "f3", 1)])
    static let c = HandGraph(prompt: "z", tokens: ["<s>", "z"],
                             features: [(1, 1, 10, 0.2), (6, 1, 60, 0.1)],
                             logits: [("R", 0.9)],
                             edges: [("t1", "f0", 1), ("f0", "f1", 1), ("f1", "l0", 1)])

    static func store(_ backend: String = "sqlite") throws -> GraphStore {
        let store = try TestStores.make(backend)
        try a.save(into: store, slug: "a")
        try b.save(into: store, slug: "b")
        try c.save(into: store, slug: "c")
        return store
    }
}

func close(_ x: Double?, _ y: Double, _ tolerance: Double = 1e-6) -> Bool { x.map { abs($0 - y) <= tolerance } ?? false }

@Suite struct ComparisonTests {
    static let store: GraphStore = try! CompareFixture.store()

    @Test(arguments: TestStores.backends) func twoGraphs(backend: String) throws {
        let c = try CircuitComparison.compare(["a", "b"], in: backend == "sqlite" ? Self.store : CompareFixture.store(backend))
        // Position-free keys: A {110, 220, 330, 440}, B {110, 220, 330, 550}: 3 shared of 5.
        #expect(close(c.featureIoU, 3.0 / 5) && close(c.featureIoM, 3.0 / 4))
        // Aligned: (1,10,−1) and (2,20,0) shared; (3,30) at offsets 0 and 2 differ: 2 of 6.
        #expect(close(c.alignedFeatureIoU, 2.0 / 6) && close(c.alignedFeatureIoM, 2.0 / 4))
        // Weighted: p_A = .4 .3 .2 .1; p_B = 1/3 1/6 1/6 · 1/3 (for 550). Σmin = 2/3, Σmax = 4/3.
        #expect(close(c.weightedFeatureIoU, 0.5) && close(c.weightedFeatureIoM, 2.0 / 3))
        // Aligned weighted: Σmin = 1/3 + 1/6, Σmax = .4 + .3 + .2 + .1 + 1/6 + 1/3 = 1.5.
        #expect(close(c.weightedAlignedFeatureIoU, 1.0 / 3) && close(c.weightedAlignedFeatureIoM, 0.5))
        // Edges: token(−1)→110 and 110→220 shared of 10 distinct aligned edges.
        #expect(close(c.edgeIoU, 0.2))
        // Ranks of the shared features' influence: A 3 2 1, B 3 1.5 1.5 → ρ = 1.5 / √3.
        #expect(close(c.influenceRankCorrelation, 1.5 / 3.0.squareRoot()))
        #expect(c.sharedFeatures.map(\.feature) == [LayerFeature(layer: 1, feature: 10), LayerFeature(layer: 2, feature: 20), LayerFeature(layer: 3, feature: 30)])
        #expect(c.sharedFeatures[0].influence.map { Float($0) } == [0.4, 0.5])
        #expect(c.uniqueFeatures[0].map(\.feature) == [LayerFeature(layer: 4, feature: 40)])
        #expect(c.uniqueFeatures[1].map(\.feature) == [LayerFeature(layer: 5, feature: 50)])
        // Shared circuit: the three token offsets A has, 110@−1, 220@0 and the top logit; two edges.
        #expect(c.sharedNodes.count == 6 && c.sharedEdges.count == 2)
        #expect(c.recurrence.isEmpty)
    }

    @Test(arguments: TestStores.backends) func threeGraphsRecur(backend: String) throws {
        let c = try CircuitComparison.compare(["a", "b", "c"], in: backend == "sqlite" ? Self.store : CompareFixture.store(backend))
        #expect(close(c.featureIoU, 1.0 / 6) && close(c.featureIoM, 1.0 / 2))
        let table = c.recurrence.map { "\($0.feature.layer)/\($0.feature.feature):\($0.graphs):\(String(format: "%.4f", $0.meanInfluence))" }
        #expect(table == ["1/10:3:0.3667", "2/20:2:0.2750", "3/30:2:0.2250", "5/50:1:0.5000", "4/40:1:0.1000", "6/60:1:0.1000"])
        #expect(c.sharedFeatures.map(\.feature) == [LayerFeature(layer: 1, feature: 10)])
    }

    @Test func jsonHasEveryKey() throws {
        let c = try CircuitComparison.compare(["a", "b"], in: Self.store)
        let data = try JSONEncoder().encode(c.report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for key in ["feature_iou", "feature_iom", "aligned_feature_iou", "weighted_feature_iou", "edge_iou", "influence_rank_correlation",
                    "shared_features", "unique_features"] {
            #expect(object[key] != nil, "\(key)")
        }
        #expect((object["unique_features"] as? [String: Any])?.keys.sorted() == ["a", "b"])
        #expect(close(object["edge_iou"] as? Double, 0.2))
    }

    @Test func differenceGraphRenders() throws {
        let c = try CircuitComparison.compare(["a", "b", "c"], in: Self.store)
        let dot = DifferenceDOT.dot(c, rule: .everything)
        #expect(dot.contains(DifferenceDOT.sharedFill) && dot.contains(DifferenceDOT.graphFills[1]))
        let svg = try SVGRenderer.svg(fromDOT: dot)
        #expect(svg.contains("</svg>") && svg.contains("L1/F10"))
    }

    @Test func badRequestsAreRefused() throws {
        #expect(throws: CompareError.tooFew) { try CircuitComparison.compare(["a"], in: Self.store) }
        #expect(throws: CompareError.repeated("a")) { try CircuitComparison.compare(["a", "1"], in: Self.store) }
        #expect(throws: GraphStoreError.unknownGraph("zzz")) { try CircuitComparison.compare(["a", "zzz"], in: Self.store) }
        var other = CompareFixture.c
        other.transcoderFingerprint = "another-set"
        try other.save(into: Self.store, slug: "other-set")
        let error = #expect(throws: CompareError.self) { try CircuitComparison.compare(["a", "other-set"], in: Self.store) }
        #expect(error.map { "\($0)".contains("different transcoder sets") } == true)
        var model = CompareFixture.c
        model.modelFingerprint = "another-model"
        try model.save(into: Self.store, slug: "other-model")
        #expect(throws: CompareError.self) { try CircuitComparison.compare(["a", "other-model"], in: Self.store) }
    }
}
