import GRDB

/// Errors from the graph store.
public enum GraphStoreError: Error, Equatable, Sendable {
    case cannotOpen(path: String, reason: String)
    case corrupt(path: String, reason: String)
    case newerSchema(path: String)
    case unknownGraph(String)
    case invalidBlob(graph: String, reason: String)
    /// A stored row holds what its column cannot (text where a number belongs, an index past the end).
    case damagedRow(graph: String?, reason: String)
    case invalidRequest(String)
    case database(path: String, message: String)
    /// A statement ran past its time limit and was stopped.
    case interrupted
}

extension GraphStoreError {
    /// An error met while opening a store: ours as it is, SQLite's "not a database" as a corrupt
    /// store, anything else as `otherwise` says.
    static func opening(_ error: Error, path: String, otherwise: (String) -> GraphStoreError) -> GraphStoreError {
        if let error = error as? GraphStoreError { return error }
        if let error = error as? DatabaseError, error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT {
            return .corrupt(path: path, reason: error.message ?? "not a database")
        }
        return otherwise(String(describing: error))
    }
}

extension GraphStoreError: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "\(path): cannot open the graph store: \(reason)"
        case let .corrupt(path, reason): return "\(path): not a readable graph store (\(reason))"
        case let .newerSchema(path): return "\(path): the store was written by a newer version of Circuitry; upgrade to read it"
        case let .unknownGraph(key): return "no graph with id or slug \"\(key)\" in the store (list them with `circuitry graphs list`)"
        case let .invalidBlob(graph, reason): return "graph \(graph): its stored blobs cannot be read: \(reason)"
        case let .damagedRow(graph?, reason): return "graph \(graph): the store holds a damaged row (\(reason)); delete the graph and trace or import it again"
        case let .damagedRow(nil, reason): return "the store holds a damaged row (\(reason))"
        case let .invalidRequest(reason): return reason
        case let .database(path, message): return "\(path): \(message)"
        case .interrupted: return "the statement ran past its time limit and was stopped"
        }
    }
}
