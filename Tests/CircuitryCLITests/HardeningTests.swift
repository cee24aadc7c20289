// Hostile input on the command line: each case crashed, hung or answered wrongly before.

import Foundation
import GRDB
import Testing
import TestSupport

@Suite struct HardeningTests {
    static let tiny = TraceFixture.tiny

    /// Exit status 2 and a message naming the value.
    static func expectUsageError(_ run: CommandLineRun, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.status == 2, "status \(run.status): \(run.standardError)", sourceLocation: sourceLocation)
        #expect(run.standardError.contains(text), "\(run.standardError)", sourceLocation: sourceLocation)
    }

    @Test func aFIFOGivenAsAModelIsRefusedAtOnce() throws {
        let fifo = temporaryPath(".gguf")
        #expect(mkfifo(fifo, 0o644) == 0)
        let started = Date()
        TraceFixture.expectOneLineError(try CommandLineRun.circuitry(["logits", "Hi", "--model", fifo]), containing: "not a regular file")
        #expect(Date().timeIntervalSince(started) < 20)
    }

    @Test func aYAMLAliasBombIsRefused() throws {
        let folder = temporaryPath("-set")
        try FileManager.default.copyItem(atPath: Self.tiny.transcoderFolder, toPath: folder)
        var bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i"].enumerated() {
            let previous = i == 0 ? "a" : ["b", "c", "d", "e", "f", "g", "h"][i - 1]
            bomb += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]\n"
        }
        let config = (folder as NSString).appendingPathComponent("config.yaml")
        try (bomb + (try String(contentsOfFile: config, encoding: .utf8))).write(toFile: config, atomically: true, encoding: .utf8)
        let started = Date()
        let run = try TraceFixture.trace("Hi there", store: temporaryPath(".sqlite"), ["--transcoders", folder])
        TraceFixture.expectOneLineError(run, containing: "anchors and aliases")
        #expect(Date().timeIntervalSince(started) < 20)
    }

    @Test func outputsAreWrittenSafely() throws {
        let store = temporaryPath(".sqlite")
        #expect(try TraceFixture.trace("Hi there, Tex!", store: store, ["--slug", "tex"]).status == 0)
        // A device is refused, not replaced by a regular file.
        let full = try CommandLineRun.circuitry(["export", "tex", "--format", "dot", "--out", "/dev/full", "--store", store])
        TraceFixture.expectOneLineError(full, containing: "not a regular file")
        var info = stat()
        #expect(stat("/dev/full", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR)
        // A symbolic link is written through: the link stays, its target gets the file.
        let target = temporaryPath(".dot"), link = temporaryPath("-link.dot")
        try "old".write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        #expect(try CommandLineRun.circuitry(["export", "tex", "--format", "dot", "--out", link, "--store", store]).status == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == target)
        #expect(try String(contentsOfFile: target, encoding: .utf8).hasPrefix("digraph"))
        // A folder is refused; a trace whose picture cannot be written says the graph was saved.
        let folder = temporaryPath("-dir")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let traced = try TraceFixture.trace("Hi there, Tex!", store: store, ["--slug", "tex-2", "--svg", folder])
        TraceFixture.expectOneLineError(traced, containing: "was saved, but")
    }

    @Test func slugsThatReadAsIdsNeverNameGraphs() throws {
        let store = temporaryPath(".sqlite")
        #expect(try TraceFixture.trace("Hi there, Tex!", store: store, ["--slug", "first"]).status == 0)
        #expect(try TraceFixture.trace("1", store: store).status == 0)
        let slugs = try TraceFixture.graphs(store).compactMap { $0["slug"] as? String }
        #expect(slugs.contains("graph-1") && !slugs.contains("1"))
        // Deleting "1" deletes graph id 1 (the first), and only that.
        #expect(try CommandLineRun.circuitry(["graphs", "delete", "1", "--store", store]).status == 0)
        #expect(try TraceFixture.graphs(store).compactMap { $0["slug"] as? String } == ["graph-1"])
    }

    @Test(arguments: [
        (["--max-logits", "0"], "--max-logits"), (["--logit-prob", "nan"], "--logit-prob"), (["--batch-size", "0"], "--batch-size"),
        (["--node-threshold", "2"], "--node-threshold"), (["--edge-threshold", "nan"], "--edge-threshold"),
    ] as [([String], String)])
    func badOptionValuesAreUsageErrors(_ options: [String], _ name: String) throws {
        Self.expectUsageError(try TraceFixture.trace("Hi", store: temporaryPath(".sqlite"), options), containing: name)
    }

    @Test func interventionsOutsideTheModelAreRefused() throws {
        let base = ["intervene", "Hi there", "--model", Self.tiny.modelPath, "--transcoders", Self.tiny.transcoderFolder]
        Self.expectUsageError(try CommandLineRun.circuitry(base + ["--ablate-errors", "99"]), containing: "--ablate-errors 99")
        Self.expectUsageError(try CommandLineRun.circuitry(base + ["--set", "L7/F0@1=0"]), containing: "outside the model")
        Self.expectUsageError(try CommandLineRun.circuitry(base + ["--set", "0:1:999=0"]), containing: "outside the model")
        #expect(try CommandLineRun.circuitry(base + ["--set", "L1/F3@1=0"]).status == 0)
    }

    /// A store whose rows were altered behind Circuitry's back: each read names the damage.
    @Test(arguments: [
        ("UPDATE edge SET target = target + 100000 WHERE graph_id = 1 AND source = (SELECT min(source) FROM edge WHERE graph_id = 1)",
         "joins nodes the graph does not keep"),
        ("UPDATE edge SET weight = 'heavy' WHERE graph_id = 1 AND source = (SELECT min(source) FROM edge WHERE graph_id = 1)",
         "column weight holds"),
        ("UPDATE node SET idx = 99999 WHERE graph_id = 1 AND idx = (SELECT max(idx) FROM node WHERE graph_id = 1)",
         "outside the graph's"),
        ("UPDATE node SET influence = 'x' WHERE graph_id = 1", "column influence holds"),
        ("UPDATE graph SET nodes_kept = 'many' WHERE id = 1", "column nodes_kept holds"),
    ] as [(String, String)])
    func damagedStoreRowsAreNamed(_ damage: String, _ message: String) throws {
        let store = temporaryPath(".sqlite")
        #expect(try TraceFixture.trace("Hi there, Tex!", store: store, ["--slug", "tex"]).status == 0)
        try DatabaseQueue(path: store).write { db in
            try db.execute(sql: damage)
            #expect(db.changesCount > 0)
        }
        // Re-pruning rebuilds the kept rows from the graph's blobs, so only damage it reads stops it.
        let prune = ["graphs", "prune", "tex", "--node-threshold", "0.5"]
        let reads: [[String]] = damage.contains("nodes_kept") ? [["graphs", "show", "tex"], ["graphs", "list"]]
            : [["graphs", "show", "tex"], ["export", "tex", "--format", "dot", "--out", temporaryPath(".dot")]]
            + (damage.contains("'") ? [] : [prune])
        for read in reads {
            TraceFixture.expectOneLineError(try CommandLineRun.circuitry(read + ["--store", store]), containing: message)
        }
    }

    @Test func aQueryOverATextWeightIsRefused() throws {
        let store = temporaryPath(".sqlite")
        #expect(try TraceFixture.trace("Hi there, Tex!", store: store, ["--slug", "tex"]).status == 0)
        try DatabaseQueue(path: store).write { db in try db.execute(sql: "UPDATE edge SET weight = 'heavy' WHERE graph_id = 1") }
        let run = try CommandLineRun.circuitry(["query", "MATCH p = (t:Token)-[*1..2]->(l:Logit) RETURN count(p)", "--store", store])
        TraceFixture.expectOneLineError(run, containing: "holds text where a number belongs")
    }
}
