import ArgumentParser
import Foundation
import GraphExport
import GraphStore

/// `--store PATH`, shared by every command that reads or writes graphs.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The graph store (default: $CIRCUITRY_STORE, else Graphs/circuits.sqlite).", valueName: "path"))
    var store: String?

    var resolvedPath: String {
        if let store { return store }
        if let fromEnvironment = ProcessInfo.processInfo.environment["CIRCUITRY_STORE"], !fromEnvironment.isEmpty { return fromEnvironment }
        return Paths.defaultStore
    }

    func open() throws -> GraphStore { try GraphStore(path: resolvedPath) }
}
