// `circuitry trace`, `graphs` and `export` as a user runs them, on a tiny model and transcoder
// set: files written, store round trips, a crash during the write, concurrent traces, bad input.

import Foundation
import GraphStore
import Testing
import TestSupport

/// A tiny model and transcoder set on disk, shared by the tests below.
enum TraceFixture {
    static let tiny: TinyTrace = try! TinyTrace()

    static func trace(_ prompt: String, store: String, _ extra: [String] = [], environment: [String: String] = [:]) throws -> CommandLineRun {
        try CommandLineRun.circuitry(["trace", prompt, "--model", tiny.modelPath, "--transcoders", tiny.transcoderFolder, "--store", store] + extra,
                                     environment: environment)
    }

    static func json(_ run: CommandLineRun) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8))
    }

    static func graphs(_ store: String) throws -> [[String: Any]] {
        let run = try CommandLineRun.circuitry(["graphs", "list", "--json", "--store", store])
        #expect(run.status == 0, "\(run.standardError)")
        return try #require(try json(run) as? [[String: Any]])
    }

    /// A one-line error on standard error and exit status 1.
    static func expectOneLineError(_ run: CommandLineRun, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.status == 1, "status \(run.status): \(run.standardError)", sourceLocation: sourceLocation)
        let lines = run.standardError.split(separator: "\n").filter { !$0.contains("elapsed") }    // minus progress bars
        #expect(lines.count == 1 && lines[0].contains(text), "\(run.standardError)", sourceLocation: sourceLocation)
        #expect(run.standardOutput.isEmpty, sourceLocation: sourceLocation)
    }
}

@Suite struct TraceCommandTests {
    @Test func traceSavesPrintsAndWritesEveryFormat() throws {
        let store = temporaryPath(".sqlite")
        let (svg, dot, json) = (temporaryPath(".svg"), temporaryPath(".dot"), temporaryPath(".json"))
        let run = try TraceFixture.trace("Hi there, Tex!", store: store, ["--svg", svg, "--dot", dot, "--json-out", json, "--slug", "tex"])
        #expect(run.status == 0, "\(run.standardError)")
        for part in ["graph 1 \"tex\" saved in \(store)", "top logits:", "after pruning", "replacement score", "strongest paths to", "time: forward"] {
            #expect(run.standardOutput.contains(part), "missing \(part)")
        }
        #expect(run.standardError.contains("trace"))     // the progress bar
        #expect(try String(contentsOfFile: svg, encoding: .utf8).contains("</svg>"))
        #expect(try String(contentsOfFile: dot, encoding: .utf8).hasPrefix("digraph"))
        let file = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        #expect((file["metadata"] as? [String: Any])?["prompt"] as? String == "Hi there, Tex!")

        // `export` writes the same JSON as `trace --json`.
        let exported = temporaryPath(".json")
        let export = try CommandLineRun.circuitry(["export", "tex", "--format", "json", "--out", exported, "--store", store])
        #expect(export.status == 0, "\(export.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: exported)) == Data(contentsOf: URL(fileURLWithPath: json)))

        // list, show, prune, import, delete.
        let listed = try TraceFixture.graphs(store)
        #expect(listed.count == 1 && listed[0]["slug"] as? String == "tex")
        let show = try CommandLineRun.circuitry(["graphs", "show", "1", "--json", "--store", store])
        let shown = try #require(try TraceFixture.json(show) as? [String: Any])
        let keptNodes = try #require(shown["nodes"] as? [[String: Any]]).count
        #expect(keptNodes == (listed[0]["nodes_kept"] as? Int))

        let prune = try CommandLineRun.circuitry(["graphs", "prune", "tex", "--node-threshold", "0.3", "--edge-threshold", "0.5", "--store", store])
        #expect(prune.status == 0, "\(prune.standardError)")
        #expect((try TraceFixture.graphs(store)[0]["nodes_kept"] as? Int ?? .max) < keptNodes)

        let imported = try CommandLineRun.circuitry(["graphs", "import", json, "--store", store])
        #expect(imported.status == 0, "\(imported.standardError)")
        #expect(try TraceFixture.graphs(store).map { $0["slug"] as? String } == ["tex-2", "tex"])

        #expect(try CommandLineRun.circuitry(["graphs", "delete", "tex", "--store", store]).status == 0)
        #expect(try TraceFixture.graphs(store).map { $0["slug"] as? String } == ["tex-2"])
        TraceFixture.expectOneLineError(try CommandLineRun.circuitry(["graphs", "show", "tex", "--store", store]), containing: "no graph with id or slug \"tex\"")
    }

    @Test func aTraceKilledDuringItsWriteLeavesTheStoreConsistent() throws {
        let store = temporaryPath(".sqlite")
        #expect(try TraceFixture.trace("First graph", store: store).status == 0)
        let before = try TraceFixture.graphs(store)

        let killed = try TraceFixture.trace("Killed while saving", store: store, environment: ["CIRCUITRY_KILL_AT": "save"])
        #expect(killed.status == SIGKILL)           // killed by the signal, not an orderly exit
        #expect(!killed.standardOutput.contains("saved in"))

        // The store opens, passes SQLite's integrity check, and holds exactly the first graph.
        let check = try CommandLineRun.circuitry(["graphs", "list", "--json", "--store", store])
        #expect(check.status == 0, "\(check.standardError)")
        let after = try TraceFixture.graphs(store)
        #expect(after.count == 1 && after[0]["slug"] as? String == before[0]["slug"] as? String)
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sqlite.arguments = ["python3", "-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            print(db.execute('PRAGMA integrity_check').fetchone()[0],
                  db.execute('SELECT count(*) FROM node WHERE graph_id NOT IN (SELECT id FROM graph)').fetchone()[0],
                  db.execute('SELECT count(*) FROM edge WHERE graph_id NOT IN (SELECT id FROM graph)').fetchone()[0],
                  db.execute("SELECT count(*) FROM prompt WHERE text = 'Killed while saving'").fetchone()[0])
            """, store]
        let pipe = Pipe()
        sqlite.standardOutput = pipe
        try sqlite.run()
        let report = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        sqlite.waitUntilExit()
        #expect(report.trimmingCharacters(in: .whitespacesAndNewlines) == "ok 0 0 0")

        // And the next trace lands normally.
        #expect(try TraceFixture.trace("Killed while saving", store: store).status == 0)
        #expect(try TraceFixture.graphs(store).count == 2)
    }

    @Test func twoTracesWritingOneStoreAtOnceBothLand() async throws {
        let store = temporaryPath(".sqlite")
        let runs = try await withThrowingTaskGroup(of: CommandLineRun.self) { group in
            for prompt in ["One prompt here", "Another prompt", "A third one"] {
                group.addTask { try TraceFixture.trace(prompt, store: store) }
            }
            return try await group.reduce(into: [CommandLineRun]()) { $0.append($1) }
        }
        for run in runs { #expect(run.status == 0, "\(run.standardError)") }
        let slugs = Set(try TraceFixture.graphs(store).compactMap { $0["slug"] as? String })
        #expect(slugs == ["one-prompt-here", "another-prompt", "a-third-one"])
    }

    /// Every key of a JSON document, recursively.
    static func keys(_ value: Any) -> Set<String> {
        if let object = value as? [String: Any] { return object.reduce(into: Set(object.keys)) { $0.formUnion(keys($1.value)) } }
        if let array = value as? [Any] { return array.reduce(into: Set<String>()) { $0.formUnion(keys($1)) } }
        return []
    }

    @Test func everyJSONDocumentUsesOneKeyStyle() throws {
        let store = temporaryPath(".sqlite")
        let traced = try TraceFixture.trace("Hi there, Tex!", store: store, ["--json", "--slug", "tex"])
        #expect(traced.status == 0, "\(traced.standardError)")
        let tiny = TraceFixture.tiny
        var all = Set<String>()
        for arguments in [["graphs", "list"], ["graphs", "show", "tex"], ["graphs", "prune", "tex", "--node-threshold", "0.9"]] {
            let run = try CommandLineRun.circuitry(arguments + ["--json", "--store", store])
            #expect(run.status == 0, "\(arguments): \(run.standardError)")
            all.formUnion(Self.keys(try TraceFixture.json(run)))
        }
        let intervened = try CommandLineRun.circuitry(["intervene", "Hi there, Tex!", "--model", tiny.modelPath, "--transcoders", tiny.transcoderFolder,
                                                       "--ablate-errors", "0", "--json"])
        #expect(intervened.status == 0, "\(intervened.standardError)")
        let trace = try #require(try TraceFixture.json(traced) as? [String: Any])
        #expect(trace["slug"] as? String == "tex" && trace["nodes_kept"] is Int && trace["strongest_paths"] is [Any])
        all.formUnion(Self.keys(trace))
        all.formUnion(Self.keys(try TraceFixture.json(intervened)))
        #expect(all.contains("pos") && !all.contains("position"))
        #expect(all.filter { $0.contains(where: \.isUppercase) }.isEmpty, "camelCase keys: \(all.filter { $0.contains(where: \.isUppercase) })")
    }

    @Test func readCommandsWriteNothingAndWorkOnAnImmutableStore() throws {
        let store = temporaryPath(".sqlite")
        #expect(try TraceFixture.trace("Hi there, Tex!", store: store, ["--slug", "tex"]).status == 0)
        // Fold the write-ahead log into the file, so the file alone is the store.
        #expect(try CommandLineRun.circuitry(["graphs", "prune", "tex", "--node-threshold", "0.8", "--store", store]).status == 0)
        try GraphStore(path: store).checkpoint()
        let before = try Data(contentsOf: URL(fileURLWithPath: store))
        let reads = [["graphs", "list"], ["graphs", "show", "tex"], ["query", "MATCH (n:Logit) RETURN n.token"], ["export", "tex", "--format", "dot"],
                     ["query", "USE 'tex' MATCH p = (t:Token)-[*1..3]->(l:Logit) RETURN strength(p) AS s ORDER BY s DESC LIMIT 2"]]
        for arguments in reads {
            let run = try CommandLineRun.circuitry(arguments + ["--store", store])
            #expect(run.status == 0, "\(arguments): \(run.standardError)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: store)) == before, "a read command changed the store")
        // Immutable (chattr +i: even root cannot write it), where the filesystem supports that.
        let chattr = Process()
        chattr.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
        chattr.arguments = ["+i", store]
        chattr.standardError = FileHandle.nullDevice
        guard (try? chattr.run()) != nil else { return }
        chattr.waitUntilExit()
        guard chattr.terminationStatus == 0 else { return }
        defer {
            let undo = Process()
            undo.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
            undo.arguments = ["-i", store]
            try? undo.run()
            undo.waitUntilExit()
        }
        for arguments in reads {
            let run = try CommandLineRun.circuitry(arguments + ["--store", store])
            #expect(run.status == 0, "immutable store, \(arguments): \(run.standardError)")
        }
        TraceFixture.expectOneLineError(try CommandLineRun.circuitry(["graphs", "delete", "tex", "--store", store]), containing: store)
    }

    @Test func badInputGetsOneLineErrors() throws {
        let corrupt = temporaryPath(".sqlite")
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: corrupt))
        TraceFixture.expectOneLineError(try CommandLineRun.circuitry(["graphs", "list", "--store", corrupt]), containing: "not a readable graph store")
        TraceFixture.expectOneLineError(try TraceFixture.trace("Hello", store: corrupt), containing: "not a readable graph store")
        #expect(try Data(contentsOf: URL(fileURLWithPath: corrupt)) == Data(repeating: 0x5A, count: 8192))

        let store = temporaryPath(".sqlite")
        #expect(try TraceFixture.trace("Hello", store: store, ["--slug", "hello"]).status == 0)
        TraceFixture.expectOneLineError(try TraceFixture.trace("Hello", store: store, ["--slug", "hello"]), containing: "already used")
        TraceFixture.expectOneLineError(try CommandLineRun.circuitry(["export", "77", "--format", "svg", "--store", store]), containing: "\"77\"")
        TraceFixture.expectOneLineError(try CommandLineRun.circuitry(["graphs", "delete", "nope", "--store", store]), containing: "\"nope\"")
        let badThreshold = try CommandLineRun.circuitry(["graphs", "prune", "hello", "--node-threshold", "2", "--store", store])
        #expect(badThreshold.status == 2 && badThreshold.standardError.contains("between 0 and 1"), "a bad option value is a usage error")
        TraceFixture.expectOneLineError(try CommandLineRun.circuitry(["graphs", "list", "--store", store + "-typo/x.sqlite"]), containing: "no graph store there")
        #expect(!FileManager.default.fileExists(atPath: store + "-typo"), "a read command creates nothing")
        let junk = temporaryPath(".json")
        try Data("[1, 2".utf8).write(to: URL(fileURLWithPath: junk))
        TraceFixture.expectOneLineError(try CommandLineRun.circuitry(["graphs", "import", junk, "--store", store]), containing: "not a graph file")
        TraceFixture.expectOneLineError(try TraceFixture.trace("", store: store), containing: "empty")
        #expect(try TraceFixture.graphs(store).count == 1)
    }
}

@Suite struct InterveneAndVerifyCommandTests {
    static func intervene(_ extra: [String]) throws -> CommandLineRun {
        try CommandLineRun.circuitry(["intervene", "Hi there, Tex!", "--model", TraceFixture.tiny.modelPath,
                                      "--transcoders", TraceFixture.tiny.transcoderFolder] + extra)
    }

    static func top(_ run: CommandLineRun) throws -> [[String: Any]] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
        return try #require(object["top"] as? [[String: Any]])
    }

    @Test func addingNothingChangesNothingAndAddingSomethingDoes() throws {
        // An active feature at the last position of the tiny prompt.
        let graph = try TraceFixture.tiny.graph("Hi there, Tex!")
        let last = graph.provenance.tokens.count - 1
        let feature = try #require(graph.features.first { $0.position == last && $0.layer == 0 })
        let site = "\(feature.layer):\(feature.position):\(feature.feature)"
        for frozen in [[], ["--freeze-attention"]] {
            let nothing = try Self.intervene(["--add", site + "=0", "--json"] + frozen)
            #expect(nothing.status == 0, "\(nothing.standardError)")
            for entry in try Self.top(nothing) {
                let (a, b) = (try #require(entry["logit"] as? Double), try #require(entry["clean_logit"] as? Double))
                #expect(abs(a - b) <= 1e-4 * max(1, abs(b)), "\(frozen): adding 0 moved a logit \(b) → \(a)")
            }
        }
        let something = try Self.intervene(["--add", site + "=5", "--direct", "--json"])
        #expect(try Self.top(something).contains { abs(($0["logit"] as? Double ?? 0) - ($0["clean_logit"] as? Double ?? 0)) > 1e-3 })
        let text = try Self.intervene(["--set", site + "=0"])
        #expect(text.status == 0 && text.standardOutput.contains("%"), "\(text.standardError)")
        let malformed = try Self.intervene(["--set", "1:2=3"])
        #expect(malformed.status == 2 || malformed.status == 64)
        #expect(malformed.standardError.contains("LAYER:POS:FEATURE=VALUE"))
    }

    @Test func traceVerifyChecksRowsAndInterventions() throws {
        let run = try TraceFixture.trace("Hi there, Tex!", store: temporaryPath(".sqlite"), ["--verify"])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.standardOutput.contains("verify: ") && run.standardOutput.contains("passed"), "\(run.standardOutput)")
    }
}
