// `store copy`: graphs, subgraphs, feature pages and user labels go from one store to another, on
// any pair of backends, exactly and once.

import Foundation
import Testing
import Attribution
@testable import GraphStore
import TestSupport

@Suite struct StoreCopyTests {
    /// Pairs of backends to copy between: SQLite to SQLite, and every other backend both ways.
    static var pairs: [(String, String)] {
        [("sqlite", "sqlite")] + TestStores.backends.filter { $0 != "sqlite" }.flatMap { [("sqlite", $0), ($0, "sqlite")] }
    }

    /// Text is data on every backend: a NUL, the escape PostgreSQL's text needs for it, markup and quotes.
    @Test(arguments: TestStores.backends) func hostileTextRoundTrips(backend: String) throws {
        let store = try StoreFixture.store(backend)
        let texts = ["\u{0}", "a\u{0}b", "\u{E000}", "\u{E000}0", "\u{E000}\u{0}\u{E000}", "'; DROP TABLE graph; --", "<b>\"é東\"</b>"]
        let summary = try store.save(StoreFixture.graph, context: StoreFixture.context) { texts[$0 % texts.count] }
        let g = try store.graph(summary.slug)
        #expect(g.nodes.allSatisfy { n in n.tokenText.map { t in texts.contains(t) } ?? true })
        let saved = try store.tokenTexts(summary.slug)
        for node in g.nodes where node.kind == .token { #expect(node.tokenText == saved.prompt[node.position]) }
        for (i, text) in texts.enumerated() {
            try store.setUserLabel(text, layer: 0, index: i, identity: PageFixture.identity)
            #expect(try store.featureLabels(transcoderFingerprint: "tiny-set")[LayerFeature(layer: 0, feature: i)] == text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    @Test(arguments: pairs) func aCopyIsExactAndHappensOnce(from: String, to: String) throws {
        let source = try StoreFixture.store(from)
        let first = try StoreFixture.save(into: source)
        let second = try source.save(try StoreFixture.trace.graph("Ow, Tex!"), slug: "ow", context: StoreFixture.context,
                                     tokenText: StoreFixture.trace.tokenText)
        try source.saveSubgraph(StoredSubgraph(name: "pinned", pinned: [0, 1], supernodes: [.init(name: "pair", members: [0, 1])]), of: "ow")
        try PageFixture.save(into: source)
        try source.setUserLabel("greeting", layer: 1, index: 5, identity: PageFixture.identity)
        let target = try StoreFixture.store(to)
        // The target already uses one of the slugs for a graph of its own.
        _ = try target.save(try StoreFixture.trace.graph("Something else"), slug: "ow", context: StoreFixture.context,
                            tokenText: StoreFixture.trace.tokenText)

        let report = try source.copy(to: target)
        #expect(report.graphsCopied == 2 && report.graphsAlreadyThere == 0 && report.featureSetsCopied == 1)
        #expect(report.renamed == ["ow": "ow-2"])
        let again = try source.copy(to: target)
        #expect(again.graphsCopied == 0 && again.graphsAlreadyThere == 2 && again.featureSetsCopied == 0 && again.featureSetsAlreadyThere == 1)
        #expect(again.userLabelsCopied == 0)
        #expect(try target.list().count == 3)

        for (slug, copied) in [(first.slug, first.slug), (second.slug, "ow-2")] {
            let a = try source.attributionGraph(slug), b = try target.attributionGraph(copied)
            #expect(bits(a.adjacency.scalars) == bits(b.adjacency.scalars) && a.pruning.nodes == b.pruning.nodes && a.pruning.edges == b.pruning.edges)
            #expect(a.provenance == b.provenance && bits(a.influence) == bits(b.influence))
            let x = try source.graph(slug), y = try target.graph(copied)
            #expect(x.nodes == y.nodes && x.edges == y.edges && x.summary.createdAt == y.summary.createdAt)
        }
        #expect(try target.subgraphs("ow-2").map(\.supernodes) == [[.init(name: "pair", members: [0, 1])]])
        let page = try target.featurePage(setFingerprint: "tiny-set", setName: "tiny", layer: 1, index: 5)
        let original = try source.featurePage(setFingerprint: "tiny-set", setName: "tiny", layer: 1, index: 5)
        #expect(page.label == "greeting" && page.contexts == original.contexts && page.promoted == original.promoted)
        #expect(Set(original.graphs.map(\.prompt)).isSubset(of: page.graphs.map(\.prompt)))

        // A label changed in the source travels on the next copy; nothing else does.
        try source.setUserLabel("hello", layer: 1, index: 5, identity: PageFixture.identity)
        let third = try source.copy(to: target)
        #expect(third.userLabelsCopied == 1 && third.graphsCopied == 0)
        #expect(try target.featureLabels(transcoderFingerprint: "tiny-set")[LayerFeature(layer: 1, feature: 5)] == "hello")
    }
}
