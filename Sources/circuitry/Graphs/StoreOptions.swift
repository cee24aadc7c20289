import ArgumentParser
import Foundation
import GraphExport
import GraphStore

/// `--store PATH`, shared by every command that reads or writes graphs.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The graph store: a SQLite file, or a PostgreSQL server as postgres://user@host[:port]/database[?schema=NAME] "
                                            + "(password from the URL, $PGPASSWORD or ~/.pgpass) (default: $CIRCUITRY_STORE, else Graphs/circuits.sqlite).",
                                            valueName: "path|url"))
    var store: String?

    var resolvedPath: String {
        if let store { return store }
        if let fromEnvironment = ProcessInfo.processInfo.environment["CIRCUITRY_STORE"], !fromEnvironment.isEmpty { return fromEnvironment }
        return Paths.defaultStore
    }

    /// Where the store is, as messages show it (a URL without its password).
    var shownLocation: String { GraphStore.redactedURL(resolvedPath) }

    /// Opens the store; one that does not exist is an error unless the command makes one. A
    /// server's store is made on first use whatever the command.
    func open(creating: Bool = false) throws -> GraphStore {
        let path = resolvedPath
        if GraphStore.isURL(path) { return try GraphStore.open(path) }
        if !creating && !FileManager.default.fileExists(atPath: path) {
            throw CommandError("\(path): no graph store there (`circuitry trace` makes one; check --store or $CIRCUITRY_STORE)")
        }
        return try GraphStore(path: path)
    }

    /// Opens an existing store for reading only: nothing is written, so read-only and immutable
    /// files, and full disks, still answer.
    func openForReading() throws -> GraphStore {
        let path = resolvedPath
        if GraphStore.isURL(path) { return try GraphStore.open(path, readOnly: true) }
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandError("\(path): no graph store there (`circuitry trace` makes one; check --store or $CIRCUITRY_STORE)")
        }
        return try GraphStore(path: path, readOnly: true)
    }
}
