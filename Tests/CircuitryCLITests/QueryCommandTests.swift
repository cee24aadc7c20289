// `circuitry query` and `circuitry compare` as a user runs them.

import Foundation
import Testing
import GraphStore
import TestSupport

enum CLIFixture {
    /// A store with two small related graphs and an unrelated one.
    static func store() throws -> String {
        let path = temporaryPath(".sqlite")
        let store = try GraphStore(path: path)
        let related = HandGraph(prompt: "The capital of Texas is", tokens: ["<s>", "The", " capital", " of", " Texas", " is"],
                                features: [(3, 4, 100, 0.05), (12, 4, 345, 0.04), (20, 5, 900, 0.3)], logits: [(" Austin", 0.6)],
                                edges: [("t4", "f0", 2), ("f0", "f1", 1.5), ("f1", "f2", 1), ("f2", "l0", 3), ("t5", "f2", 0.5)])
        var france = related
        france.prompt = "The capital of France is"
        france.tokens[4] = " France"
        france.features[0].feature = 101
        france.logits = [(" Paris", 0.7)]
        let other = HandGraph(prompt: "I like tea", tokens: ["<s>", "I", " like", " tea"], features: [(22, 3, 3, 0.1)], logits: [(",", 0.2)],
                              edges: [("t3", "f0", 1), ("f0", "l0", 1)])
        try related.save(into: store, slug: "texas")
        try france.save(into: store, slug: "france")
        try other.save(into: store, slug: "tea")
        return path
    }
}

@Suite struct QueryCommandTests {
    static let store: String = try! CLIFixture.store()

    @Test func queryPrintsTablesJSONAndCSV() throws {
        let q = "MATCH (f:Feature) WHERE f.layer >= 10 RETURN f.graph AS graph, f.feature AS feature ORDER BY graph, feature"
        let table = try CommandLineRun.circuitry(["query", q, "--store", Self.store])
        #expect(table.status == 0, "\(table.standardError)")
        #expect(table.standardOutput.contains("graph") && table.standardOutput.contains("(5 rows)"))
        let json = try CommandLineRun.circuitry(["query", q, "--format", "json", "--store", Self.store])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [[String: Any]])
        #expect(rows.count == 5 && rows[0]["graph"] as? String == "france" && rows[0]["feature"] as? Int == 345)
        let csv = try CommandLineRun.circuitry(["query", q, "--format", "csv", "--store", Self.store])
        #expect(csv.standardOutput.split(separator: "\n").first == "graph,feature" && csv.standardOutput.split(separator: "\n").count == 6)

        let file = temporaryPath(".cql")
        try "USE 'texas'\nMATCH p = (t:Token)-[*1..4]->(l:Logit)\nRETURN nodes(p) AS path ORDER BY length(p)".write(toFile: file, atomically: true, encoding: .utf8)
        let paths = try CommandLineRun.circuitry(["query", "--file", file, "--format", "json", "--store", Self.store])
        let list = try #require(try JSONSerialization.jsonObject(with: Data(paths.standardOutput.utf8)) as? [[String: Any]])
        #expect(list.map { ($0["path"] as? [String])?.count ?? 0 } == [3, 5])
        let plan = try CommandLineRun.circuitry(["query", "--file", file, "--explain", "--store", Self.store])
        #expect(plan.standardOutput.contains("WITH RECURSIVE") && plan.standardOutput.contains("PRIMARY KEY"))
    }

    @Test func badQueriesShowWhere() throws {
        let run = try CommandLineRun.circuitry(["query", "MATCH (n:Neuron) RETURN n", "--store", Self.store])
        #expect(run.status == 1)
        #expect(run.standardError == "error: line 1, column 10: unknown label :Neuron (labels are :Token, :Feature, :Error and :Logit)\n  MATCH (n:Neuron) RETURN n\n           ^\n")
        #expect(run.standardOutput.isEmpty)
        let usage = try CommandLineRun.circuitry(["query", "--store", Self.store])
        #expect(usage.status == 2)
        let missing = try CommandLineRun.circuitry(["query", "--file", "/nonexistent.cql", "--store", Self.store])
        #expect(missing.status == 1 && missing.standardError.contains("cannot read the query file"))
    }

    @Test func compareReportsAndDraws() throws {
        let svg = temporaryPath(".svg")
        let run = try CommandLineRun.circuitry(["compare", "texas", "france", "--json", "--svg", svg, "--store", Self.store])
        #expect(run.status == 0, "\(run.standardError)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
        // Features {3/100, 12/345, 20/900} and {3/101, 12/345, 20/900}: 2 shared of 4.
        #expect(report["feature_iou"] as? Double == 0.5)
        #expect(try String(contentsOfFile: svg, encoding: .utf8).contains("</svg>"))
        let unrelated = try CommandLineRun.circuitry(["compare", "texas", "tea", "--json", "--store", Self.store])
        let other = try #require(try JSONSerialization.jsonObject(with: Data(unrelated.standardOutput.utf8)) as? [String: Any])
        #expect(other["feature_iou"] as? Double == 0)
        let text = try CommandLineRun.circuitry(["compare", "texas", "france", "tea", "--store", Self.store])
        #expect(text.status == 0 && text.standardOutput.contains("recurring features"))

        #expect(try CommandLineRun.circuitry(["compare", "texas", "--store", Self.store]).status == 2)
        let unknown = try CommandLineRun.circuitry(["compare", "texas", "nope", "--store", Self.store])
        #expect(unknown.status == 1 && unknown.standardError.contains("no graph with id or slug \"nope\""))
        let twice = try CommandLineRun.circuitry(["compare", "texas", "1", "--store", Self.store])
        #expect(twice.status == 1 && twice.standardError.contains("more than once"))
    }
}
