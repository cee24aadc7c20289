// The viewer's trace job: `circuitry trace` run as a child process, one at a time, with its
// progress read from its standard error, cancellable. The store write in `trace` is one
// transaction, so a cancelled job leaves nothing behind.

import Foundation

final class TraceJobs: @unchecked Sendable {
    struct Status: Encodable {
        var state: String          // idle, running, done, failed, cancelled
        var prompt: String?
        var progress: String?
        var slug: String?
        var error: String?
        var seconds: Double?
        var available: Bool
    }

    private let lock = NSLock()
    private let command: [String]?
    private let storePath: String
    private var process: Process?
    private var current = Status(state: "idle", available: false)
    private var started = Date()
    private var cancelled = false

    init(command: [String]?, storePath: String) {
        self.command = command
        self.storePath = storePath
        current.available = command != nil
    }

    var status: Status {
        lock.withLock {
            var s = current
            if s.state == "running" { s.seconds = Date().timeIntervalSince(started) }
            return s
        }
    }

    func start(prompt: String, slug: String?) throws -> Status {
        guard let command, let executable = command.first else {
            throw ViewerError(501, "this viewer cannot trace: start `circuitry serve` where a model and transcoders are available")
        }
        let text = prompt.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw ViewerError.badRequest("the prompt is empty") }
        guard prompt.count <= 2000 else { throw ViewerError.badRequest("the prompt has \(prompt.count) characters; the viewer traces at most 2000") }
        if let slug, slug.count > 100 { throw ViewerError.badRequest("a slug may have at most 100 characters") }
        return try lock.withLock {
            guard current.state != "running" else { throw ViewerError(409, "a trace is already running; wait for it or cancel it") }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: executable)
            // The store goes by environment, not argv: a server's URL may carry its password.
            var arguments = Array(command.dropFirst()) + [prompt, "--json"]
            if let slug, !slug.isEmpty { arguments += ["--slug", slug] }
            p.arguments = arguments
            p.environment = ProcessInfo.processInfo.environment.merging(["CIRCUITRY_STORE": storePath]) { $1 }
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            p.standardInput = FileHandle.nullDevice
            let collected = OutputBuffer()
            err.fileHandleForReading.readabilityHandler = { [weak self] handle in
                let data = handle.availableData
                guard !data.isEmpty else { handle.readabilityHandler = nil; return }
                collected.appendError(data)
                self?.lock.withLock { self?.current.progress = collected.lastLine }
            }
            out.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                if data.isEmpty { handle.readabilityHandler = nil } else { collected.appendOutput(data) }
            }
            p.terminationHandler = { [weak self] process in
                guard let self else { return }
                // Let the pipes drain.
                Thread.sleep(forTimeInterval: 0.1)
                self.lock.withLock {
                    self.current.seconds = Date().timeIntervalSince(self.started)
                    self.process = nil
                    if self.cancelled {
                        self.current.state = "cancelled"
                    } else if process.terminationStatus == 0 {
                        self.current.state = "done"
                        self.current.slug = collected.slug
                    } else {
                        self.current.state = "failed"
                        self.current.error = collected.errorMessage ?? "trace exited with status \(process.terminationStatus)"
                    }
                }
            }
            cancelled = false
            started = Date()
            current = Status(state: "running", prompt: prompt, progress: "starting", available: true)
            do { try p.run() } catch {
                current = Status(state: "failed", prompt: prompt, error: "could not start the trace: \(error)", available: true)
                throw ViewerError(500, "could not start the trace: \(error)")
            }
            process = p
            return current
        }
    }

    func cancel() throws -> Status {
        try lock.withLock {
            guard let process, current.state == "running" else { throw ViewerError(409, "no trace is running") }
            cancelled = true
            Self.stop(process)
            return current
        }
    }

    /// SIGTERM, then SIGKILL if the child is still there a second later (one that ignores
    /// SIGTERM). The trace's store write is one transaction, so even a killed trace leaves nothing
    /// behind.
    static func stop(_ process: Process) {
        process.terminate()
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 1) { if process.isRunning { kill(pid, SIGKILL) } }
    }

    /// Stops a running trace (the server is shutting down).
    func stop() {
        lock.withLock {
            cancelled = true
            if let process { Self.stop(process) }
        }
    }
}

/// What a trace child has written so far.
final class OutputBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var output = Data(), errors = Data()

    func appendOutput(_ d: Data) { lock.withLock { output.append(d) } }
    func appendError(_ d: Data) { lock.withLock { errors.append(d); if errors.count > 1 << 20 { errors = errors.suffix(1 << 16) } } }

    /// The progress bar's latest state (it redraws with carriage returns).
    var lastLine: String? {
        lock.withLock {
            let text = String(decoding: errors.suffix(4096), as: UTF8.self)
            return text.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).last.map { String($0).trimmingCharacters(in: .whitespaces) }
        }
    }

    var errorMessage: String? {
        lock.withLock {
            String(decoding: errors, as: UTF8.self).split(whereSeparator: { $0 == "\r" || $0 == "\n" }).last { $0.hasPrefix("error:") }.map(String.init)
        }
    }

    /// The new graph's slug from `trace --json`.
    var slug: String? {
        lock.withLock {
            (try? JSONSerialization.jsonObject(with: output) as? [String: Any])?["slug"] as? String
        }
    }
}
