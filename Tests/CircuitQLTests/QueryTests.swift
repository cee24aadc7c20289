// Path queries against an independent brute-force enumeration, the language's pieces, and bad input.

import Foundation
import Testing
@testable import CircuitQL
import GraphStore
import TestSupport

/// A random layered DAG shaped like an attribution graph (edges only go to later layers).
func randomHandGraph(seed: UInt64) -> HandGraph {
    var random = TestRandom(seed: seed)
    func uniform() -> Float { random.uniform([1], 0, 1).scalars[0] }
    let positions = 5
    var features = [(layer: Int, position: Int, feature: Int, influence: Float)]()
    for layer in stride(from: 0, to: 30, by: 3) {
        for position in 1..<positions where uniform() < 0.6 { features.append((layer, position, Int(uniform() * 1000), uniform() * 0.1)) }
    }
    var g = HandGraph(prompt: "random graph \(seed)", tokens: (0..<positions).map { "tok\($0)" }, features: features,
                      logits: [("A", 0.5), ("B", 0.3), ("C", 0.1)], edges: [])
    let featureNames = features.indices.map { "f\($0)" }
    for p in 0..<positions {
        for (i, f) in features.enumerated() where f.position >= p && uniform() < 0.3 { g.edges.append(("t\(p)", featureNames[i], uniform() * 2 - 0.5)) }
    }
    for (i, a) in features.enumerated() {
        for (j, b) in features.enumerated() where b.layer > a.layer && b.position >= a.position && uniform() < 0.25 {
            g.edges.append((featureNames[i], featureNames[j], uniform() * 2 - 1))
        }
        for l in 0..<3 where a.position == positions - 1 && uniform() < 0.5 { g.edges.append((featureNames[i], "l\(l)", uniform() * 2 - 0.5)) }
    }
    return g
}

@Suite struct PathQueryTests {
    /// Every path from a token to a logit of 1…maxHops edges whose weights all pass `keep`, by
    /// depth-first search over the stored edges, with its strength computed from the same edges.
    static func bruteForce(_ g: StoredGraph, maxHops: Int, keep: (Float) -> Bool) -> [String: Double] {
        var total = [Int: Double]()
        for e in g.edges { total[e.target, default: 0] += Double(abs(e.weight)) }
        let kinds = Dictionary(uniqueKeysWithValues: g.nodes.map { ($0.index, $0) })
        var found = [String: Double]()
        func name(_ i: Int) -> String {
            let n = kinds[i]!
            switch n.kind {
            case .feature: return "L\(n.layer!)/F\(n.feature!)@\(n.position)"
            case .error: return "error L\(n.layer!)@\(n.position)"
            case .token: return "\"\(n.tokenText!)\"@\(n.position)"
            case .logit: return "logit \"\(n.tokenText!)\""
            }
        }
        func walk(_ path: [Int], _ strength: Double) {
            let last = path.last!
            if path.count > 1 && kinds[last]!.kind == .logit { found[path.map(name).joined(separator: "|")] = strength }
            guard path.count <= maxHops else { return }
            for e in g.edges where e.source == last && keep(e.weight) {
                walk(path + [e.target], strength * Double(abs(e.weight)) / total[e.target]!)
            }
        }
        for n in g.nodes where n.kind == .token { walk([n.index], 1) }
        return found
    }

    @Test(arguments: TestStores.backends, [1, 2, 3] as [UInt64])
    func pathsMatchABruteForceEnumeration(backend: String, _ seed: UInt64) throws {
        let store = try TestStores.make(backend)
        let hand = randomHandGraph(seed: seed)
        let summary = try hand.save(into: store, slug: "g")
        try QueryFixture.texas.save(into: store)          // another graph, which USE must exclude
        let stored = try store.graph(summary.slug)
        #expect(stored.edges.count > 40)

        for (maxHops, threshold) in [(4, 0.0), (3, 0.3), (5, 0.6)] as [(Int, Float)] {
            let want = Self.bruteForce(stored, maxHops: maxHops) { abs($0) > threshold }
            let result = try CircuitQL.run("""
                USE 'g' MATCH p = (t:Token)-[*1..\(maxHops)]->(l:Logit)
                WHERE ALL(r IN relationships(p) WHERE abs(r.weight) > \(threshold))
                RETURN nodes(p) AS path, strength(p) AS s, length(p) AS hops
                """, on: store, maxRows: 100_000)
            var got = [String: Double]()
            for r in result.rows.indices {
                let names = try #require(result.jsonValue(row: r, column: 0) as? [String])
                guard case let .double(s) = result.rows[r][1], case let .integer(hops) = result.rows[r][2] else { Issue.record("types"); continue }
                #expect(Int(hops) == names.count - 1)
                #expect(got.updateValue(s, forKey: names.joined(separator: "|")) == nil, "a path is listed twice")
            }
            #expect(want.count > 0)
            #expect(Set(got.keys) == Set(want.keys), "max \(maxHops), threshold \(threshold): \(got.count) paths, brute force \(want.count)")
            for (path, s) in want { #expect(abs((got[path] ?? -1) - s) <= 1e-9 * max(1, s), "\(path)") }

            // The same answer with the condition as a flag (inside OR) instead of pushed into the walk.
            let flagged = try CircuitQL.run("""
                USE 'g' MATCH p = (t:Token)-[*1..\(maxHops)]->(l:Logit)
                WHERE ALL(r IN relationships(p) WHERE abs(r.weight) > \(threshold)) OR 1 = 0
                RETURN count(*) AS n
                """, on: store)
            #expect(flagged.rows == [[.integer(Int64(want.count))]])
        }

        // ANY and NONE over nodes, against the brute force filtered the same way.
        let all = Self.bruteForce(stored, maxHops: 3) { _ in true }
        let throughLayer9 = all.keys.filter { $0.contains("L9/") }.count
        for (quantifier, expected) in [("ANY", throughLayer9), ("NONE", all.count - throughLayer9)] {
            let r = try CircuitQL.run("""
                USE 'g' MATCH p = (t:Token)-[*1..3]->(l:Logit) WHERE \(quantifier)(n IN nodes(p) WHERE n.layer = 9 AND n.kind = 'feature')
                RETURN count(*) AS n
                """, on: store)
            #expect(r.rows == [[.integer(Int64(expected))]], "\(quantifier)")
        }
    }

    @Test(arguments: TestStores.backends)
    func walksOverEveryGraphAnswerAsWalksOverEachGraph(backend: String) throws {
        // Graphs are read in runs of consecutive ids, a statement a run: one run, a run per graph,
        // and a graph without the walk's start left out of a run, all give each graph's own answer.
        let store = try TestStores.make(backend)
        var slugs = [String]()
        for seed in 4...7 as ClosedRange<UInt64> { slugs.append(try randomHandGraph(seed: seed).save(into: store, slug: "g\(seed)").slug) }
        // g5 has no start (the WHERE below), so the other three are read as the runs g4 and g6–g7.
        let each = try slugs.filter { $0 != "g5" }.map { slug in
            try CircuitQL.run("USE '\(slug)' MATCH p = (t:Token)-[*1..3]->(l:Logit) WHERE t.token <> 'tok3' RETURN count(*) AS n, max(strength(p)) AS s",
                              on: store).rows[0]
        }
        let saved = CircuitQL.edgesPerStatement
        defer { CircuitQL.edgesPerStatement = saved }
        for cap in [Int64(1), 1_000_000] {
            CircuitQL.edgesPerStatement = cap
            let all = try CircuitQL.run("""
                MATCH p = (t:Token)-[*1..3]->(l:Logit) WHERE t.token <> 'tok3' AND t.graph <> 'g5'
                RETURN t.graph AS g, count(*) AS n, max(strength(p)) AS s ORDER BY g
                """, on: store)
            #expect(all.rows.map { Array($0.dropFirst()) } == each, "runs of at most \(cap) edges")
            let strongest = try CircuitQL.run("""
                MATCH p = (t:Token)-[*1..3]->(l:Logit) WHERE t.token <> 'tok3' AND t.graph <> 'g5' RETURN strength(p) AS s ORDER BY s DESC LIMIT 1
                """, on: store)
            #expect(strongest.rows == [[each.map { $0[1] }.max { a, b in
                if case let .double(x) = a, case let .double(y) = b { return x < y }
                return false
            }!]])
        }
    }

    @Test func fixedAndVariableSegmentsCombine() throws {
        let store = try QueryFixture.store()
        // (" Texas") → f0 → … → (" Austin"): one fixed edge then a walk of 1–3 edges.
        let r = try CircuitQL.run("""
            USE 'the-capital-of-texas-is'
            MATCH p = (t:Token {token: ' Texas'})-[first]->(f:Feature)-[*1..3]->(l:Logit {token: ' Austin'})
            RETURN f.feature AS via, length(p) AS hops, round(first.weight, 2) AS w, size(nodes(p)) AS n ORDER BY hops
            """, on: store)
        #expect(rows(r) == [["100", "3", "2", "4"], ["100", "4", "2", "5"]])
        // Leftward relationships read right to left.
        let left = try CircuitQL.run("MATCH (l:Logit {token: ' Paris'})<-[r]-(s) RETURN s, r.weight AS w ORDER BY w DESC", on: store)
        #expect(rows(left) == [["L20/F901@5", "2.5"], ["L15/F7@5", "0.6"]])
    }
}

@Suite struct QueryLanguageTests {
    static var store: GraphStore { ExampleQueryTests.store }

    func run(_ q: String, maxRows: Int = 1000, on backend: String = "sqlite") throws -> [[String]] {
        let store = try #require(ExampleQueryTests.stores[backend], "no fixture store on \(backend)")
        return rows(try CircuitQL.run(q, on: store, maxRows: maxRows))
    }

    @Test(arguments: TestStores.backends) func expressionsAndClauses(backend: String) throws {
        func run(_ q: String) throws -> [[String]] { try self.run(q, on: backend) }
        #expect(try run("MATCH (n:Token) RETURN count(*) AS n") == [["17"]])
        #expect(try run("MATCH (n:Token) RETURN DISTINCT n.token AS t ORDER BY t LIMIT 3") == [[" France"], [" Texas"], [" capital"]])
        #expect(try run("MATCH (n:Token) RETURN DISTINCT n.token AS t ORDER BY t SKIP 1 LIMIT 1") == [[" Texas"]])
        #expect(try run("MATCH (f:Feature) WHERE f.layer IN [3, 27] OR f.feature = 3 RETURN f.feature ORDER BY f.feature") == [["3"], ["55"], ["100"], ["101"]])
        #expect(try run("MATCH (f:Feature) WHERE f.layer = 3 XOR f.feature = 100 RETURN f.feature") == [["101"]])
        #expect(try run("MATCH (t:Token) WHERE t.token STARTS WITH ' T' RETURN t.token") == [[" Texas"]])
        #expect(try run("MATCH (t:Token) WHERE t.token CONTAINS 'ran' RETURN t.token + '!' AS x") == [[" France!"]])
        #expect(try run("MATCH (f:Feature {graph: 'i-like-green-tea'}) RETURN min(f.layer), max(f.layer), sum(f.layer) - 1 AS s") == [["12", "22", "33"]])
        #expect(try run("MATCH (f:Feature) WHERE f.graph = 'i-like-green-tea' AND f.label IS NULL RETURN collect(f.layer) AS c") == [["[12, 22]"]])
        #expect(try run("MATCH (l:Logit) WHERE l.prob >= 0.6 RETURN toUpper(l.token) AS u, abs(-2) AS a, -l.prob * 10 AS m ORDER BY u") == [[" AUSTIN", "2", "-6"], [" PARIS", "2", "-7"]])
        #expect(try run("MATCH (a:Token)-->(b:Feature)-->(c:Feature) RETURN a.token, c.layer ORDER BY c.layer, a.token")
                == [[" France", "12"], [" Texas", "12"], [" Texas", "20"], [" capital", "20"], [" capital", "20"], [" green", "22"]])
        // Implicit grouping by the non-aggregate columns.
        #expect(try run("MATCH (f:Feature) RETURN f.layer AS layer, count(*) AS n ORDER BY n DESC, layer LIMIT 2") == [["12", "3"], ["3", "2"]])
    }

    @Test(arguments: TestStores.backends) func valuesAreParametersNotSQL(backend: String) throws {
        func run(_ q: String) throws -> [[String]] { try self.run(q, on: backend) }
        // Quotes and SQL inside string values match text and nothing else.
        #expect(try run("MATCH (l:Logit {token: \"'s\"}) RETURN l.graph") == [["i-like-green-tea"]])
        #expect(try run("MATCH (t:Token) WHERE t.token = \"' OR 1=1 --\" RETURN t.token") == [])
        #expect(try run("MATCH (n {graph: \"x'); DROP TABLE node; --\"}) RETURN count(*)") == [["0"]])
        #expect(try run("MATCH (n:Token) WHERE n.token = 'It\\'s' OR n.token = \"\\\"; DELETE FROM edge; --\" RETURN count(*)") == [["0"]])
        #expect(try run("MATCH (n:Token) RETURN count(*)") == [["17"]])
        let compiled = try CircuitQL.compile("MATCH (n:Token {token: 'x\\'; DROP TABLE node'}) RETURN n.token")
        #expect(!compiled.sql.contains("DROP"))
        #expect(compiled.arguments.contains(.text("x'; DROP TABLE node")))
    }

    /// What engines spell differently gives the same rows on every backend as on SQLite: nodes and
    /// relationships by name (weights as %.4g), rounding, averages, lists, text tests, XOR, and
    /// NULLs in ORDER BY.
    @Test(arguments: TestStores.backends.filter { $0 != "sqlite" }) func everyBackendAnswersAsSQLiteDoes(backend: String) throws {
        let queries = [
            "MATCH (a)-[r]->(b:Logit) RETURN r, a, b ORDER BY r.weight DESC, a.layer",
            "MATCH (a)-[r]->(b) RETURN round(r.weight * 1000) AS w, round(r.share, 2) AS s, r.weight * 100000 AS big, r.weight / 1000 AS small ORDER BY w, s LIMIT 20",
            "MATCH (f:Feature) RETURN f.layer, avg(f.activation) AS a, avg(f.layer) AS al, sum(f.pos) AS s ORDER BY f.layer",
            "MATCH (n) RETURN n.layer AS l, n.token AS t ORDER BY l, t LIMIT 12",
            "MATCH (n) RETURN n.layer AS l ORDER BY l DESC LIMIT 30",
            "MATCH p = (t:Token)-[*1..3]->(l:Logit) RETURN nodes(p), relationships(p), size(nodes(p)) AS n, strength(p) AS s ORDER BY s DESC LIMIT 8",
            "MATCH (t:Token) WHERE t.token ENDS WITH 'as' OR t.token CONTAINS 'ea' OR t.token ENDS WITH '' RETURN DISTINCT t.token AS x ORDER BY x",
            "MATCH (f:Feature) WHERE (f.layer > 10) XOR (f.pos = 5) RETURN f.graph AS g, collect(DISTINCT f.layer) AS layers ORDER BY g",
            "MATCH p = (a:Feature)-[*1..2]->(b) WHERE ANY(r IN relationships(p) WHERE r.weight < 0) RETURN count(*)",
            "MATCH p = (a:Token)-[*1..3]->(b:Logit) WHERE NONE(n IN nodes(p) WHERE n.layer = 12) RETURN a.graph AS g, count(*) AS c ORDER BY g",
        ]
        for q in queries {
            #expect(try run(q, on: backend) == run(q, on: "sqlite"), "\(q)")
        }
    }

    /// The error's message, line and column.
    func failure(_ q: String, maxRows: Int = 1000) -> CircuitQLError? {
        do { _ = try CircuitQL.run(q, on: Self.store, maxRows: maxRows); return nil } catch let e as CircuitQLError { return e } catch {
            Issue.record("not a CircuitQLError: \(error)")
            return nil
        }
    }

    @Test(arguments: [
        ("MATCH (n:Feature RETURN n", "expected \")\"", 1, 18),
        ("MATCH (n:Neuron) RETURN n", "unknown label :Neuron", 1, 10),
        ("MATCH (n) RETURN n.colour", "no property \"colour\"", 1, 20),
        ("MATCH (n)\nRETURN frobnicate(n)", "unknown function frobnicate()", 2, 8),
        ("MATCH p = (a)-[*1..]->(b) RETURN p", "need an upper bound", 1, 16),
        ("MATCH p = (a)-[*1..20]->(b) RETURN p", "the maximum is 8", 1, 16),
        ("MATCH (a)-[r]-(b) RETURN a", "relationships are directed", 1, 14),
        ("MATCH (a) WHERE count(*) > 1 RETURN a", "belong in RETURN", 1, 17),
        ("MATCH (a) WHERE a.layer > 1 AND sum(a.layer) > 1 RETURN a", "belong in RETURN", 1, 33),
        ("MATCH (a) RETURN b.layer", "unknown variable b", 1, 20),
        ("USE 'nope' MATCH (a) RETURN a", "no graph with id or slug \"nope\"", 1, 5),
        ("MATCH (a)-[:CAUSES]->(b) RETURN a", "unknown relationship type :CAUSES", 1, 13),
        ("MATCH (a) RETURN a.layer LIMIT 'x'", "expected a row count", 1, 32),
        ("MATCH (a) WHERE a.token = 'oops RETURN a", "unterminated string", 1, 27),
        ("MATCH (a) WHERE a = 1 RETURN a", "compare a property of a", 1, 17),
        ("MATCH (a) RETURN length(a)", "takes a named path", 1, 25),
        ("RETURN 1", "a query starts with MATCH", 1, 1),
    ] as [(String, String, Int, Int)])
    func badQueriesAreExplained(_ query: String, _ message: String, _ line: Int, _ column: Int) throws {
        let error = try #require(failure(query))
        #expect(error.message.contains(message), "\(error.message)")
        #expect(error.location?.line == line && error.location?.column == column, "at \(String(describing: error.location))")
        let shown = error.description.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(shown.count == 3 && shown[0].hasPrefix("line \(line), column \(column): "))
        #expect(shown[2] == "  " + String(repeating: " ", count: column - 1) + "^")
    }

    @Test func hostileQueriesAreRefusedNotCrashed() throws {
        let deep = "MATCH (n) WHERE " + String(repeating: "(", count: 10_000) + "n.layer = 1" + String(repeating: ")", count: 10_000) + " RETURN n"
        #expect(failure(deep)?.message.contains("nested too deeply") == true)
        let nots = "MATCH (n) WHERE " + String(repeating: "NOT ", count: 10_000) + "n.layer = 1 RETURN n"
        #expect(failure(nots)?.message.contains("nested too deeply") == true)
        let sum = "MATCH (n) WHERE n.layer = " + Array(repeating: "1", count: 10_000).joined(separator: " + ") + " RETURN n"
        #expect(failure(sum)?.message.contains("more than 500 operators") == true)
        let signs = "MATCH (n) WHERE n.layer = " + String(repeating: "-", count: 10_000) + "1 RETURN n"
        #expect(failure(signs)?.message.contains("nested too deeply") == true)
        #expect(failure("MATCH (n) WHERE n.token = 'a\u{0}' RETURN n")?.message.contains("NUL") == true)
        // Within the bounds, nesting still works.
        let fine = "MATCH (n:Feature) WHERE " + String(repeating: "(", count: 30) + "n.layer >= 0" + String(repeating: ")", count: 30) + " RETURN count(*) AS c"
        #expect(try run(fine).count == 1)
    }

    @Test func resultsPastTheCapAreRefused() throws {
        let error = try #require(failure("MATCH (n) RETURN n", maxRows: 10))
        #expect(error.message.contains("more than 10 rows"))
        #expect(try run("MATCH (n) RETURN n LIMIT 10", maxRows: 10).count == 10)
        #expect(failure("   ")?.message == "the query is empty")
        // collect() cannot smuggle more values than the cap into one row.
        #expect(failure("MATCH (n) RETURN collect(n.index) AS ids", maxRows: 3)?.message.contains("collect(…) gathers") == true)
        #expect(try run("MATCH (n) RETURN collect(n.index) AS ids", maxRows: 1000).count == 1)
    }
}
