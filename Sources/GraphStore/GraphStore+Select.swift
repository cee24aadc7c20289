// Read-only SQL over the store, for compiled queries (CircuitQL). The statement runs in a read
// transaction, and its values are bound as parameters, never spliced into its text.

import Foundation
import GRDB
import GRDBSQLite

/// A value passed to or read from SQL.
public enum StoreValue: Sendable, Hashable {
    case integer(Int64)
    case double(Double)
    case text(String)
    case null
}

extension GraphStore {
    /// Runs one SELECT with numbered parameters (?1 is arguments[0]) and returns its rows. With a
    /// time limit the statement is interrupted when it runs out, and `GraphStoreError.interrupted`
    /// is thrown.
    public func select(sql: String, arguments: [StoreValue], timeLimit: Double? = nil) throws -> [[StoreValue]] {
        let timer = timeLimit.map(interruptTimer)
        defer { timer?.cancel() }
        return try selectRows(sql: sql, arguments: arguments)
    }

    /// Runs one SELECT whose columns are all numbers (NULL reads as 0) and returns them flat, row
    /// after row: for walks over a graph's edges, hundreds of thousands of rows without a value
    /// object each.
    public func selectNumbers(sql: String, arguments: [StoreValue], timeLimit: Double? = nil) throws -> (columns: Int, values: [Double]) {
        let timer = timeLimit.map(interruptTimer)
        defer { timer?.cancel() }
        return try read { db in
            let statement = try db.makeStatement(sql: sql)
            guard statement.isReadonly else { throw GraphStoreError.invalidRequest("only queries that read the store can be run") }
            statement.arguments = GraphStore.statementArguments(arguments)
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
    }

    /// A timer that interrupts the running statement after `limit` seconds (cancel it when done).
    func interruptTimer(_ limit: Double) -> DispatchSourceTimer {
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + max(limit, 0))
        timer.setEventHandler { [database] in database.interrupt() }
        timer.resume()
        return timer
    }

    static func statementArguments(_ arguments: [StoreValue]) -> StatementArguments {
        StatementArguments(arguments.map { value -> DatabaseValueConvertible? in
            switch value {
            case let .integer(i): i
            case let .double(d): d
            case let .text(s): s
            case .null: nil
            }
        })
    }

    func selectRows(sql: String, arguments: [StoreValue]) throws -> [[StoreValue]] {
        try read { db in
            let statement = try db.makeStatement(sql: sql)
            guard statement.isReadonly else { throw GraphStoreError.invalidRequest("only queries that read the store can be run") }
            statement.arguments = GraphStore.statementArguments(arguments)
            var rows = [[StoreValue]]()
            let cursor = try Row.fetchCursor(statement)
            while let row = try cursor.next() {
                rows.append(row.databaseValues.map { value in
                    switch value.storage {
                    case let .int64(i): .integer(i)
                    case let .double(d): .double(d)
                    case let .string(s): .text(s)
                    case let .blob(b): .text(b.base64EncodedString())
                    case .null: .null
                    }
                })
            }
            return rows
        }
    }
}
