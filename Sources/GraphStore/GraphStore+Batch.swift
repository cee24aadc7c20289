// Batch tracing's work queue, a table of the store itself (`batch_job`): one row per prompt of a
// batch. Workers claim a job with a lease they renew while they trace (a heartbeat); a job whose
// lease ran out (its worker was killed, or lost the store) is claimable again, until it has been
// tried `maxAttempts` times. The graph is saved in the same transaction that marks the job done,
// and only while the worker still holds the job, so every prompt ends with exactly one graph.
// On PostgreSQL claims skip rows other workers hold (FOR UPDATE SKIP LOCKED); on SQLite writers
// are serialised anyway.

import Foundation

/// One prompt of a batch as a worker holds it.
public struct BatchJob: Sendable, Equatable {
    public var id: Int64
    public var line: Int
    public var prompt: String
    public var slug: String?
    public var attempts: Int
}

/// A prompt to queue: its line in the prompts file, text and optional slug.
public struct BatchPrompt: Sendable, Equatable {
    public var line: Int
    public var prompt: String
    public var slug: String?
    public init(line: Int, prompt: String, slug: String?) { self.line = line; self.prompt = prompt; self.slug = slug }
}

/// Where a batch stands.
public struct BatchStatus: Codable, Sendable, Equatable {
    public struct Failure: Codable, Sendable, Equatable {
        public var line: Int
        public var prompt: String
        public var attempts: Int
        public var error: String
    }
    public var batch: String
    public var queued = 0
    public var running = 0
    public var done = 0
    public var failed = 0
    /// Jobs tried more than once (their worker died or lost the store, or the trace failed).
    public var retried = 0
    public var failures: [Failure] = []
    public var total: Int { queued + running + done + failed }
    public init(batch: String) { self.batch = batch }
}

extension GraphStore {
    static let batchMigration = StoreMigration(name: "v6 batch queue", sql: """
        CREATE TABLE batch_job (
            id {key}, batch {text} NOT NULL, line {integer} NOT NULL, prompt {text} NOT NULL, slug {text},
            state {text} NOT NULL, attempts {integer} NOT NULL, worker {text}, lease_until {real},
            graph_id {integer} REFERENCES graph(id) ON DELETE SET NULL, error {text}, updated_at {text} NOT NULL,
            UNIQUE (batch, line));
        CREATE INDEX batch_job_by_state ON batch_job(batch, state, line);
        """)

    private static var now: Double { Date().timeIntervalSince1970 }
    private static var stamp: String { ISO8601DateFormatter().string(from: Date()) }

    /// Queues a batch's prompts; lines already queued (an earlier run of the same batch) are kept
    /// as they are, so a batch can be started again to resume it. Returns how many were new.
    @discardableResult
    public func enqueue(batch: String, prompts: [BatchPrompt]) throws -> Int {
        try write { db in
            var added = 0
            for p in prompts {
                added += try db.execute("""
                    INSERT INTO batch_job (batch, line, prompt, slug, state, attempts, updated_at) VALUES (?, ?, ?, ?, 'queued', 0, ?)
                    ON CONFLICT (batch, line) DO NOTHING
                    """, [batch, p.line, p.prompt, p.slug, GraphStore.stamp])
            }
            return added
        }
    }

    /// Takes the next job of a batch (the lowest line that is queued, or whose lease ran out),
    /// leased to `worker` for `lease` seconds. With a shard (index, count), only lines with
    /// line % count == index. nil when nothing is left to take.
    public func claim(batch: String, worker: String, lease: Double, maxAttempts: Int, shard: (index: Int, count: Int)? = nil) throws -> BatchJob? {
        try write { db in
            let now = GraphStore.now
            // Jobs whose worker stopped on their last allowed attempt have failed.
            try db.execute("""
                UPDATE batch_job SET state = 'failed', worker = NULL, updated_at = ?,
                    error = coalesce(error, 'its worker stopped before finishing (the lease ran out) on every attempt')
                WHERE batch = ? AND state = 'running' AND lease_until < ? AND attempts >= ?
                """, [GraphStore.stamp, batch, now, maxAttempts])
            let shardClause = shard.map { " AND line % \($0.count) = \($0.index)" } ?? ""
            guard let row = try db.row("""
                UPDATE batch_job SET state = 'running', worker = ?, attempts = attempts + 1, lease_until = ?, updated_at = ?
                WHERE id = (SELECT id FROM batch_job WHERE batch = ?\(shardClause)
                    AND (state = 'queued' OR (state = 'running' AND lease_until < ?)) AND attempts < ?
                    ORDER BY line LIMIT 1\(dialect.skipLocked))
                RETURNING id, line, prompt, slug, attempts
                """, [worker, now + lease, GraphStore.stamp, batch, now, maxAttempts]) else { return nil }
            return BatchJob(id: try row.value("id"), line: try row.value("line"), prompt: try row.value("prompt"), slug: try row.value("slug"),
                            attempts: try row.value("attempts"))
        }
    }

    /// Extends a held job's lease; false when the worker no longer holds it.
    public func renew(_ job: BatchJob, worker: String, lease: Double) throws -> Bool {
        try write { db in
            try db.execute("UPDATE batch_job SET lease_until = ? WHERE id = ? AND worker = ? AND state = 'running'",
                           [GraphStore.now + lease, job.id, worker]) == 1
        }
    }

    /// Records a failed attempt: the job is queued again, or failed once it has had its attempts.
    public func fail(_ job: BatchJob, worker: String, error: String, maxAttempts: Int) throws {
        _ = try write { db in
            try db.execute("""
                UPDATE batch_job SET state = CASE WHEN attempts >= ? THEN 'failed' ELSE 'queued' END, worker = NULL, lease_until = NULL,
                    error = ?, updated_at = ?
                WHERE id = ? AND worker = ? AND state = 'running'
                """, [maxAttempts, String(error.prefix(2000)), GraphStore.stamp, job.id, worker])
        }
    }

    /// Marks a held job done with its graph, inside the transaction that saves the graph: when the
    /// worker no longer holds the job (its lease ran out and another took it) the save is undone.
    static func complete(_ job: BatchJob, worker: String, graph: Int64, _ db: any StoreConnection) throws {
        guard try db.execute("""
            UPDATE batch_job SET state = 'done', graph_id = ?, error = NULL, lease_until = NULL, updated_at = ?
            WHERE id = ? AND worker = ? AND state = 'running'
            """, [graph, stamp, job.id, worker]) == 1 else {
            throw GraphStoreError.invalidRequest("job \(job.line) is no longer this worker's (its lease ran out); its graph was not saved")
        }
    }

    /// Every batch in the store (or one), with its counts and failures.
    public func batchStatus(_ batch: String? = nil) throws -> [BatchStatus] {
        try read { db in
            let names: [String] = try batch.map { [$0] } ?? db.column("SELECT DISTINCT batch FROM batch_job ORDER BY batch")
            return try names.map { name in
                var status = BatchStatus(batch: name)
                let now = GraphStore.now
                for row in try db.rows("SELECT state, attempts, lease_until FROM batch_job WHERE batch = ?", [name]) {
                    let attempts: Int = try row.value("attempts")
                    if attempts > 1 { status.retried += 1 }
                    switch try row.value("state") as String {
                    case "queued": status.queued += 1
                    case "running":
                        // A lease that ran out is a job waiting for its next worker.
                        if let until: Double = try row.value("lease_until"), until < now { status.queued += 1 } else { status.running += 1 }
                    case "done": status.done += 1
                    default: status.failed += 1
                    }
                }
                status.failures = try db.rows("SELECT line, prompt, attempts, error FROM batch_job WHERE batch = ? AND state = 'failed' ORDER BY line",
                                              [name]).map {
                    BatchStatus.Failure(line: try $0.value("line"), prompt: try $0.value("prompt"), attempts: try $0.value("attempts"),
                                        error: try $0.value("error") ?? "")
                }
                return status
            }
        }
    }
}

extension GraphStore {
    /// A job's state and worker as stored now.
    public func jobState(_ job: BatchJob) throws -> (state: String, worker: String?)? {
        try read { db in
            try db.row("SELECT state, worker FROM batch_job WHERE id = ?", [job.id]).map { (try $0.value("state"), try $0.value("worker")) }
        }
    }
}
