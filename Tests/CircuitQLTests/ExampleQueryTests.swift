// Every query under Queries/ runs against the hand-built fixture store and gives the answer
// worked out by hand from the fixture's definition.

import Foundation
import Testing
@testable import CircuitQL
import GraphStore
import TestSupport

/// Rows as strings for easy comparison ("null" for NULL, numbers rounded to 4 significant digits).
func rows(_ result: QueryResult) -> [[String]] {
    result.rows.indices.map { r in
        result.columns.indices.map { c in
            switch result.rows[r][c] {
            case let .double(d): String(format: "%.4g", d)
            default: result.text(row: r, column: c)
            }
        }
    }
}

enum Examples {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Queries")

    static func run(_ name: String, on store: GraphStore) throws -> QueryResult {
        let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
        return try CircuitQL.run(text, on: store)
    }
}

@Suite struct ExampleQueryTests {
    /// The fixture store on each backend, made once.
    static let stores: [String: GraphStore] = Dictionary(uniqueKeysWithValues: TestStores.backends.compactMap { b in (try? QueryFixture.store(b)).map { (b, $0) } })
    static var store: GraphStore { stores["sqlite"]! }

    @Test func everyExampleIsTested() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Examples.folder.path).filter { $0.hasSuffix(".cql") }.sorted()
        #expect(files.count >= 8)
        #expect(Set(files) == Set(Self.expected.keys))
    }

    /// Answers worked out by hand (see QueryFixture for the graphs).
    static let expected: [String: (columns: [String], rows: [[String]])] = [
        "texas-to-austin-paths.cql": (["path", "hops", "strength"], [
            // shares: t4→f0 1, f0→f1 1, f1→f3 1/2.25, f0→f3 0.5/2.25, f3→l0 3/4.2
            ["[\" Texas\"@4, L3/F100@4, L12/F1788@4, L20/F900@5, logit \" Austin\"]", "4", "0.3175"],
            ["[\" Texas\"@4, L3/F100@4, L20/F900@5, logit \" Austin\"]", "3", "0.1587"],
        ]),
        "mid-layer-features.cql": (["graph", "layer", "feature", "influence"], [
            ["the-capital-of-texas-is", "20", "900", "0.3"], ["the-capital-of-france-is", "20", "901", "0.3"],
            ["the-capital-of-france-is", "15", "7", "0.25"], ["the-capital-of-texas-is", "15", "7", "0.2"],
            ["the-capital-of-texas-is", "12", "1788", "0.04"], ["the-capital-of-france-is", "12", "1788", "0.02"],
            ["i-like-green-tea", "12", "1788", "0.01"],
        ]),
        "recurring-features.cql": (["layer", "feature", "graphs", "mean_influence"], [
            ["15", "7", "2", "0.225"], ["12", "1788", "2", "0.03"], ["20", "900", "1", "0.3"], ["20", "901", "1", "0.3"],
            ["3", "101", "1", "0.06"], ["3", "100", "1", "0.05"], ["27", "55", "1", "0.005"],
        ]),
        "feature-targets.cql": (["graph", "target", "weight"], [
            ["the-capital-of-texas-is", "L20/F900@5", "1"], ["i-like-green-tea", "L22/F3@4", "0.9"],
            ["the-capital-of-france-is", "L20/F901@5", "0.9"], ["the-capital-of-texas-is", "logit \" Dallas\"", "0.8"],
        ]),
        // Logits above 0.2: Austin (inputs 3, 1, 0.2 of 4.2), Paris (2.5, 0.6 of 3.1), " and" (1.1, 0.5 of 1.6);
        // L27/F55's 0.2/4.2 = 0.048 is under 0.05, and Dallas (0.1) is not above 0.2.
        "dominant-logit-inputs.cql": (["graph", "logit", "source", "share"], [
            ["the-capital-of-france-is", " Paris", "L20/F901@5", "0.8065"], ["the-capital-of-texas-is", " Austin", "L20/F900@5", "0.7143"],
            ["i-like-green-tea", " and", "L22/F3@4", "0.6875"], ["i-like-green-tea", " and", "\" tea\"@4", "0.3125"],
            ["the-capital-of-texas-is", " Austin", "L15/F7@5", "0.2381"], ["the-capital-of-france-is", " Paris", "L15/F7@5", "0.1935"],
        ]),
        "error-outflow.cql": (["graph", "layer", "pos", "outflow", "edges"], [["the-capital-of-texas-is", "12", "4", "0.25", "1"]]),
        "excitatory-paths-through-late-features.cql": (["token", "logit", "paths"], [
            [" Texas", " Austin", "2"], [" capital", " Austin", "1"], [" is", " Austin", "1"],
        ]),
        "token-fanout.cql": (["graph", "token", "features", "layers"], [
            ["i-like-green-tea", " green", "1", "[12]"], ["the-capital-of-france-is", " France", "1", "[3]"],
            ["the-capital-of-france-is", " capital", "1", "[15]"], ["the-capital-of-texas-is", " Texas", "1", "[3]"],
            ["the-capital-of-texas-is", " capital", "1", "[15]"], ["the-capital-of-texas-is", " is", "1", "[27]"],
        ]),
        "shared-features.cql": (["layer", "feature", "texas", "france"], [["12", "1788", "0.04", "0.02"], ["15", "7", "0.2", "0.25"]]),
        // Leading-space logits other than Austin and Paris: " and" (0.3) and " Dallas" (0.1); "'s" has no space.
        "runner-up-logits.cql": (["graph", "token", "prob"], [["i-like-green-tea", " and", "0.3"], ["the-capital-of-texas-is", " Dallas", "0.1"]]),
    ]

    @Test(arguments: TestStores.backends, expected.keys.sorted())
    func exampleGivesTheKnownAnswer(backend: String, _ name: String) throws {
        let store = try #require(Self.stores[backend], "no fixture store on \(backend)")
        let result = try Examples.run(name, on: store)
        let want = Self.expected[name]!
        #expect(result.columns == want.columns)
        #expect(rows(result) == want.rows)
    }
}
