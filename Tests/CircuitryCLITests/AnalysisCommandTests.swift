// lens, patch, dla and heads on the real model as a user runs them: the JSON they print, their
// pictures (well-formed, the prompt's text escaped), and one-line errors with exit status 1 for
// bad input (prompts of different lengths, a metric token of several tokens, a layer or head
// outside the model, an empty prompt, an unknown metric) and 2 for bad option values.

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import TestSupport

@Suite struct AnalysisCommandTests {
    static let clean = "When Mary and John went to the store, John gave a drink to"
    static let corrupt = "When Mary and John went to the store, Mary gave a drink to"

    private func decode(_ run: CommandLineRun) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any], "\(run.standardError)")
    }

    private func expectError(_ arguments: [String], status: Int32 = 1, mentions: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let run = try CommandLineRun.circuitry(arguments)
        #expect(run.status == status, "\(arguments): \(run.standardError)", sourceLocation: sourceLocation)
        #expect(run.standardError.contains(mentions), "\(run.standardError)", sourceLocation: sourceLocation)
        if status == 1 { #expect(run.standardError.split(separator: "\n").count == 1, "\(run.standardError)", sourceLocation: sourceLocation) }
        #expect(run.standardOutput.isEmpty, sourceLocation: sourceLocation)
    }

    @Test func patchScansEverySiteAndDrawsIt() throws {
        let model = try Fixtures.requireModel()
        let svg = temporaryPath(".svg")
        let run = try CommandLineRun.circuitry(["patch", Self.clean, Self.corrupt, "--metric", "logit_diff( Mary, John)", "--sites", "resid_pre,heads",
                                                "--json", "--svg", svg, "--model", model])
        #expect(run.status == 0, "\(run.standardError)")
        let report = try decode(run)
        #expect(report["metric_token_ids"] as? [Int] == [5099, 2322])
        let clean = try #require(report["clean"] as? Double), corrupt = try #require(report["corrupt"] as? Double)
        #expect(clean > 2 && corrupt < -2, "the model prefers the name not repeated: \(clean), \(corrupt)")
        let sites = try #require(report["sites"] as? [[String: Any]])
        #expect(sites.map { $0["site"] as? String } == ["resid_pre", "heads"])
        let resid = try #require(sites[0]["scores"] as? [[Double]])
        #expect(resid.count == 30 && resid.allSatisfy { $0.count == 15 })
        // The prompts differ at position 10 alone: its stream entering layer 0 carries the whole
        // difference (score 1), every other position's none (score 0).
        #expect(abs(resid[0][10] - 1) < 1e-3)
        #expect(resid[0].enumerated().allSatisfy { $0.offset == 10 || abs($0.element) < 1e-3 })
        #expect((sites[1]["scores"] as? [[Double]])?.first?.count == 9)
        let picture = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(XMLParser(data: Data(picture.utf8)).parse() && picture.contains("resid_pre") && picture.contains("H8"))
    }

    @Test func pathPatchingPrintsASenderGrid() throws {
        let model = try Fixtures.requireModel()
        let run = try CommandLineRun.circuitry(["patch", Self.clean, Self.corrupt, "--metric", "logit_diff( Mary, John)", "--path-to", "3.1,3.4",
                                                "--receiver-input", "v", "--json", "--model", model])
        #expect(run.status == 0, "\(run.standardError)")
        let report = try decode(run)
        #expect(report["receivers"] as? [String] == ["L3.H1", "L3.H4"] && report["receiver_input"] as? String == "v")
        let scores = try #require(report["scores"] as? [[Double]])
        #expect(scores.count == 3 && scores.allSatisfy { $0.count == 9 })
    }

    @Test func patchTakesAStoredGraphsFeatures() throws {
        let store = temporaryPath(".sqlite")
        #expect(try TraceFixture.trace("Hi there, Tex!", store: store, ["--slug", "tex"]).status == 0)
        let files = ["--model", TraceFixture.tiny.modelPath, "--transcoders", TraceFixture.tiny.transcoderFolder, "--store", store]
        let run = try CommandLineRun.circuitry(["patch", "Hi there, Tex!", "Hi there, Rex!", "--metric", "logit_diff(a,b)", "--graph", "tex",
                                                "--features", "4", "--json"] + files)
        #expect(run.status == 0, "\(run.standardError)")
        let report = try decode(run)
        let features = try #require(report["features"] as? [[String: Any]])
        #expect(features.count == 4 && report["graph"] as? String == "tex")
        let influences = features.compactMap { $0["influence"] as? Double }
        #expect(influences == influences.sorted(by: >), "most influential first")
        #expect(Set(features[0].keys).isSuperset(of: ["node", "layer", "pos", "feature", "clean_activation", "corrupt_activation", "score"]))
        // The graph must be the clean prompt's, traced with the same transcoders.
        TraceFixture.expectOneLineError(try CommandLineRun.circuitry(["patch", "Hi there, Rex!", "Hi there, Tex!", "--metric", "logit(a)",
                                                                      "--graph", "tex"] + files), containing: "was traced on")
        TraceFixture.expectOneLineError(try CommandLineRun.circuitry(["patch", "Hi there, Tex!", "Hi there, Rex!", "--metric", "logit(a)",
                                                                      "--graph", "nope"] + files), containing: "nope")
    }

    @Test func lensDlaAndHeadsPrintTheirJSON() throws {
        let model = try Fixtures.requireModel()
        let lens = try decode(try CommandLineRun.circuitry(["lens", "The capital of Texas is", "--target", " Austin", "--json", "--model", model]))
        let rows = try #require(lens["rows"] as? [[String: Any]])
        #expect(rows.count == 31 && rows[0]["layer"] as? String == "embed")
        let last = try #require((rows[30]["cells"] as? [[String: Any]])?.last)
        #expect(((last["top"] as? [[String: Any]])?.first?["token"] as? String) == " Austin" && last["target_rank"] as? Int == 0)

        let dla = try decode(try CommandLineRun.circuitry(["dla", Self.clean, "--target", " Mary", "--minus", " John", "--json", "--model", model]))
        let total = try #require(dla["total"] as? Double), logit = try #require(dla["logit"] as? Double)
        #expect(abs(total - logit) < 1e-3 && (dla["heads"] as? [[Double]])?.count == 30)

        let heads = try decode(try CommandLineRun.circuitry(["heads", Self.clean, "--length", "12", "--json", "--model", model]))
        #expect((heads["heads"] as? [[String: Any]])?.count == 270 && (heads["repeated_token_ids"] as? [Int])?.count == 25)
        #expect((heads["thresholds"] as? [[String: Any]])?.count == 4)
        let pattern = try decode(try CommandLineRun.circuitry(["heads", "The capital of Texas is", "--pattern", "17.4", "--json", "--model", model]))
        #expect((pattern["pattern"] as? [[Double]])?.count == 6)
    }

    @Test func picturesEscapeThePrompt() throws {
        let model = try Fixtures.requireModel()
        let svg = temporaryPath(".svg")
        let hostile = "<script>alert(\"x\")</script> & 'y'"
        let run = try CommandLineRun.circuitry(["lens", hostile, "--svg", svg, "--model", model])
        #expect(run.status == 0, "\(run.standardError)")
        let picture = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(!picture.contains("<script") && picture.contains("&lt;script&gt;"))
        #expect(XMLParser(data: Data(picture.utf8)).parse())
    }

    @Test func badInputGivesOneLineErrors() throws {
        let model = try Fixtures.requireModel()
        try expectError(["patch", Self.clean, "When Mary and John went to the store, Christopher Robin gave a drink to", "--metric", "logit_diff( Mary, John)",
                         "--model", model], mentions: "same length")
        try expectError(["patch", Self.clean, Self.corrupt, "--metric", "prob( Mary Ann)", "--model", model], mentions: "not one")
        try expectError(["patch", Self.clean, Self.corrupt, "--metric", "entropy( Mary)", "--model", model], mentions: "unknown metric")
        try expectError(["dla", Self.clean, "--target", " New York", "--model", model], mentions: "not one")
        try expectError(["heads", Self.clean, "--pattern", "30.0", "--model", model], mentions: "layer 30 is outside")
        try expectError(["heads", Self.clean, "--pattern", "3.9", "--model", model], mentions: "head 9 is outside")
        try expectError(["lens", "", "--model", model], mentions: "empty")
        try expectError(["patch", "", "", "--metric", "logit( a)", "--model", model], mentions: "empty")
        try expectError(["patch", Self.clean, Self.corrupt, "--metric", "logit( a)", "--sites", "resid_post", "--model", model], status: 2, mentions: "resid_post")
        try expectError(["heads", Self.clean, "--pattern", "three", "--model", model], status: 2, mentions: "LAYER.HEAD")
        try expectError(["lens", Self.clean, "--top", "0", "--model", model], status: 2, mentions: "--top")
        try expectError(["patch", Self.clean, Self.corrupt, "--metric", "logit( a)", "--path-to", "30.0", "--model", model], mentions: "layer 30 is outside")
        try expectError(["patch", Self.clean, Self.corrupt, "--metric", "logit( a)", "--path-to", "0.1", "--model", model], mentions: "layer 0")
        try expectError(["patch", Self.clean, Self.corrupt, "--metric", "logit( a)", "--path-to", "23", "--model", model], status: 2, mentions: "LAYER.HEAD")
        try expectError(["patch", Self.clean, Self.corrupt, "--metric", "logit( a)", "--path-to", "2.1", "--receiver-input", "x", "--model", model],
                        status: 2, mentions: "receiver-input")
        try expectError(["lens", Self.clean, "--tuned", "--lens", "/nonexistent/lens.safetensors", "--model", model], mentions: "lens train")
    }
}
