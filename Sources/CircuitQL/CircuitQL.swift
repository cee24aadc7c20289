// CircuitQL: Cypher-style queries over stored attribution graphs.
//
//   USE 'the-capital-of-texas-is'
//   MATCH p = (t:Token)-[*1..4]->(l:Logit)
//   WHERE ALL(r IN relationships(p) WHERE abs(r.weight) > 0.05)
//   RETURN t.token, l.token, length(p) AS hops, strength(p) AS strength
//   ORDER BY strength DESC LIMIT 5
//
// Text → Lexer → Parser (AST) → Compiler (plan, SQL with bound parameters) → the store → rows.

import Foundation
import GraphStore

public enum CircuitQL {
    /// The largest result a query may return unless the caller allows more.
    public static let defaultMaxRows = 10_000

    /// Compiles a query to SQL without running it (`graphId` is the USE graph, already resolved).
    /// SQL is in SQLite's spelling unless `functions` gives another engine's.
    public static func compile(_ text: String, graphId: Int64? = nil, maxRows: Int = defaultMaxRows,
                               functions: SQLFunctions = .sqlite) throws -> CompiledQuery {
        let query = try Parser.parse(text)
        return try Compiler.compile(query, source: text, graphId: graphId, maxRows: maxRows, functions: functions)
    }

    /// Compiles a query for a store (resolving its USE clause there).
    public static func compile(_ text: String, for store: GraphStore, maxRows: Int = defaultMaxRows) throws -> CompiledQuery {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw CircuitQLError("the query is empty", in: text) }
        let query = try Parser.parse(text)
        var graphId: Int64?
        if let use = query.use {
            do { graphId = try store.graphId(use.value) } catch GraphStoreError.unknownGraph {
                throw CircuitQLError("no graph with id or slug \"\(use.value)\" in the store", at: use.location, in: text)
            }
        }
        return try Compiler.compile(query, source: text, graphId: graphId, maxRows: maxRows, functions: store.dialect.functions)
    }

    /// How long a query may run unless the caller says otherwise (seconds).
    public static let defaultTimeout: Double = 10

    /// Parses, compiles and runs a query against a store, within `timeout` seconds (nil: no limit).
    public static func run(_ text: String, on store: GraphStore, maxRows: Int = defaultMaxRows,
                           timeout: Double? = defaultTimeout) throws -> QueryResult {
        let compiled = try compile(text, for: store, maxRows: maxRows)
        let rows: [[StoreValue]]
        do {
            rows = try execute(compiled, on: store, deadline: Deadline(seconds: timeout))
        } catch WalkSearchError.deadline, GraphStoreError.interrupted {
            throw CircuitQLError("the query did not finish within \(timeout.map { String(format: "%g", $0) } ?? "?") s and was stopped; "
                                 + "narrow it (USE one graph, conditions on the path's ends, fewer hops, ALL(r IN relationships(p) "
                                 + "WHERE abs(r.weight) > …)), ask for the strongest paths (ORDER BY strength(p) DESC LIMIT k), "
                                 + "or allow more time (--timeout)", in: text)
        } catch let WalkSearchError.tooMany(cap) {
            throw CircuitQLError("the pattern matches more than \(cap) paths, too many to list; ask for the strongest "
                                 + "(ORDER BY strength(p) DESC LIMIT k), count them (RETURN count(*)), or narrow the pattern", in: text)
        }
        if rows.count > maxRows {
            throw CircuitQLError("the query returns more than \(maxRows) rows; add LIMIT, narrow the pattern, or raise the cap (--max-rows)", in: text)
        }
        var collected = 0
        for row in rows {
            for c in compiled.collectColumns {
                if case let .text(s) = row[c], let list = try? JSONSerialization.jsonObject(with: Data(s.utf8)) as? [Any] { collected += list.count }
            }
        }
        if collected > maxRows {
            throw CircuitQLError("collect(…) gathers \(collected) values, more than the cap of \(maxRows); narrow the pattern, "
                                 + "use collect(DISTINCT …), or raise the cap (--max-rows)", in: text)
        }
        return QueryResult(columns: compiled.columns, rows: rows, listColumns: compiled.listColumns)
    }
}

/// A query's answer: named columns and rows of values. List columns hold JSON arrays.
public struct QueryResult: Sendable {
    public var columns: [String]
    public var rows: [[StoreValue]]
    public var listColumns: Set<Int>

    /// A value as Foundation JSON (lists decoded into arrays).
    public func jsonValue(row: Int, column: Int) -> Any {
        switch rows[row][column] {
        case let .integer(i): return i
        case let .double(d): return d.isFinite ? d : NSNull()
        case let .text(s):
            if listColumns.contains(column), let array = try? JSONSerialization.jsonObject(with: Data(s.utf8)) { return array }
            return s
        case let .blob(b): return b.base64EncodedString()
        case .null: return NSNull()
        }
    }

    /// An array of objects keyed by column name.
    public func json() throws -> Data {
        let objects = rows.indices.map { r in
            Dictionary(columns.indices.map { (columns[$0], jsonValue(row: r, column: $0)) }, uniquingKeysWith: { a, _ in a })
        }
        return try JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// A value as text for tables and CSV.
    public func text(row: Int, column: Int) -> String {
        switch rows[row][column] {
        case let .integer(i): return String(i)
        case let .double(d): return d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : String(format: "%.6g", d)
        case let .text(s):
            guard listColumns.contains(column), let array = try? JSONSerialization.jsonObject(with: Data(s.utf8)) as? [Any] else { return s }
            return "[" + array.map { item -> String in
                if let n = item as? NSNumber { return String(format: "%.4g", n.doubleValue) }
                return "\(item)"
            }.joined(separator: ", ") + "]"
        case let .blob(b): return b.base64EncodedString()
        case .null: return "null"
        }
    }

    /// Comma-separated values with a header (RFC 4180 quoting).
    public func csv() -> String {
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var lines = [columns.map(field).joined(separator: ",")]
        for r in rows.indices { lines.append(columns.indices.map { field(text(row: r, column: $0)) }.joined(separator: ",")) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// An aligned text table (control characters in values made visible).
    public func table(maxWidth: Int = 60) -> String {
        func visible(_ s: String) -> String {
            let out = DisplayText.visible(s)
            return out.count > maxWidth ? String(out.prefix(maxWidth - 1)) + "…" : out
        }
        let cells = rows.indices.map { r in columns.indices.map { visible(text(row: r, column: $0)) } }
        let widths = columns.indices.map { c in max(visible(columns[c]).count, cells.map { $0[c].count }.max() ?? 0) }
        func line(_ values: [String]) -> String {
            zip(values, widths).map { $0 + String(repeating: " ", count: max($1 - $0.count, 0)) }.joined(separator: "  ")
                .replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        var out = [line(columns.map(visible)), line(widths.map { String(repeating: "─", count: $0) })]
        out += cells.map(line)
        out.append("(\(rows.count) row\(rows.count == 1 ? "" : "s"))")
        return out.joined(separator: "\n")
    }
}
