// `circuitry batch` as a lab runs it: several worker processes sharing one store's queue, one of
// them killed mid-trace, connections cut under the others; every prompt must end with exactly one
// graph. And prompts files that are refused whole, before anything is queued.

import Foundation
import GraphStore
import Testing
import TestSupport

enum BatchFixture {
    static var tiny: TinyTrace { TraceFixture.tiny }

    static func batch(_ arguments: [String], store: String, environment: [String: String] = [:]) throws -> CommandLineRun {
        try CommandLineRun.circuitry(["batch"] + arguments + ["--model", tiny.modelPath, "--transcoders", tiny.transcoderFolder, "--store", store],
                                     environment: environment)
    }

    /// Runs `count` workers at once, each on its own thread (they block while their process runs).
    static func workers(_ count: Int, _ file: String, store: String, extra: [String], environment: (Int) -> [String: String]) -> [CommandLineRun?] {
        let results = Results(count)
        let group = DispatchGroup()
        for i in 0..<count {
            group.enter()
            let variables = environment(i)
            Thread.detachNewThread {
                results.set(i, try? batch([file, "--batch", "faults"] + extra, store: store, environment: variables))
                group.leave()
            }
        }
        group.wait()
        return results.all
    }

    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [CommandLineRun?]
        init(_ n: Int) { values = Array(repeating: nil, count: n) }
        func set(_ i: Int, _ r: CommandLineRun?) { lock.lock(); values[i] = r; lock.unlock() }
        var all: [CommandLineRun?] { lock.lock(); defer { lock.unlock() }; return values }
    }
}

@Suite struct BatchCommandTests {
    @Test func aBadPromptsFileIsRefusedWholeAndNothingIsQueued() throws {
        let store = temporaryPath(".sqlite")
        for (name, text, message) in [
            ("empty-line.txt", "one\n\nthree\n", "empty-line.txt:2: an empty line"),
            ("bad.jsonl", "{\"prompt\": \"a\"}\n{\"prompt\": \n", "bad.jsonl:2: not a JSON object"),
            ("keys.jsonl", "{\"prompt\": \"a\", \"colour\": 1}\n", "keys.jsonl:1: unknown key \"colour\""),
            ("none.txt", "", "none.txt: the prompts file is empty"),
        ] {
            let file = temporaryPath("-" + name)
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            TraceFixture.expectOneLineError(try BatchFixture.batch([file], store: store), containing: message)
        }
        // Refused before the store was even opened: no store was made.
        #expect(!FileManager.default.fileExists(atPath: store))
        TraceFixture.expectOneLineError(try BatchFixture.batch([temporaryPath(".txt"), "--shard", "4/4"], store: store), containing: "cannot read")
    }

    /// Four workers, 200 prompts; worker 0 kills itself (SIGKILL) inside its first trace, after
    /// claiming the prompt; on PostgreSQL every worker's connection is also cut three times (a
    /// server restarted during a batch is measured by Benchmarks/batch-faults.sh).
    @Test(arguments: TestStores.backends) func fourWorkersFinishEveryPromptOnceThroughKillsAndCutConnections(backend: String) throws {
        let store = try TestStores.location(backend)
        let file = temporaryPath(".txt")
        let prompts = (0..<200).map { "prompt \($0): \(["ab", "ba X", "a, b!"][$0 % 3])" }
        try (prompts.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let cutterDone = DispatchSemaphore(value: 0)
        if backend == "postgres" {
            Thread.detachNewThread {
                BatchCommandTests.cutConnections(store, times: 3)
                cutterDone.signal()
            }
        } else {
            cutterDone.signal()
        }
        defer { cutterDone.wait(); cutterDone.signal() }
        let runs = BatchFixture.workers(4, file, store: store, extra: ["--lease", "3"]) { i in i == 0 ? ["CIRCUITRY_KILL_AT": "batch-trace"] : [:] }
        #expect(runs[0]?.status == 9 || runs[0]?.status == 137 || runs[0].map { $0.status != 0 } == true, "worker 0 was killed")
        for run in runs.dropFirst() { #expect(run?.status == 0, "\(run?.standardError ?? "did not run")") }

        let status = try CommandLineRun.circuitry(["batch", "status", "faults", "--json", "--store", store])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(status.standardOutput.utf8)) as? [[String: Any]]).first
        #expect(report?["done"] as? Int == 200 && report?["failed"] as? Int == 0, "\(status.standardOutput)")
        #expect((report?["retried"] as? Int ?? 0) >= 1, "the killed worker's prompt was tried again")
        let graphs = try TraceFixture.graphs(store)
        let byPrompt = Dictionary(grouping: graphs, by: { $0["prompt"] as? String ?? "" })
        #expect(graphs.count == 200 && Set(byPrompt.keys) == Set(prompts) && byPrompt.values.allSatisfy { $0.count == 1 })
    }

    /// Ends every circuitry session on the server a few times while the batch runs: the first
    /// cuts come early, while workers are still opening the store and queueing the prompts.
    static func cutConnections(_ url: String, times: Int) {
        let plain = url.components(separatedBy: "?").first!
        for i in 0..<times {
            Thread.sleep(forTimeInterval: i == times - 1 ? 1.5 : 0.4)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
            process.arguments = [plain, "-qAtc", "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'circuitry %'"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try? process.run()
            process.waitUntilExit()
        }
    }
}
