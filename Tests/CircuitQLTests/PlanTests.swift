// The compiler's plan is engine-neutral: one plan, compiled once, spelled by each dialect, with
// the same parameters; nothing of one engine's spelling leaks into another's.

import Foundation
import Testing
@testable import CircuitQL
import GraphStore
import PostgresStore

@Suite struct PlanTests {
    /// Every example query and the cross-backend queries, as text.
    static var queries: [String] {
        get throws {
            let files = try FileManager.default.contentsOfDirectory(atPath: Examples.folder.path).filter { $0.hasSuffix(".cql") }.sorted()
            return try files.map { try String(contentsOf: Examples.folder.appendingPathComponent($0), encoding: .utf8) } + [
                "MATCH (a)-[r]->(b:Logit) RETURN r, a, b ORDER BY r.weight DESC, a.layer",
                "MATCH (a)-[r]->(b) RETURN round(r.weight * 1000) AS w, round(r.share, 2) AS s ORDER BY w, s LIMIT 20",
                "MATCH (f:Feature) RETURN f.layer, avg(f.activation) AS a, collect(DISTINCT f.layer) AS c ORDER BY f.layer",
                "MATCH (t:Token) WHERE t.token ENDS WITH 'as' OR t.token CONTAINS 'ea' OR t.token STARTS WITH 'x' RETURN t.token, t.label, t.prompt",
                "MATCH (f:Feature) WHERE (f.layer > 10) XOR (f.pos IN []) RETURN f.graph AS g, sign(f.activation), size(collect(f.layer)) ORDER BY g",
                "MATCH p = (t:Token)-[*1..3]->(l:Logit) RETURN nodes(p), relationships(p), length(p), strength(p) AS s ORDER BY s DESC LIMIT 8",
                "MATCH p = (a:Feature)-[*1..2]->(b) WHERE ANY(r IN relationships(p) WHERE r.weight < 0) RETURN count(*), avg(length(p))",
                "MATCH p = (a:Token)-[r]->(f)-[*1..2]->(b:Logit {graph: 'g'}) WHERE NONE(n IN nodes(p) WHERE n.layer = 12) RETURN a.graph, count(*)",
            ]
        }
    }

    @Test func onePlanIsSpelledByEachDialect() throws {
        let sqliteOnly = ["json_group_array", "json_each", "instr(", "printf(", "likelihood(", "-length("]
        let postgresOnly = ["::", "json_agg", "json_array_elements", "strpos(", "right(", "circuitry_g4", "NULLS ", "TRUE", "FALSE"]
        for text in try Self.queries {
            let compiled = try CircuitQL.compile(text, graphId: 7)
            var respelled = compiled
            respelled.functions = .postgres
            let sqlite = [compiled.sql] + compiled.walks.flatMap { [$0.start.sql(.sqlite), $0.edges.sql(.sqlite)] + [$0.end?.sql(.sqlite)].compactMap { $0 } }
            let postgres = [respelled.sql] + compiled.walks.flatMap { [$0.start.sql(.postgres), $0.edges.sql(.postgres)] + [$0.end?.sql(.postgres)].compactMap { $0 } }
            // The same statement compiled for PostgreSQL from the start: the plan alone decides it.
            #expect(respelled.sql == (try CircuitQL.compile(text, graphId: 7, functions: .postgres)).sql, "\(text)")
            for (a, b) in zip(sqlite, postgres) {
                for word in sqliteOnly { #expect(!b.contains(word), "PostgreSQL text has \(word): \(b)") }
                for word in postgresOnly { #expect(!a.contains(word), "SQLite text has \(word): \(a)") }
                // Both bind the same parameters, in the same places.
                #expect(Self.placeholders(a) == Self.placeholders(b), "\(text)")
            }
        }
    }

    static func placeholders(_ sql: String) -> [String] {
        let pattern = try! NSRegularExpression(pattern: "\\?[0-9]+")
        return pattern.matches(in: sql, range: NSRange(sql.startIndex..., in: sql)).map { String(sql[Range($0.range, in: sql)!]) }
    }

    @Test func constantsAreQuotedAndValuesAreParameters() throws {
        let e = PlanExpr.concat([.text("it's"), .parameter(3), .text("'; DROP TABLE node; --")])
        #expect(e.sql(.sqlite) == "(('it''s' || ?3) || '''; DROP TABLE node; --')")
        let compiled = try CircuitQL.compile("MATCH (n:Token {token: \"'; DROP TABLE node; --\"}) RETURN n.token + 'x'")
        #expect(!compiled.sql.contains("DROP") && compiled.arguments.contains(.text("'; DROP TABLE node; --")))
    }
}
