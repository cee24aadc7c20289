// The graph store: attribution graphs in SQLite (through GRDB, on the system's SQLite, in WAL
// mode so several processes can write one store). Migrations are named and appended, never
// edited; a store that has migrations this build does not know is refused, not misread.
//
// Tables
//   model          a model file: fingerprint, architecture, sizes
//   transcoder_set a transcoder set of a model: fingerprint, name, path, width
//   prompt         a prompt's text and token ids
//   graph          one attribution graph: slug, prompt, model, set, options, scores, counts,
//                  provenance and timings (JSON), and `adjacency` (the unpruned adjacency, exact,
//                  see SparseAdjacency) with `nodes_blob` (all node facts) for re-pruning; the
//                  JSON ones carry a format version and explicit keys (see StoredBlobs)
//   node           the pruned graph's nodes: kind, layer, position, feature, token id and text,
//                  activation, influence, probability (logits), input_abs (Σ |weight| of its
//                  kept incoming edges, v2); key (graph_id, idx)
//   edge           the pruned graph's edges source → target with weight A[target, source]
//   feature        transcoder features (label, user label, statistics), joined into graphs;
//                  feature pages (v3): firings, frequency, mean and max activation, strongest
//                  contexts and logit-lens tokens (compact blobs, see FeaturePageBlobs)
//   feature_scan   what a set's pages were built from: the scanned token sequences, options
//   vocabulary     a model's token texts (JSON array), so pages show text without the model
// Indexes serve path queries from either end: edge (graph_id, source, target) as the primary key
// and edge_by_target (graph_id, target, source); node_by_feature (layer, feature).

import Foundation

public final class GraphStore: @unchecked Sendable {
    /// Where the store is, for messages: a path, or a server's URL without its password.
    public let path: String
    /// What the store was opened from, password and all (for child processes, never for messages).
    public private(set) var openedFrom: String
    let database: any StoreDatabase

    /// Opens (or creates) a SQLite store, bringing its schema up to date. With `readOnly`, the
    /// store must exist and be up to date, and nothing is written to it: read commands work on
    /// read-only files, immutable files and full disks.
    public convenience init(path: String, readOnly: Bool = false) throws {
        if readOnly {
            let database = try SQLiteDatabase(path: path, readOnly: true)
            do {
                if try !database.isCurrent(GraphStore.migrations) {
                    // An older schema is brought up to date first when the file can be written.
                    guard access(path, W_OK) == 0 else {
                        throw GraphStoreError.cannotOpen(path: path, reason: "its schema is older than this version and the file is read-only; "
                                                         + "open it once where it can be written to upgrade it")
                    }
                    _ = try GraphStore(path: path)
                }
            } catch {
                throw GraphStoreError.opening(error, path: path, otherwise: { .cannotOpen(path: path, reason: $0) })
            }
            self.init(opened: database)
            return
        }
        try self.init(database: try SQLiteDatabase(path: path, readOnly: false))
    }

    /// A store on any backend, its schema brought up to date (a newer schema is refused).
    public init(database: any StoreDatabase) throws {
        self.database = database
        path = database.location
        openedFrom = database.location
        do { try database.migrate(GraphStore.migrations) } catch {
            throw GraphStoreError.opening(error, path: path, otherwise: { .corrupt(path: database.location, reason: $0) })
        }
    }

    /// A store whose schema was checked by the caller.
    init(opened database: any StoreDatabase) {
        self.database = database
        path = database.location
        openedFrom = database.location
    }

    /// The engine the store is on ("SQLite", "PostgreSQL").
    public var engine: String { database.dialect.name }

    /// Backends for stores named by URL, by scheme ("postgres"): each opens a location, read-only
    /// or not. The program registers the ones it is built with (GraphStore knows only the interface).
    nonisolated(unsafe) public static var backends: [String: @Sendable (String, Bool) throws -> any StoreDatabase] = [:]

    /// Whether `location` names a server (a URL with a registered or known scheme) rather than a file.
    public static func isURL(_ location: String) -> Bool {
        guard let colon = location.range(of: "://") else { return false }
        let scheme = location[..<colon.lowerBound]
        return !scheme.isEmpty && scheme.allSatisfy { $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }
    }

    /// Opens the store at a path (SQLite) or a URL (the backend registered for its scheme).
    public static func open(_ location: String, readOnly: Bool = false) throws -> GraphStore {
        guard isURL(location) else { return try GraphStore(path: location, readOnly: readOnly) }
        let scheme = String(location[..<location.range(of: "://")!.lowerBound]).lowercased()
        guard let backend = backends[scheme] else {
            let known = backends.keys.sorted().map { $0 + "://" }.joined(separator: ", ")
            throw GraphStoreError.cannotOpen(path: redactedURL(location), reason: "no store backend for \(scheme)://"
                                             + (known.isEmpty ? "" : " (this build knows \(known) and file paths)"))
        }
        let database = try backend(location, readOnly)
        let store: GraphStore
        if readOnly {
            guard try database.isCurrent(migrations) else {
                throw GraphStoreError.cannotOpen(path: database.location, reason: try database.isEmpty
                    ? "no graph store there yet (`circuitry trace`, `batch` or `store copy` makes one)"
                    : "its schema is older than this version; open it once for writing to upgrade it")
            }
            store = GraphStore(opened: database)
        } else {
            store = try GraphStore(database: database)
        }
        store.openedFrom = location
        return store
    }

    /// A URL with any password replaced by "***", for messages.
    public static func redactedURL(_ location: String) -> String {
        guard let schemeEnd = location.range(of: "://"), let at = location[schemeEnd.upperBound...].firstIndex(of: "@") else { return location }
        let userInfo = location[schemeEnd.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return location }
        return String(location[..<colon]) + ":***" + String(location[at...])
    }

    /// How long opening a SQLite store waits for another process's set-up (seconds).
    public static var lockWait: Double {
        get { SQLiteDatabase.lockWait }
        set { SQLiteDatabase.lockWait = newValue }
    }

    /// The schema, as named migrations appended in order (never edited), in portable type names
    /// (`{key}`, `{integer}`, `{real}`, `{blob}`, `{text}`, `{keyed}`: see SQLDialect) so both backends
    /// build the same tables from one text.
    static let migrations: [StoreMigration] = [
        StoreMigration(name: "v1 graphs", sql: """
            CREATE TABLE model (
                id {key}, fingerprint {text} NOT NULL UNIQUE, path {text} NOT NULL,
                architecture {text} NOT NULL, layers {integer} NOT NULL, width {integer} NOT NULL);
            CREATE TABLE transcoder_set (
                id {key}, model_id {integer} NOT NULL REFERENCES model(id),
                fingerprint {text} NOT NULL, name {text} NOT NULL, path {text} NOT NULL, features {integer} NOT NULL,
                UNIQUE (model_id, fingerprint));
            CREATE TABLE prompt (
                id {key}, text {text} NOT NULL, token_ids {text} NOT NULL, UNIQUE (text, token_ids));
            CREATE TABLE graph (
                id {key}, slug {text} NOT NULL UNIQUE,
                prompt_id {integer} NOT NULL REFERENCES prompt(id),
                model_id {integer} NOT NULL REFERENCES model(id),
                transcoder_set_id {integer} NOT NULL REFERENCES transcoder_set(id),
                created_at {text} NOT NULL, positions {integer} NOT NULL, layers {integer} NOT NULL,
                active_features {integer} NOT NULL, feature_nodes {integer} NOT NULL, logit_nodes {integer} NOT NULL,
                node_threshold {real} NOT NULL, edge_threshold {real} NOT NULL,
                replacement_score {real}, completeness_score {real},
                nodes_total {integer} NOT NULL, edges_total {integer} NOT NULL,
                nodes_kept {integer} NOT NULL, edges_kept {integer} NOT NULL,
                provenance {text} NOT NULL, timings {text} NOT NULL,
                nodes_blob {blob} NOT NULL, adjacency {blob} NOT NULL);
            CREATE TABLE node (
                graph_id {integer} NOT NULL REFERENCES graph(id) ON DELETE CASCADE,
                idx {integer} NOT NULL, kind {text} NOT NULL, layer {integer}, position {integer} NOT NULL,
                feature {integer}, token_id {integer}, token_text {text}, activation {real}, influence {real} NOT NULL,
                probability {real},
                PRIMARY KEY (graph_id, idx)) {keyed};
            CREATE INDEX node_by_feature ON node(layer, feature) WHERE kind = 'feature';
            CREATE INDEX node_by_kind ON node(graph_id, kind);
            CREATE TABLE edge (
                graph_id {integer} NOT NULL REFERENCES graph(id) ON DELETE CASCADE,
                source {integer} NOT NULL, target {integer} NOT NULL, weight {real} NOT NULL,
                PRIMARY KEY (graph_id, source, target)) {keyed};
            CREATE INDEX edge_by_target ON edge(graph_id, target, source);
            CREATE TABLE feature (
                transcoder_set_id {integer} NOT NULL REFERENCES transcoder_set(id) ON DELETE CASCADE,
                layer {integer} NOT NULL, idx {integer} NOT NULL,
                label {text}, user_label {text}, statistics {text},
                PRIMARY KEY (transcoder_set_id, layer, idx)) {keyed};
            """),
        // Each node's total absolute input over the kept edges: the denominator of an edge's share
        // (path strength) as one key lookup instead of a sum over the target's edges.
        StoreMigration(name: "v2 node input totals", sql: """
            ALTER TABLE node ADD COLUMN input_abs {real};
            UPDATE node SET input_abs = (SELECT sum(abs(e.weight)) FROM edge e WHERE e.graph_id = node.graph_id AND e.target = node.idx);
            """),
        // Feature pages (`circuitry features build`): per-feature statistics, strongest contexts
        // and logit-lens tokens; the scanned text once per set; each model's vocabulary texts.
        StoreMigration(name: "v3 feature pages", sql: """
            ALTER TABLE feature ADD COLUMN firings {integer};
            ALTER TABLE feature ADD COLUMN frequency {real};
            ALTER TABLE feature ADD COLUMN mean_activation {real};
            ALTER TABLE feature ADD COLUMN max_activation {real};
            ALTER TABLE feature ADD COLUMN contexts {blob};
            ALTER TABLE feature ADD COLUMN logit_lens {blob};
            CREATE TABLE feature_scan (
                transcoder_set_id {integer} PRIMARY KEY REFERENCES transcoder_set(id) ON DELETE CASCADE,
                created_at {text} NOT NULL, tokens {integer} NOT NULL, sequence_length {integer} NOT NULL,
                sequences {blob} NOT NULL, corpus {text} NOT NULL, options {text} NOT NULL, seconds {real} NOT NULL);
            CREATE TABLE vocabulary (
                model_id {integer} PRIMARY KEY REFERENCES model(id) ON DELETE CASCADE, texts {text} NOT NULL);
            """),
        // Queries that name a kind across every graph (":Error", ":Logit" without USE) start from
        // those few nodes instead of scanning every edge.
        StoreMigration(name: "v4 nodes by kind across graphs", sql: "CREATE INDEX node_by_kind_across_graphs ON node(kind, graph_id, idx)"),
        // Subgraphs saved in the viewer: pinned nodes and supernodes, as versioned JSON.
        StoreMigration(name: "v5 subgraphs", sql: """
            CREATE TABLE subgraph (
                graph_id {integer} NOT NULL REFERENCES graph(id) ON DELETE CASCADE,
                name {text} NOT NULL, content {text} NOT NULL, updated_at {text} NOT NULL,
                PRIMARY KEY (graph_id, name)) {keyed};
            """),
        // Batch tracing's work queue (GraphStore+Batch).
        batchMigration,
    ]

    /// Makes this write transaction wait for other serialised writers (see SQLDialect).
    func serialise(_ db: any StoreConnection) throws {
        if !dialect.serialiseWriters.isEmpty { try db.executeScript(dialect.serialiseWriters) }
    }

    /// Runs `body` in one write transaction: it all lands or none of it does.
    func write<T>(_ body: (any StoreConnection) throws -> T) throws -> T {
        try database.write(body)
    }

    func read<T>(timeLimit: Double? = nil, _ body: (any StoreConnection) throws -> T) throws -> T {
        try database.read(timeLimit: timeLimit, body)
    }

    /// Crash-safety tests set CIRCUITRY_KILL_AT=save to have the process kill itself (SIGKILL, no
    /// clean-up) inside the save transaction, after every row is written and before the commit.
    static func faultPoint(_ name: String) {
        if ProcessInfo.processInfo.environment["CIRCUITRY_KILL_AT"] == name { kill(getpid(), SIGKILL) }
    }

    /// Moves pending writes into the main store (SQLite: the write-ahead log into the file, so the
    /// file alone holds the whole store).
    public func checkpoint() throws { try database.checkpoint() }

    /// Gives back the space that replaced data left behind.
    public func vacuum() throws { try database.compact() }

    /// The engine's own consistency check ("ok" when the store is sound).
    public func integrityCheck() throws -> String { try database.integrityCheck() }
}
