// `circuitry features build|label|list` and `circuitry feature` as a user runs them, on the tiny
// model with hand-made transcoders (FeatureFixture), and the labels showing up in traces.

import Foundation
import Testing
import GraphStore
import TestSupport

enum FeatureCommandFixture {
    static let fixture: FeatureFixture = try! FeatureFixture(documentLength: 200..<300)

    /// Runs a command with the fixture's model, transcoders and corpus where the command takes them.
    static func run(_ arguments: [String], store: String) throws -> CommandLineRun {
        let f = fixture
        let command = arguments.prefix(2).joined(separator: " ")
        var extra = [String]()
        if command.hasPrefix("features build") || command.hasPrefix("features label") || command.hasPrefix("trace") { extra += ["--model", f.modelPath] }
        if !command.hasPrefix("features list") { extra += ["--transcoders", f.transcoderFolder] }
        if command.hasPrefix("features build") { extra += ["--corpus", f.corpusFolder] }
        return try CommandLineRun.circuitry(arguments + extra + ["--store", store])
    }
}

@Suite struct FeatureCommandTests {
    @Test func buildShowLabelAndTrace() throws {
        let store = temporaryPath(".sqlite")
        let build = try FeatureCommandFixture.run(["features", "build"], store: store)
        #expect(build.status == 0, "\(build.standardError)")
        #expect(build.standardOutput.contains("feature pages for 12 features (2 layers)"))
        #expect(build.standardOutput.contains("2 features (16.7%) never fired"), "the dead feature of each layer")
        #expect(build.standardError.contains("features"))     // the progress bar
        // A second build is a quick no-op.
        let again = try FeatureCommandFixture.run(["features", "build"], store: store)
        #expect(again.status == 0 && again.standardError.contains("already in"), "\(again.standardError)")

        // The X detector's page: its contexts peak on X, it promotes the largest-embedding token.
        let page = try FeatureCommandFixture.run(["feature", "L1/F0"], store: store)
        #expect(page.status == 0, "\(page.standardError)")
        #expect(page.standardOutput.contains("[[X]]"))
        #expect(page.standardOutput.contains("on: X"))
        let promoted = DisplayText.visible(try FeatureCommandFixture.fixture.model.tokenizer.text(of: FeatureCommandFixture.fixture.promotedToken))
        #expect(page.standardOutput.contains("promotes:   \"\(promoted)\""), "\(page.standardOutput)")
        let pageJSON = try FeatureCommandFixture.run(["feature", "1/0", "--json"], store: store)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(pageJSON.standardOutput.utf8)) as? [String: Any])
        #expect(object["layer"] as? Int == 1 && object["index"] as? Int == 0)
        #expect((object["contexts"] as? [[String: Any]])?.isEmpty == false)

        // A trace shows the labels; a user label wins there and on the page.
        let label = try FeatureCommandFixture.run(["features", "label", "1/0", "ex marks the spot"], store: store)
        #expect(label.status == 0, "\(label.standardError)")
        let dot = temporaryPath(".dot")
        let trace = try FeatureCommandFixture.run(["trace", "abaX", "--dot", dot, "--node-threshold", "1", "--edge-threshold", "1"], store: store)
        #expect(trace.status == 0, "\(trace.standardError)")
        let dotText = try String(contentsOfFile: dot, encoding: .utf8)
        #expect(dotText.contains("L1/F0\\nex marks the spot"))
        #expect(dotText.contains("on: X"), "automatic labels of the other X-detector node")
        let relabelled = try FeatureCommandFixture.run(["feature", "1/0"], store: store)
        #expect(relabelled.standardOutput.contains("label: ex marks the spot   (yours; automatic: → "))
        #expect(relabelled.standardOutput.contains("1 abax") && relabelled.standardOutput.contains("pos 4"), "the traced graph is listed")

        let list = try FeatureCommandFixture.run(["features", "list"], store: store)
        #expect(list.standardOutput.contains("feature-fixture"))
    }

    @Test func badFeaturesAreClearErrors() throws {
        let store = temporaryPath(".sqlite")
        TraceFixture.expectOneLineError(try FeatureCommandFixture.run(["feature", "0/0"], store: store), containing: "no graph store there")
        #expect(try FeatureCommandFixture.run(["trace", "abaX"], store: store).status == 0)
        TraceFixture.expectOneLineError(try FeatureCommandFixture.run(["feature", "0/0"], store: store), containing: "no feature pages for transcoder set \"feature-fixture\"")
        #expect(try FeatureCommandFixture.run(["features", "build", "--tokens", "300"], store: store).status == 0)
        TraceFixture.expectOneLineError(try FeatureCommandFixture.run(["feature", "0/6"], store: store), containing: "feature 6 is out of range")
        TraceFixture.expectOneLineError(try FeatureCommandFixture.run(["feature", "7/1"], store: store), containing: "layer 7 is out of range")
        let malformed = try FeatureCommandFixture.run(["feature", "seven"], store: store)
        #expect(malformed.status == 2 || malformed.status == 64, "\(malformed.standardError)")
        // Pages of another set: the tiny trace's random set has none here.
        let other = try CommandLineRun.circuitry(["feature", "0/0", "--transcoders", TraceFixture.tiny.transcoderFolder, "--store", store])
        TraceFixture.expectOneLineError(other, containing: "pages exist for \"feature-fixture\"")
        let both = try FeatureCommandFixture.run(["features", "label", "0/1", "x", "--clear"], store: store)
        #expect(both.status == 2 || both.status == 64)
    }
}
