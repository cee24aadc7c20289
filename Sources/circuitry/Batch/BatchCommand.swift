import ArgumentParser
import Attribution
import Foundation
import GraphStore
import LanguageModels

struct BatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Trace many prompts, with any number of workers on any number of machines.",
        discussion: """
            `circuitry batch PROMPTS` queues the file's prompts in the store and works through them; start as many workers as you like (each loads the model and transcoders once), on one machine or many sharing a PostgreSQL store. A killed worker's prompt goes back to the queue when its lease runs out. Run `circuitry batch status` to see where a batch stands.

            Examples:
              circuitry batch prompts.txt --store postgres://me@lab-db/circuits
              circuitry batch prompts.jsonl --store postgres://me@lab-db/circuits \\
                  --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT
              circuitry batch status --store postgres://me@lab-db/circuits
            """,
        subcommands: [BatchRun.self, BatchStatusCommand.self],
        defaultSubcommand: BatchRun.self)
}

struct BatchRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Queue a prompts file's prompts (once) and trace them until none are left.",
        discussion: """
            PROMPTS is a text file with one prompt per line, or a .jsonl file with one {"prompt": "…", "slug": "…"} object per line (slug optional). The whole file is checked before anything is queued: an empty line or a line that is not such an object is an error naming its line. Starting a batch again resumes it: prompts already queued are not queued twice, and finished ones are not traced again.
            """)

    @Argument(help: ArgumentHelp("The prompts file (.txt: a prompt per line; .jsonl: an object per line).", valueName: "prompts"))
    var prompts: String
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var transcoderOptions: TranscoderOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var flags: AttributionFlags
    @Option(name: .long, help: "The batch's name in the store (default: the prompts file's name).")
    var batch: String?
    @Option(name: .long, help: ArgumentHelp("Work only on lines with line % N = I (scheduler array jobs: Slurm, Kubernetes indexed jobs).",
                                            valueName: "I/N"))
    var shard: String?
    @Option(name: .long, help: "Tries per prompt before it is marked failed.")
    var attempts = 3
    @Option(name: .long, help: "Seconds a worker holds a prompt without a heartbeat before another may take it.")
    var lease = 60.0
    @Flag(name: .long, help: "Do not prepend the beginning-of-sequence token.")
    var noBos = false
    @OptionGroup var output: JSONOption

    struct Report: Encodable {
        var worker: String
        var traced: Int
        var failedAttempts: Int
        var queuedNow: Int
        var status: BatchStatus
    }

    func run() throws {
        let parsed = try PromptsFile.read(prompts)
        let name = batch ?? ((prompts as NSString).lastPathComponent as NSString).deletingPathExtension
        let shard = try self.shard.map(BatchRun.parseShard)
        guard attempts >= 1, lease >= 2 else { throw CommandError("--attempts must be at least 1 and --lease at least 2 seconds") }
        let retrying = Retrying(seconds: 120)
        // A store that cannot be reached at all is an error now; one lost while it is being set up
        // (a cut connection, a server restarting) is tried again, like every later store step.
        let store = try retrying.run(opening: true) { try storeOptions.open(creating: true) }
        let queued = try retrying.run { try store.enqueue(batch: name, prompts: parsed) }
        let loaded = try modelOptions.load()
        let set = try transcoderOptions.load(for: loaded.configuration, lazy: true)
        let context = GraphContext(architecture: loaded.configuration.architecture, layers: loaded.configuration.layers,
                                   width: loaded.configuration.width, transcoderName: set.name, transcoderFeatures: set.features)
        let worker = "\(ProcessInfo.processInfo.hostName):\(getpid())"
        var traced = 0, failed = 0
        let bar = output.json ? nil : ProgressBar("batch \(name)", total: parsed.count)
        while true {
            guard let job = try retrying.run({ try store.claim(batch: name, worker: worker, lease: lease, maxAttempts: attempts, shard: shard) }) else {
                // Nothing to take now; prompts other workers hold may still come back (a worker
                // that dies leaves its prompt to the next claim after its lease).
                let status = try retrying.run { try store.batchStatus(name).first }
                guard let status, status.running > 0 else { break }
                Thread.sleep(forTimeInterval: min(lease / 4, 2))
                continue
            }
            let heartbeat = Heartbeat(every: lease / 4) { _ = try? store.renew(job, worker: worker, lease: lease) }
            do {
                let tokens = try loaded.tokenize(job.prompt, bos: !noBos)
                let provenance = try GraphProvenance.make(model: loaded, transcoders: set, prompt: job.prompt, tokens: tokens, options: flags.options)
                let graph = try Attribution.attribute(model: loaded.model, transcoders: set, tokens: tokens, options: flags.options,
                                                      provenance: provenance) { _ in }
                heartbeat.stop()
                if ProcessInfo.processInfo.environment["CIRCUITRY_KILL_AT"] == "batch-trace" { kill(getpid(), SIGKILL) }
                try retrying.run {
                    do {
                        _ = try store.save(graph, slug: job.slug, context: context, job: (job, worker)) { (try? loaded.tokenizer.text(of: $0)) ?? "?" }
                    } catch GraphStoreError.invalidRequest(let message) where message.contains("no longer this worker's") {
                        // A save whose commit landed but whose answer was lost: the job is done.
                        if let now = try store.jobState(job), now.state == "done", now.worker == worker { return }
                        throw GraphStoreError.invalidRequest(message)
                    }
                }
                traced += 1
            } catch {
                heartbeat.stop()
                failed += 1
                Output.note("line \(job.line) (attempt \(job.attempts)): \(error)")
                try retrying.run { try store.fail(job, worker: worker, error: String(describing: error), maxAttempts: attempts) }
            }
            if let bar, let status = try? store.batchStatus(name).first {
                bar.update(status.done + status.failed, detail: "\(status.done) done, \(status.running) running, \(status.failed) failed")
            }
        }
        bar?.finish()
        let status = try retrying.run { try store.batchStatus(name).first } ?? BatchStatus(batch: name)
        if output.json {
            try Output.json(Report(worker: worker, traced: traced, failedAttempts: failed, queuedNow: queued, status: status))
            return
        }
        print("worker \(worker): traced \(traced) prompt\(traced == 1 ? "" : "s")\(failed > 0 ? ", \(failed) attempt\(failed == 1 ? "" : "s") failed" : "")")
        print(BatchStatusCommand.describe(status))
    }

    static func parseShard(_ text: String) throws -> (index: Int, count: Int) {
        let parts = text.split(separator: "/").map { Int($0) }
        guard parts.count == 2, let i = parts[0], let n = parts[1], n >= 1, (0..<n).contains(i) else {
            throw CommandError("--shard takes I/N with 0 ≤ I < N, as in 3/16")
        }
        return (i, n)
    }
}

struct BatchStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show each batch's done, running, queued and failed prompts.",
                                                    discussion: "Examples:\n  circuitry batch status\n  circuitry batch status capitals --json")
    @Argument(help: "Only this batch.") var batch: String?
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: JSONOption

    func run() throws {
        let statuses = try storeOptions.openForReading().batchStatus(batch)
        if output.json { try Output.json(statuses); return }
        if statuses.isEmpty { print("no batches in \(storeOptions.shownLocation)"); return }
        for status in statuses { print(BatchStatusCommand.describe(status)) }
    }

    static func describe(_ s: BatchStatus) -> String {
        let width = 24, filled = s.total == 0 ? 0 : width * (s.done + s.failed) / s.total
        var lines = ["\(Output.visible(s.batch)) " + String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
                     + " \(s.done) done, \(s.running) running, \(s.queued) queued, \(s.failed) failed of \(s.total)"
                     + (s.retried > 0 ? " (\(s.retried) needed more than one attempt)" : "")]
        for f in s.failures.prefix(20) {
            lines.append("  line \(f.line) failed after \(f.attempts) attempt\(f.attempts == 1 ? "" : "s"): \(Output.visible(String(f.error.prefix(200))))")
        }
        if s.failures.count > 20 { lines.append("  … and \(s.failures.count - 20) more (--json lists them all)") }
        return lines.joined(separator: "\n")
    }
}

/// A prompts file, read and checked whole before anything is queued.
enum PromptsFile {
    static func read(_ path: String) throws -> [BatchPrompt] {
        guard let data = FileManager.default.contents(atPath: path) else { throw CommandError("\(path): cannot read the prompts file") }
        guard let text = String(data: data, encoding: .utf8) else { throw CommandError("\(path): the prompts file is not UTF-8 text") }
        let json = path.lowercased().hasSuffix(".jsonl") || path.lowercased().hasSuffix(".ndjson")
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        guard !lines.isEmpty else { throw CommandError("\(path): the prompts file is empty") }
        return try lines.enumerated().map { i, raw in
            let line = raw.hasSuffix("\r") ? String(raw.dropLast()) : raw
            let number = i + 1
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { throw CommandError("\(path):\(number): an empty line (every line must hold a prompt)") }
            guard json else { return BatchPrompt(line: number, prompt: line, slug: nil) }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw CommandError("\(path):\(number): not a JSON object (each line must be {\"prompt\": \"…\"})")
            }
            guard let prompt = object["prompt"] as? String, !prompt.isEmpty else { throw CommandError("\(path):\(number): no \"prompt\" text") }
            let unknown = Set(object.keys).subtracting(["prompt", "slug"])
            guard unknown.isEmpty else { throw CommandError("\(path):\(number): unknown key \"\(unknown.sorted()[0])\" (known: prompt, slug)") }
            if object["slug"] != nil && !(object["slug"] is String) { throw CommandError("\(path):\(number): \"slug\" must be text") }
            return BatchPrompt(line: number, prompt: prompt, slug: object["slug"] as? String)
        }
    }
}

/// Store operations retried while the store is unreachable (a server restarting, a cut
/// connection), for up to `seconds`; other errors are thrown at once. `opening`: the first
/// connection; a store that cannot be opened at all (no server, wrong password) is not retried,
/// one whose connection is lost while it is set up is.
struct Retrying {
    var seconds: Double

    func run<T>(opening: Bool = false, _ body: () throws -> T) throws -> T {
        let start = Date()
        var wait = 0.2
        while true {
            do { return try body() } catch let error as GraphStoreError {
                switch error {
                case .cannotOpen where !opening, .database:
                    guard Date().timeIntervalSince(start) < seconds else { throw error }
                    Thread.sleep(forTimeInterval: wait)
                    wait = min(wait * 2, 5)
                default: throw error
                }
            }
        }
    }
}

/// Calls `beat` every `interval` seconds on a background queue until stopped.
final class Heartbeat: @unchecked Sendable {
    private let timer: DispatchSourceTimer

    init(every interval: Double, _ beat: @escaping @Sendable () -> Void) {
        timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler(handler: beat)
        timer.resume()
    }

    func stop() { timer.cancel() }
}
