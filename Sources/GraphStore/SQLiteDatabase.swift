// The embedded backend of the store interface: one SQLite file through GRDB, on the system's
// SQLite, in WAL mode so several processes can write one store.

import Foundation
import GRDB
import GRDBSQLite

public final class SQLiteDatabase: StoreDatabase, @unchecked Sendable {
    public let location: String
    public let dialect = SQLDialect(name: "SQLite", key: "INTEGER PRIMARY KEY", integer: "INTEGER", real: "REAL", blob: "BLOB",
                                    keyedTable: "WITHOUT ROWID", migrationsTable: "grdb_migrations",
                                    functions: .sqlite)
    let queue: DatabaseQueue

    /// How long opening a store waits for another process's set-up (seconds).
    nonisolated(unsafe) public static var lockWait = 60.0

    /// Opens (or with `readOnly` false, creates) the file.
    public init(path: String, readOnly: Bool) throws {
        location = path
        var configuration = Configuration()
        if readOnly {
            configuration.readonly = true
            configuration.busyMode = .timeout(10)
            do { queue = try DatabaseQueue(path: path, configuration: configuration) } catch {
                throw GraphStoreError.opening(error, path: path, otherwise: { .cannotOpen(path: path, reason: $0) })
            }
            return
        }
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty && !FileManager.default.fileExists(atPath: folder) {
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw GraphStoreError.cannotOpen(path: path, reason: error.localizedDescription)
            }
        }
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(60)
        configuration.foreignKeysEnabled = true
        do {
            // Turning on WAL mode writes the file: done under the set-up lock.
            var opened: DatabaseQueue?
            try SQLiteDatabase.withSetupLock(path) { opened = try DatabaseQueue(path: path, configuration: configuration) }
            queue = opened!
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT {
            throw GraphStoreError.corrupt(path: path, reason: error.message ?? "not a database")
        } catch let error as GraphStoreError {
            throw error
        } catch {
            throw GraphStoreError.cannotOpen(path: path, reason: String(describing: error))
        }
    }

    /// Processes that open a new store at once would race to set it up (WAL mode, tables): the
    /// set-up is serialised by an advisory lock on a file beside the store, which the system
    /// releases even if a process dies holding it. Saving does not need it (transactions do).
    /// The wait is bounded: a lock held for a minute is reported, not waited on forever.
    static func withSetupLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let lock = open(path + ".lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        if lock >= 0 {
            var waited = 0.0
            while flock(lock, LOCK_EX | LOCK_NB) != 0 {
                if waited >= lockWait {
                    close(lock)
                    throw GraphStoreError.cannotOpen(path: path, reason: "another process has held its set-up lock (\(path).lock) for \(Int(lockWait)) s; try again when it is done")
                }
                usleep(50_000)
                waited += 0.05
            }
        }
        defer { if lock >= 0 { flock(lock, LOCK_UN); close(lock) } }
        return try body()
    }

    public func withSchemaLock<T>(_ body: () throws -> T) throws -> T {
        try SQLiteDatabase.withSetupLock(location, body)
    }

    public func read<T>(timeLimit: Double?, _ body: (any StoreConnection) throws -> T) throws -> T {
        let timer = timeLimit.map(interruptTimer)
        defer { timer?.cancel() }
        do { return try queue.read { try body(SQLiteConnection(db: $0, readOnly: true)) } } catch let error as DatabaseError { throw mapped(error) }
    }

    /// The transaction is IMMEDIATE: it takes the write lock before its first read, so two
    /// processes saving at once queue on the busy timeout instead of failing on a stale snapshot.
    public func write<T>(_ body: (any StoreConnection) throws -> T) throws -> T {
        do {
            var result: T?
            try queue.inTransaction(.immediate) { db in
                result = try body(SQLiteConnection(db: db, readOnly: false))
                return .commit
            }
            return result!
        } catch let error as DatabaseError { throw mapped(error) }
    }

    public func withoutTransaction<T>(_ body: (any StoreConnection) throws -> T) throws -> T {
        do { return try queue.writeWithoutTransaction { try body(SQLiteConnection(db: $0, readOnly: false)) } } catch let error as DatabaseError { throw mapped(error) }
    }

    /// A timer that interrupts the running statement after `limit` seconds (cancel it when done).
    func interruptTimer(_ limit: Double) -> DispatchSourceTimer {
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + max(limit, 0))
        timer.setEventHandler { [queue] in queue.interrupt() }
        timer.resume()
        return timer
    }

    func mapped(_ error: DatabaseError) -> GraphStoreError {
        if error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT {
            return .corrupt(path: location, reason: error.message ?? "not a database")
        }
        if error.resultCode == .SQLITE_INTERRUPT { return .interrupted }
        return .database(path: location, message: error.message ?? String(describing: error))
    }

    public func checkpoint() throws {
        do { try queue.writeWithoutTransaction { _ = try $0.checkpoint(.truncate) } } catch let error as DatabaseError { throw mapped(error) }
    }

    public func compact() throws {
        do { try queue.vacuum() } catch let error as DatabaseError { throw mapped(error) }
    }

    public func integrityCheck() throws -> String {
        try read(timeLimit: nil) { try $0.scalar("PRAGMA integrity_check") ?? "no answer" }
    }
}

/// A GRDB connection seen through the store interface. In a read transaction every statement is
/// checked to be read-only before it runs.
struct SQLiteConnection: StoreConnection {
    let db: Database
    let readOnly: Bool

    func statement(_ sql: String, _ arguments: [(any StoreBindable)?]) throws -> Statement {
        let statement = try db.makeStatement(sql: sql)
        if readOnly && !statement.isReadonly { throw GraphStoreError.invalidRequest("only queries that read the store can be run") }
        statement.arguments = SQLiteConnection.arguments(arguments.map { $0?.storeValue ?? .null })
        return statement
    }

    static func arguments(_ values: [StoreValue]) -> StatementArguments {
        StatementArguments(values.map { value -> DatabaseValueConvertible? in
            switch value {
            case let .integer(i): i
            case let .double(d): d
            case let .text(s): StoreText.escaped(s)
            case let .blob(b): b
            case .null: nil
            }
        })
    }

    static func value(_ value: DatabaseValue) -> StoreValue {
        switch value.storage {
        case let .int64(i): .integer(i)
        case let .double(d): .double(d)
        case let .string(s): .text(StoreText.unescaped(s))
        case let .blob(b): .blob(b)
        case .null: .null
        }
    }

    func execute(_ sql: String, _ arguments: [(any StoreBindable)?]) throws -> Int {
        try statement(sql, arguments).execute()
        return db.changesCount
    }

    func rows(_ sql: String, _ arguments: [(any StoreBindable)?]) throws -> [StoreRow] {
        var rows = [StoreRow]()
        try forEachRow(sql, arguments) { rows.append($0) }
        return rows
    }

    func forEachRow(_ sql: String, _ arguments: [(any StoreBindable)?], _ body: (StoreRow) throws -> Void) throws {
        let statement = try statement(sql, arguments)
        let columns = StoreColumns(statement.columnNames)
        let cursor = try Row.fetchCursor(statement)
        while let row = try cursor.next() {
            try body(StoreRow(columns: columns, values: row.databaseValues.map(SQLiteConnection.value)))
        }
    }

    /// Read by column position straight from the statement: hundreds of thousands of edge rows
    /// without a value object each.
    func numbers(_ sql: String, _ arguments: [StoreValue]) throws -> (columns: Int, values: [Double]) {
        let statement = try statement(sql, arguments)
        let columns = Int(sqlite3_column_count(statement.sqliteStatement))
        var values = [Double]()
        let cursor = try Row.fetchCursor(statement)
        while try cursor.next() != nil {
            for c in 0..<columns {
                let type = sqlite3_column_type(statement.sqliteStatement, Int32(c))
                guard type != SQLITE_TEXT && type != SQLITE_BLOB else {
                    let name = String(cString: sqlite3_column_name(statement.sqliteStatement, Int32(c)))
                    throw GraphStoreError.damagedRow(graph: nil, reason: "column \(name) holds text where a number belongs")
                }
                values.append(sqlite3_column_double(statement.sqliteStatement, Int32(c)))
            }
        }
        return (columns, values)
    }

    /// One prepared statement, run once per row.
    func insert(into table: String, columns: [String], count: Int, row: (Int, inout [StoreValue]) -> Void) throws {
        let marks = [String](repeating: "?", count: columns.count).joined(separator: ", ")
        let statement = try db.makeStatement(sql: "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(marks))")
        var values = [StoreValue](repeating: .null, count: columns.count)
        for i in 0..<count {
            row(i, &values)
            try statement.execute(arguments: SQLiteConnection.arguments(values))
        }
    }

    func executeScript(_ sql: String) throws { try db.execute(sql: sql) }
}
