// The store interface: what the graph store needs of a database engine, and nothing more. The
// store's logic (GraphStore and its extensions) is written once against it; each engine is a
// backend: SQLite (SQLiteDatabase, the embedded default) and PostgreSQL (the PostgresStore module).
//
// SQL is written once, with `?` (or numbered `?1`) placeholders, in the subset both engines speak
// (INSERT … ON CONFLICT, RETURNING, CTEs); a backend rewrites placeholders to its own. Where the
// engines differ (column types in DDL, statement time limits, read-only statements), the
// difference is declared by the backend's `SQLDialect`, never tested by name in shared code.

import Foundation

/// A value passed to or read from SQL.
public enum StoreValue: Sendable, Hashable {
    case integer(Int64)
    case double(Double)
    case text(String)
    case blob(Data)
    case null
}

/// Stored text cannot hold U+0000 (PostgreSQL refuses it, SQLite's C strings end at it), which token
/// texts and imported prompts may: every backend stores it as U+E000 "0", and U+E000 itself (a
/// private-use character) as U+E000 U+E000, so every text reads back exactly.
public enum StoreText {
    public static let mark: Character = "\u{E000}"

    public static func escaped(_ s: String) -> String {
        guard s.contains(where: { $0 == "\u{0}" || $0 == mark }) else { return s }
        var out = ""
        for c in s {
            if c == "\u{0}" { out.append(mark); out.append("0") } else if c == mark { out.append(mark); out.append(mark) } else { out.append(c) }
        }
        return out
    }

    public static func unescaped(_ s: String) -> String {
        guard s.contains(mark) else { return s }
        var out = "", pending = false
        for c in s {
            if pending { out.append(c == "0" ? "\u{0}" : c); pending = false } else if c == mark { pending = true } else { out.append(c) }
        }
        return out
    }
}

/// A Swift value that can be bound as a statement parameter.
public protocol StoreBindable {
    var storeValue: StoreValue { get }
}

extension Int: StoreBindable { public var storeValue: StoreValue { .integer(Int64(self)) } }
extension Int64: StoreBindable { public var storeValue: StoreValue { .integer(self) } }
extension Double: StoreBindable { public var storeValue: StoreValue { .double(self) } }
extension String: StoreBindable { public var storeValue: StoreValue { .text(self) } }
extension Data: StoreBindable { public var storeValue: StoreValue { .blob(self) } }
extension StoreValue: StoreBindable { public var storeValue: StoreValue { self } }

/// A Swift value that a stored value can be read as.
public protocol StoreReadable {
    static func read(_ value: StoreValue) -> Self?
    /// What NULL reads as (nil for optionals; not readable otherwise).
    static var fromNull: Self? { get }
}

extension StoreReadable {
    public static var fromNull: Self? { nil }
}

extension Int64: StoreReadable {
    public static func read(_ value: StoreValue) -> Int64? {
        switch value {
        case let .integer(i): i
        case let .double(d): d.rounded() == d && abs(d) < 9.2e18 ? Int64(d) : nil
        default: nil
        }
    }
}
extension Int: StoreReadable { public static func read(_ value: StoreValue) -> Int? { Int64.read(value).map { Int($0) } } }
extension Double: StoreReadable {
    public static func read(_ value: StoreValue) -> Double? {
        switch value {
        case let .double(d): d
        case let .integer(i): Double(i)
        default: nil
        }
    }
}
extension String: StoreReadable {
    public static func read(_ value: StoreValue) -> String? { if case let .text(s) = value { s } else { nil } }
}
extension Data: StoreReadable {
    public static func read(_ value: StoreValue) -> Data? {
        switch value {
        case let .blob(b): b
        case let .text(s): Data(s.utf8)
        default: nil
        }
    }
}
extension Optional: StoreReadable where Wrapped: StoreReadable {
    public static func read(_ value: StoreValue) -> Wrapped?? {
        if case .null = value { return .some(nil) }
        return Wrapped.read(value).map { .some($0) }
    }
    public static var fromNull: Wrapped?? { .some(nil) }
}

/// One row of a result: its values, by position or by column name.
public struct StoreRow: Sendable {
    public let columns: StoreColumns
    public var values: [StoreValue]

    public init(columns: StoreColumns, values: [StoreValue]) {
        self.columns = columns
        self.values = values
    }

    public subscript(_ position: Int) -> StoreValue { values[position] }

    /// The value of `column`, or `GraphStoreError.damagedRow` naming the column when the stored
    /// value cannot be read as `T` (text where a number belongs, NULL where a value must be).
    public func value<T: StoreReadable>(_ column: String, graph: String? = nil) throws -> T {
        guard let i = columns.index[column] else {
            throw GraphStoreError.damagedRow(graph: graph, reason: "the result has no column \(column)")
        }
        let stored = values[i]
        if case .null = stored, let value = T.fromNull { return value }
        if let value = T.read(stored) { return value }
        throw GraphStoreError.damagedRow(graph: graph, reason: "column \(column) holds \(stored.shortDescription), not a \(T.self)")
    }
}

/// A result's column names, shared by its rows.
public final class StoreColumns: Sendable {
    public let names: [String]
    let index: [String: Int]
    public init(_ names: [String]) {
        self.names = names
        var index = [String: Int]()
        for (i, name) in names.enumerated() where index[name] == nil { index[name] = i }
        self.index = index
    }
}

extension StoreValue {
    /// A short rendering for error messages.
    var shortDescription: String {
        switch self {
        case let .integer(i): "\(i)"
        case let .double(d): "\(d)"
        case let .text(s): "'" + String(s.prefix(40)) + "'"
        case let .blob(b): "a blob of \(b.count) bytes"
        case .null: "NULL"
        }
    }
}

/// What differs between engines, declared by each backend.
public struct SQLDialect: Sendable {
    /// The engine's name in messages ("SQLite", "PostgreSQL").
    public var name: String
    /// Column types for the schema's portable names.
    public var key: String       // an integer primary key the engine assigns
    public var integer: String
    public var real: String
    public var blob: String
    /// Text that compares and sorts by code point on every server, whatever its locale (SQLite's
    /// own order): PostgreSQL sorts by the database's collation unless a column says otherwise.
    public var text: String
    /// The clause after a table whose primary key is its only index (SQLite's WITHOUT ROWID).
    public var keyedTable: String
    /// The table that records applied migrations (kept where existing stores have it).
    public var migrationsTable: String
    /// How compiled queries spell what engines spell differently.
    public var functions: SQLFunctions
    /// What ends a single-row SELECT so concurrent claims skip rows another transaction holds.
    public var skipLocked: String
    /// A statement that makes this write transaction wait for other writers that also run it
    /// (graph saves: slugs are chosen by reading first); empty where writers are serialised anyway.
    public var serialiseWriters: String
    /// Schema objects the functions need (created, or replaced, whenever the store is opened for writing).
    public var supportSQL: String
    /// What turns a statement into its plan, one line of text a row (the text in each row's last column).
    public var explain: String

    public init(name: String, key: String, integer: String, real: String, blob: String, text: String = "TEXT", keyedTable: String,
                migrationsTable: String, functions: SQLFunctions, skipLocked: String = "", serialiseWriters: String = "", supportSQL: String = "",
                explain: String = "EXPLAIN QUERY PLAN ") {
        self.explain = explain
        self.name = name
        self.key = key
        self.integer = integer
        self.real = real
        self.blob = blob
        self.text = text
        self.keyedTable = keyedTable
        self.migrationsTable = migrationsTable
        self.functions = functions
        self.skipLocked = skipLocked
        self.serialiseWriters = serialiseWriters
        self.supportSQL = supportSQL
    }

    /// Schema text with portable names ({key}, {integer}, {real}, {blob}, {text}, {keyed}) made concrete.
    public func ddl(_ schema: String) -> String {
        schema.replacingOccurrences(of: "{key}", with: key).replacingOccurrences(of: "{integer}", with: integer)
            .replacingOccurrences(of: "{real}", with: real).replacingOccurrences(of: "{blob}", with: blob)
            .replacingOccurrences(of: "{text}", with: self.text)
            .replacingOccurrences(of: "{keyed}", with: keyedTable)
    }
}

/// A connection inside a transaction: statements with bound values.
public protocol StoreConnection {
    /// Runs a statement that returns no rows; the number of rows it changed.
    @discardableResult
    func execute(_ sql: String, _ arguments: [(any StoreBindable)?]) throws -> Int
    /// Runs a statement and returns its rows.
    func rows(_ sql: String, _ arguments: [(any StoreBindable)?]) throws -> [StoreRow]
    /// Runs a statement and hands its rows over one at a time (for results too large to hold twice).
    func forEachRow(_ sql: String, _ arguments: [(any StoreBindable)?], _ body: (StoreRow) throws -> Void) throws
    /// Runs a statement whose columns are all numbers (NULL reads as 0) and returns them flat.
    func numbers(_ sql: String, _ arguments: [StoreValue]) throws -> (columns: Int, values: [Double])
    /// Inserts `count` rows into `table`: `row(i, &values)` fills row i's values, in `columns` order.
    func insert(into table: String, columns: [String], count: Int, row: (Int, inout [StoreValue]) -> Void) throws
    /// Runs schema statements (several, separated by semicolons), no values bound.
    func executeScript(_ sql: String) throws
}

extension StoreConnection {
    public func execute(_ sql: String) throws { try execute(sql, []) }
    public func rows(_ sql: String) throws -> [StoreRow] { try rows(sql, []) }
    /// The first row, if any.
    public func row(_ sql: String, _ arguments: [(any StoreBindable)?] = []) throws -> StoreRow? { try rows(sql, arguments).first }
    /// The first column of the first row, read as `T` (nil when there is no row or it is NULL).
    public func scalar<T: StoreReadable>(_ sql: String, _ arguments: [(any StoreBindable)?] = []) throws -> T? {
        guard let first = try rows(sql, arguments).first, let value = first.values.first else { return nil }
        if case .null = value { return nil }
        guard let read = T.read(value) else {
            throw GraphStoreError.damagedRow(graph: nil, reason: "a stored value is \(value.shortDescription), not a \(T.self)")
        }
        return read
    }
    /// The first column of every row, read as `T`.
    public func column<T: StoreReadable>(_ sql: String, _ arguments: [(any StoreBindable)?] = []) throws -> [T] {
        try rows(sql, arguments).map { row in
            guard let value = row.values.first, let read = T.read(value) else {
                throw GraphStoreError.damagedRow(graph: nil, reason: "a stored value is \(row.values.first?.shortDescription ?? "missing"), not a \(T.self)")
            }
            return read
        }
    }
}

/// A database engine holding a store: transactions, time limits and upkeep.
public protocol StoreDatabase: AnyObject, Sendable {
    var dialect: SQLDialect { get }
    /// Where the store is, for messages (a path, or a URL without its password).
    var location: String { get }
    /// Runs `body` in a read-only transaction (one consistent snapshot). With a time limit, a
    /// statement still running when it runs out is stopped and `GraphStoreError.interrupted` thrown.
    func read<T>(timeLimit: Double?, _ body: (any StoreConnection) throws -> T) throws -> T
    /// Runs `body` in one write transaction: it all lands or none of it does. Writers queue.
    func write<T>(_ body: (any StoreConnection) throws -> T) throws -> T
    /// Runs `body` outside any transaction (schema upkeep that may not run inside one).
    func withoutTransaction<T>(_ body: (any StoreConnection) throws -> T) throws -> T
    /// Makes the stored data compact (SQLite: VACUUM after checkpointing; PostgreSQL: VACUUM).
    func compact() throws
    /// Moves pending writes into the main store (SQLite's write-ahead log); a no-op elsewhere.
    func checkpoint() throws
    /// The engine's own consistency check ("ok" when sound).
    func integrityCheck() throws -> String
    /// Runs `body` holding the store's schema lock, so processes opening one store at once set up
    /// its schema one after another.
    func withSchemaLock<T>(_ body: () throws -> T) throws -> T
}

/// A migration: a name (recorded once applied) and its schema text with portable type names.
struct StoreMigration {
    var name: String
    var sql: String
}

extension StoreDatabase {
    /// Applies the migrations not yet applied, in order, each in its own transaction. A store
    /// that records a migration this build does not know was written by a newer version: refused.
    func migrate(_ migrations: [StoreMigration]) throws {
        try withSchemaLock { try applyMigrations(migrations) }
    }

    private func applyMigrations(_ migrations: [StoreMigration]) throws {
        let table = dialect.migrationsTable
        try write { db in try db.executeScript("CREATE TABLE IF NOT EXISTS \(table) (identifier TEXT NOT NULL PRIMARY KEY)") }
        let applied: [String] = try read(timeLimit: nil) { try $0.column("SELECT identifier FROM \(table)") }
        let known = Set(migrations.map(\.name))
        if applied.contains(where: { !known.contains($0) }) { throw GraphStoreError.newerSchema(path: location) }
        for migration in migrations where !applied.contains(migration.name) {
            try write { db in
                // Another process may have applied it since: the insert claims it first.
                guard try db.execute("INSERT INTO \(table) (identifier) VALUES (?) ON CONFLICT DO NOTHING", [migration.name]) == 1 else { return }
                try db.executeScript(dialect.ddl(migration.sql))
            }
        }
        if !dialect.supportSQL.isEmpty { try write { try $0.executeScript(dialect.supportSQL) } }
    }

    /// Whether the store has no schema at all (nothing was ever written to it).
    var isEmpty: Bool {
        get throws {
            let table = dialect.migrationsTable
            return try read(timeLimit: nil) { db in (try? db.column("SELECT identifier FROM \(table)") as [String])?.isEmpty ?? true }
        }
    }

    /// Whether every migration is applied (and none unknown): false for an older schema; throws
    /// for a newer one.
    func isCurrent(_ migrations: [StoreMigration]) throws -> Bool {
        let table = dialect.migrationsTable
        let applied: [String] = try read(timeLimit: nil) { db in
            do { return try db.column("SELECT identifier FROM \(table)") } catch { return [] }
        }
        let known = Set(migrations.map(\.name))
        if applied.contains(where: { !known.contains($0) }) { throw GraphStoreError.newerSchema(path: location) }
        return Set(applied) == known
    }
}
