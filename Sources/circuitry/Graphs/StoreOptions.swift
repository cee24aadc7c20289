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

extension GraphStore {
    /// Feature labels for a stored graph's transcoder set (user labels win), for display.
    func labels(for graph: StoredGraph) throws -> [FeatureKey: String] {
        try featureLabels(transcoderFingerprint: graph.provenance.transcoderFingerprint)
            .reduce(into: [FeatureKey: String]()) { $0[FeatureKey(layer: $1.key.layer, feature: $1.key.feature)] = $1.value }
    }
}
