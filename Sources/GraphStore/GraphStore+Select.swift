// Read-only SQL over the store, for compiled queries (CircuitQL). The statement runs in a read
// transaction, and its values are bound as parameters, never spliced into its text.

import Foundation

extension GraphStore {
    /// Runs one SELECT with numbered parameters (?1 is arguments[0]) and returns its rows (blobs
    /// as base64 text). With a time limit the statement is stopped when it runs out, and
    /// `GraphStoreError.interrupted` is thrown.
    public func select(sql: String, arguments: [StoreValue], timeLimit: Double? = nil) throws -> [[StoreValue]] {
        try read(timeLimit: timeLimit) { db in
            var rows = [[StoreValue]]()
            try db.forEachRow(sql, arguments) { row in
                rows.append(row.values.map { if case let .blob(b) = $0 { .text(b.base64EncodedString()) } else { $0 } })
            }
            return rows
        }
    }

    /// Runs one SELECT whose columns are all numbers (NULL reads as 0) and returns them flat, row
    /// after row: for walks over a graph's edges, hundreds of thousands of rows without a value
    /// object each.
    public func selectNumbers(sql: String, arguments: [StoreValue], timeLimit: Double? = nil) throws -> (columns: Int, values: [Double]) {
        try read(timeLimit: timeLimit) { try $0.numbers(sql, arguments) }
    }

    /// The SQL dialect compiled queries must be written in.
    public var dialect: SQLDialect { database.dialect }
}
