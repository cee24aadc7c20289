// The walk engine against brute force: strongest-first top k, counted paths, limits.

import Foundation
import Testing
@testable import CircuitQL
import GraphStore
import TestSupport

@Suite struct WalkSearchTests {
    /// The brute-force paths (token → logit) sorted strongest first, as (names, strength).
    static func ranked(_ g: StoredGraph, maxHops: Int, minHops: Int = 1, keep: (Float) -> Bool = { _ in true },
                       end: ((String) -> Bool)? = nil) -> [(path: String, strength: Double)] {
        PathQueryTests.bruteForce(g, maxHops: maxHops, keep: keep)
            .filter { key, _ in key.split(separator: "|").count - 1 >= minHops && (end.map { $0(String(key.split(separator: "|").last!)) } ?? true) }
            .map { ($0.key, $0.value) }
            .sorted { $0.strength > $1.strength }
    }

    static func strongest(_ result: QueryResult) throws -> [(path: String, strength: Double)] {
        try result.rows.indices.map { r in
            let names = try #require(result.jsonValue(row: r, column: 0) as? [String])
            guard case let .double(s) = result.rows[r][1] else { throw CircuitQLError("strength is not a number", in: "") }
            return (names.joined(separator: "|"), s)
        }
    }

    /// The top k by strength agree with brute force: the same strengths in the same order, and the
    /// same paths wherever strengths are not tied.
    static func expectSameTop(_ got: [(path: String, strength: Double)], _ want: [(path: String, strength: Double)], _ context: String) {
        #expect(got.count == want.count, "\(context): \(got.count) rows, brute force \(want.count)")
        for (g, w) in zip(got, want) {
            #expect(abs(g.strength - w.strength) <= 1e-12 * max(1, w.strength), "\(context): \(g) against \(w)")
        }
        let wantSet = Set(want.map(\.path)), tiedAtEnd = want.last.map { last in want.filter { $0.strength == last.strength }.count } ?? 0
        #expect(Set(got.map(\.path)).subtracting(wantSet).count <= tiedAtEnd, "\(context): paths outside the brute-force top")
    }

    @Test(arguments: TestStores.backends, [1, 2, 3, 4] as [UInt64])
    func strongestFirstIsTheExactTopK(backend: String, _ seed: UInt64) throws {
        let store = try TestStores.make(backend)
        _ = try randomHandGraph(seed: seed).save(into: store, slug: "g")
        _ = try randomHandGraph(seed: seed + 100).save(into: store, slug: "other")
        let stored = try store.graph("g")
        for (k, hops, threshold) in [(1, 4, 0.0), (5, 4, 0.0), (20, 3, 0.2), (50, 5, 0.0), (7, 2, 0.5)] as [(Int, Int, Float)] {
            let want = Array(Self.ranked(stored, maxHops: hops, keep: { abs($0) > threshold }).prefix(k))
            let result = try CircuitQL.run("""
                USE 'g' MATCH p = (t:Token)-[*1..\(hops)]->(l:Logit)
                WHERE ALL(r IN relationships(p) WHERE abs(r.weight) > \(threshold))
                RETURN nodes(p) AS path, strength(p) AS s ORDER BY s DESC LIMIT \(k)
                """, on: store)
            Self.expectSameTop(try Self.strongest(result), want, "seed \(seed), k \(k), *1..\(hops), > \(threshold)")
        }
        // An end condition pushed into the search, a minimum length, and SKIP.
        let toA = Self.ranked(stored, maxHops: 4, minHops: 2, end: { $0 == "logit \"A\"" })
        let r = try CircuitQL.run("""
            USE 'g' MATCH p = (t:Token)-[*2..4]->(l:Logit) WHERE l.token = 'A'
            RETURN nodes(p) AS path, strength(p) AS s ORDER BY strength(p) DESC SKIP 2 LIMIT 6
            """, on: store)
        Self.expectSameTop(try Self.strongest(r), Array(toA.dropFirst(2).prefix(6)), "seed \(seed), to A, skip 2")
    }

    @Test(arguments: [5, 6] as [UInt64])
    func conditionsOutsideTheWalkStillGiveTheExactTopK(_ seed: UInt64) throws {
        // A condition that joins both ends cannot be pushed into the search: rows it rejects are
        // made up for by asking for more paths.
        let store = try GraphStore(path: temporaryPath(".sqlite"))
        _ = try randomHandGraph(seed: seed).save(into: store, slug: "g")
        let stored = try store.graph("g")
        let want = Self.ranked(stored, maxHops: 4).filter { $0.path.hasPrefix("\"tok1\"") || $0.path.hasPrefix("\"tok3\"") }
        let r = try CircuitQL.run("""
            USE 'g' MATCH p = (t:Token)-[*1..4]->(l:Logit) WHERE t.pos % 2 = 1 OR l.index < 0
            RETURN nodes(p) AS path, strength(p) AS s ORDER BY s DESC LIMIT 30
            """, on: store)
        Self.expectSameTop(try Self.strongest(r), Array(want.prefix(30)), "seed \(seed), odd positions")
        #expect(CircuitQL.compileMode("USE 'g' MATCH p = (t:Token)-[*1..4]->(l:Logit) RETURN strength(p) AS s ORDER BY s DESC LIMIT 3", store) == .strongest)
    }

    @Test(arguments: TestStores.backends) func countsByLengthMatchBruteForce(backend: String) throws {
        let store = try TestStores.make(backend)
        _ = try randomHandGraph(seed: 9).save(into: store, slug: "g")
        let all = PathQueryTests.bruteForce(try store.graph("g"), maxHops: 5) { $0 > 0 }
        var want = [String: Int]()
        for key in all.keys { want["\(key.split(separator: "|").count - 1)", default: 0] += 1 }
        let query = """
            USE 'g' MATCH p = (t:Token)-[*1..5]->(l:Logit) WHERE ALL(r IN relationships(p) WHERE r.weight > 0)
            RETURN length(p) AS hops, count(*) AS paths ORDER BY hops
            """
        #expect(CircuitQL.compileMode(query, store) == .counting)
        let got = Dictionary(uniqueKeysWithValues: rows(try CircuitQL.run(query, on: store)).map { ($0[0], Int($0[1])!) })
        #expect(got == want)
    }

    @Test func aSlowQueryStopsWithAMessage() throws {
        // A dense layered graph: 8 layers of 40 nodes, every node joined to every node of the next
        // layer (40^8 paths), listed without a limit.
        let store = try GraphStore(path: temporaryPath(".sqlite"))
        var features = [(layer: Int, position: Int, feature: Int, influence: Float)]()
        for layer in 0..<8 { for f in 0..<40 { features.append((layer, 1, f, 0.01)) } }
        var g = HandGraph(prompt: "dense", tokens: ["a", "b"], features: features, logits: [("A", 0.9)], edges: [])
        for i in features.indices {
            for j in features.indices where features[j].layer == features[i].layer + 1 { g.edges.append(("f\(i)", "f\(j)", 1)) }
        }
        _ = try g.save(into: store, slug: "dense")
        let started = Date()
        do {
            _ = try CircuitQL.run("USE 'dense' MATCH p = (a:Feature)-[*1..8]->(b:Feature) RETURN nodes(p)", on: store, timeout: 0.5)
            Issue.record("a query over 40^8 paths finished")
        } catch let e as CircuitQLError {
            #expect(e.message.contains("did not finish within 0.5 s") || e.message.contains("too many to list"), "\(e.message)")
        }
        #expect(Date().timeIntervalSince(started) < 5)
        // Counting them is quick (dynamic programming), and so are the strongest few.
        let counted = try CircuitQL.run("USE 'dense' MATCH p = (a:Feature {layer: 0})-[*7..7]->(b:Feature) RETURN count(*) AS n", on: store, timeout: 5)
        #expect(rows(counted) == [[String(40 * Int(pow(40.0, 7)))]])
        let top = try CircuitQL.run("USE 'dense' MATCH p = (a:Feature)-[*1..8]->(b:Feature) RETURN strength(p) AS s ORDER BY s DESC LIMIT 3",
                                    on: store, timeout: 5)
        #expect(top.rows.count == 3)
    }
}

extension CircuitQL {
    /// The mode of a query's first walk (tests).
    static func compileMode(_ text: String, _ store: GraphStore) -> WalkMode? {
        (try? compile(text, for: store))?.walks.first?.mode
    }
}
