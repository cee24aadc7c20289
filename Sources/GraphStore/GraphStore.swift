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
import GRDB

public final class GraphStore: @unchecked Sendable {
    public let path: String
    let database: DatabaseQueue

    /// Opens (or creates) a store, bringing its schema up to date. With `readOnly`, the store must
    /// exist and be up to date, and nothing is written to it: read commands work on read-only
    /// files, immutable files and full disks.
    public init(path: String, readOnly: Bool = false) throws {
        self.path = path
        if readOnly {
            var configuration = Configuration()
            configuration.readonly = true
            configuration.busyMode = .timeout(10)
            do {
                database = try DatabaseQueue(path: path, configuration: configuration)
                let migrator = GraphStore.migrator
                let (superseded, completed) = try database.read { (try migrator.hasBeenSuperseded($0), try migrator.hasCompletedMigrations($0)) }
                if superseded { throw GraphStoreError.newerSchema(path: path) }
                if !completed {
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
            return
        }
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty && !FileManager.default.fileExists(atPath: folder) {
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw GraphStoreError.cannotOpen(path: path, reason: error.localizedDescription)
            }
        }
        // Processes that open a new store at once would race to set it up (WAL mode, tables): the
        // set-up is serialised by an advisory lock on a file beside the store, which the system
        // releases even if a process dies holding it. Saving does not need it (transactions do).
        // The wait is bounded: a lock held for a minute is reported, not waited on forever.
        let lock = open(path + ".lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        if lock >= 0 {
            var waited = 0.0
            while flock(lock, LOCK_EX | LOCK_NB) != 0 {
                if waited >= GraphStore.lockWait {
                    close(lock)
                    throw GraphStoreError.cannotOpen(path: path, reason: "another process has held its set-up lock (\(path).lock) for \(Int(GraphStore.lockWait)) s; try again when it is done")
                }
                usleep(50_000)
                waited += 0.05
            }
        }
        defer { if lock >= 0 { flock(lock, LOCK_UN); close(lock) } }
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(60)
        configuration.foreignKeysEnabled = true
        do {
            database = try DatabaseQueue(path: path, configuration: configuration)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT {
            throw GraphStoreError.corrupt(path: path, reason: error.message ?? "not a database")
        } catch {
            throw GraphStoreError.cannotOpen(path: path, reason: String(describing: error))
        }
        do {
            let migrator = GraphStore.migrator
            if try database.read({ try migrator.hasBeenSuperseded($0) }) { throw GraphStoreError.newerSchema(path: path) }
            try migrator.migrate(database)
        } catch {
            throw GraphStoreError.opening(error, path: path, otherwise: { .corrupt(path: path, reason: $0) })
        }
    }

    /// How long opening a store waits for another process's set-up (seconds).
    nonisolated(unsafe) public static var lockWait = 60.0

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 graphs") { db in
            try db.execute(sql: """
                CREATE TABLE model (
                    id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL UNIQUE, path TEXT NOT NULL,
                    architecture TEXT NOT NULL, layers INTEGER NOT NULL, width INTEGER NOT NULL);
                CREATE TABLE transcoder_set (
                    id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL REFERENCES model(id),
                    fingerprint TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL, features INTEGER NOT NULL,
                    UNIQUE (model_id, fingerprint));
                CREATE TABLE prompt (
                    id INTEGER PRIMARY KEY, text TEXT NOT NULL, token_ids TEXT NOT NULL, UNIQUE (text, token_ids));
                CREATE TABLE graph (
                    id INTEGER PRIMARY KEY, slug TEXT NOT NULL UNIQUE,
                    prompt_id INTEGER NOT NULL REFERENCES prompt(id),
                    model_id INTEGER NOT NULL REFERENCES model(id),
                    transcoder_set_id INTEGER NOT NULL REFERENCES transcoder_set(id),
                    created_at TEXT NOT NULL, positions INTEGER NOT NULL, layers INTEGER NOT NULL,
                    active_features INTEGER NOT NULL, feature_nodes INTEGER NOT NULL, logit_nodes INTEGER NOT NULL,
                    node_threshold REAL NOT NULL, edge_threshold REAL NOT NULL,
                    replacement_score REAL, completeness_score REAL,
                    nodes_total INTEGER NOT NULL, edges_total INTEGER NOT NULL,
                    nodes_kept INTEGER NOT NULL, edges_kept INTEGER NOT NULL,
                    provenance TEXT NOT NULL, timings TEXT NOT NULL,
                    nodes_blob BLOB NOT NULL, adjacency BLOB NOT NULL);
                CREATE TABLE node (
                    graph_id INTEGER NOT NULL REFERENCES graph(id) ON DELETE CASCADE,
                    idx INTEGER NOT NULL, kind TEXT NOT NULL, layer INTEGER, position INTEGER NOT NULL,
                    feature INTEGER, token_id INTEGER, token_text TEXT, activation REAL, influence REAL NOT NULL,
                    probability REAL,
                    PRIMARY KEY (graph_id, idx)) WITHOUT ROWID;
                CREATE INDEX node_by_feature ON node(layer, feature) WHERE kind = 'feature';
                CREATE INDEX node_by_kind ON node(graph_id, kind);
                CREATE TABLE edge (
                    graph_id INTEGER NOT NULL REFERENCES graph(id) ON DELETE CASCADE,
                    source INTEGER NOT NULL, target INTEGER NOT NULL, weight REAL NOT NULL,
                    PRIMARY KEY (graph_id, source, target)) WITHOUT ROWID;
                CREATE INDEX edge_by_target ON edge(graph_id, target, source);
                CREATE TABLE feature (
                    transcoder_set_id INTEGER NOT NULL REFERENCES transcoder_set(id) ON DELETE CASCADE,
                    layer INTEGER NOT NULL, idx INTEGER NOT NULL,
                    label TEXT, user_label TEXT, statistics TEXT,
                    PRIMARY KEY (transcoder_set_id, layer, idx)) WITHOUT ROWID;
                """)
        }
        // Each node's total absolute input over the kept edges: the denominator of an edge's share
        // (path strength) as one key lookup instead of a sum over the target's edges.
        migrator.registerMigration("v2 node input totals") { db in
            try db.execute(sql: """
                ALTER TABLE node ADD COLUMN input_abs REAL;
                UPDATE node SET input_abs = (SELECT sum(abs(e.weight)) FROM edge e WHERE e.graph_id = node.graph_id AND e.target = node.idx);
                """)
        }
        // Feature pages (`circuitry features build`): per-feature statistics, strongest contexts
        // and logit-lens tokens; the scanned text once per set; each model's vocabulary texts.
        migrator.registerMigration("v3 feature pages") { db in
            try db.execute(sql: """
                ALTER TABLE feature ADD COLUMN firings INTEGER;
                ALTER TABLE feature ADD COLUMN frequency REAL;
                ALTER TABLE feature ADD COLUMN mean_activation REAL;
                ALTER TABLE feature ADD COLUMN max_activation REAL;
                ALTER TABLE feature ADD COLUMN contexts BLOB;
                ALTER TABLE feature ADD COLUMN logit_lens BLOB;
                CREATE TABLE feature_scan (
                    transcoder_set_id INTEGER PRIMARY KEY REFERENCES transcoder_set(id) ON DELETE CASCADE,
                    created_at TEXT NOT NULL, tokens INTEGER NOT NULL, sequence_length INTEGER NOT NULL,
                    sequences BLOB NOT NULL, corpus TEXT NOT NULL, options TEXT NOT NULL, seconds REAL NOT NULL);
                CREATE TABLE vocabulary (
                    model_id INTEGER PRIMARY KEY REFERENCES model(id) ON DELETE CASCADE, texts TEXT NOT NULL);
                """)
        }
        // Queries that name a kind across every graph (":Error", ":Logit" without USE) start from
        // those few nodes instead of scanning every edge.
        migrator.registerMigration("v4 nodes by kind across graphs") { db in
            try db.execute(sql: "CREATE INDEX node_by_kind_across_graphs ON node(kind, graph_id, idx)")
        }
        // Subgraphs saved in the viewer: pinned nodes and supernodes, as versioned JSON.
        migrator.registerMigration("v5 subgraphs") { db in
            try db.execute(sql: """
                CREATE TABLE subgraph (
                    graph_id INTEGER NOT NULL REFERENCES graph(id) ON DELETE CASCADE,
                    name TEXT NOT NULL, content TEXT NOT NULL, updated_at TEXT NOT NULL,
                    PRIMARY KEY (graph_id, name)) WITHOUT ROWID;
                """)
        }
        return migrator
    }

    /// Runs `body` in one write transaction: it all lands or none of it does.
    /// The transaction is IMMEDIATE: it takes the write lock before its first read, so two
    /// processes saving at once queue on the busy timeout instead of failing on a stale snapshot.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            var result: T?
            try database.inTransaction(.immediate) { db in
                result = try body(db)
                return .commit
            }
            return result!
        } catch let error as DatabaseError { throw mapped(error) }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try database.read(body) } catch let error as DatabaseError { throw mapped(error) }
    }

    func mapped(_ error: DatabaseError) -> GraphStoreError {
        if error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT {
            return .corrupt(path: path, reason: error.message ?? "not a database")
        }
        if error.resultCode == .SQLITE_INTERRUPT { return .interrupted }
        return .database(path: path, message: error.message ?? String(describing: error))
    }

    /// Crash-safety tests set CIRCUITRY_KILL_AT=save to have the process kill itself (SIGKILL, no
    /// clean-up) inside the save transaction, after every row is written and before the commit.
    static func faultPoint(_ name: String) {
        if ProcessInfo.processInfo.environment["CIRCUITRY_KILL_AT"] == name { kill(getpid(), SIGKILL) }
    }

    /// Moves the write-ahead log into the main file (so the file alone holds the whole store).
    public func checkpoint() throws {
        do { try database.writeWithoutTransaction { _ = try $0.checkpoint(.truncate) } } catch let error as DatabaseError { throw mapped(error) }
    }

    /// Rewrites the file without the free pages that replaced data left behind.
    public func vacuum() throws {
        do { try database.vacuum() } catch let error as DatabaseError { throw mapped(error) }
    }

    /// SQLite's own consistency check ("ok" when the file is sound).
    public func integrityCheck() throws -> String {
        try read { try String.fetchOne($0, sql: "PRAGMA integrity_check") ?? "no answer" }
    }
}
