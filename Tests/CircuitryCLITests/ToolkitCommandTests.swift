// saes, probe, generate --steer, steering-vector and monitor on the real model as a user runs
// them: probes cross-validate and save, steering at strength 0 leaves the continuation and the
// watched logits unchanged, and bad input (one-class data, a steering site no SAE reads, an SAE
// whose d_in does not match the model, a malformed cfg.json) exits with one line naming it.

import Foundation
import ModelIO
import TensorCore
import Testing
import TestSupport

@Suite struct ToolkitCommandTests {
    private func decode(_ run: CommandLineRun) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any], "\(run.standardError)")
    }

    private func expectError(_ arguments: [String], status: Int32 = 1, mentions: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let run = try CommandLineRun.circuitry(arguments)
        #expect(run.status == status, "\(arguments): \(run.standardError)", sourceLocation: sourceLocation)
        #expect(run.standardError.contains(mentions), "\(run.standardError)", sourceLocation: sourceLocation)
        if status == 1 { #expect(run.standardError.split(separator: "\n").count == 1, "\(run.standardError)", sourceLocation: sourceLocation) }
    }

    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("toolkit-\(UUID().uuidString)-\(name)").path
    }

    /// A random SAE on blocks.3.hook_resid_post of the default model, written in SAELens's layout.
    static func writeSAE(width: Int = 576, features: Int = 64) throws -> String {
        let folder = temporary("sae")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var random = TestRandom(seed: 8)
        let tensors: [String: Tensor] = [
            "W_enc": random.normal([width, features], std: 0.05), "W_dec": random.normal([features, width], std: 0.05),
            "b_enc": random.normal([features], std: 0.1), "b_dec": random.normal([width], std: 0.1),
        ]
        try SafetensorsFile.write(tensors, to: folder + "/sae_weights.safetensors")
        let cfg: [String: Any] = ["architecture": "standard", "d_in": width, "d_sae": features, "apply_b_dec_to_input": true,
                                  "metadata": ["hook_name": "blocks.3.hook_resid_post", "sae_lens_version": "6.0.0"]]
        try JSONSerialization.data(withJSONObject: cfg).write(to: URL(fileURLWithPath: folder + "/cfg.json"))
        return folder
    }

    @Test func probesCrossValidateSaveAndApply() throws {
        _ = try Fixtures.requireModel()
        let data = Fixtures.packageRoot.appendingPathComponent("Datasets/city-person.jsonl").path
        let saved = Self.temporary("probe.json"), svg = Self.temporary("probe.svg")
        defer { try? FileManager.default.removeItem(atPath: saved); try? FileManager.default.removeItem(atPath: svg) }
        let run = try CommandLineRun.circuitry(["probe", "--data", data, "--layers", "2,20", "--save", saved, "--svg", svg, "--json"])
        #expect(run.status == 0, "\(run.standardError)")
        let report = try decode(run)
        let layers = try #require(report["layers"] as? [[String: Any]])
        #expect(layers.count == 2)
        for layer in layers { #expect((layer["accuracy"] as? Double ?? 0) > 0.8, "\(layer)") }
        #expect(try String(contentsOfFile: svg, encoding: .utf8).contains("Probe accuracy by layer"))
        let applied = try CommandLineRun.circuitry(["probe", "apply", "--probe", saved, "I have always admired Berlin.", "I have always admired Mozart.", "--json"])
        #expect(applied.status == 0, "\(applied.standardError)")
        let predictions = try #require(try decode(applied)["predictions"] as? [[String: Any]])
        #expect(predictions.map { $0["predicted"] as? String } == ["city", "person"])
        // The saved probe as a monitor of "person" texts.
        let monitors = Self.temporary("monitors.json"), texts = Self.temporary("texts.jsonl")
        defer { try? FileManager.default.removeItem(atPath: monitors); try? FileManager.default.removeItem(atPath: texts) }
        try "{\"monitors\": [{\"name\": \"person\", \"probe\": \"\(saved)\", \"class\": \"person\", \"threshold\": 0.5}]}"
            .write(toFile: monitors, atomically: true, encoding: .utf8)
        try "{\"text\": \"The lecture tonight is about Galileo.\", \"label\": \"person\"}\n{\"text\": \"The lecture tonight is about Lisbon.\", \"label\": \"city\"}\n"
            .write(toFile: texts, atomically: true, encoding: .utf8)
        let monitored = try CommandLineRun.circuitry(["monitor", "--features", monitors, "--texts", texts, "--positive", "person", "--json"])
        #expect(monitored.status == 0, "\(monitored.standardError)")
        let flags = try decode(monitored)
        #expect((flags["results"] as? [[String: Any]])?.map { $0["flagged"] as? Bool } == [true, false])
        #expect(flags["precision"] as? Double == 1 && flags["recall"] as? Double == 1)
    }

    @Test func probeAndMonitorInputIsChecked() throws {
        _ = try Fixtures.requireModel()
        let one = Self.temporary("one.jsonl")
        defer { try? FileManager.default.removeItem(atPath: one) }
        try "{\"text\": \"a b\", \"label\": \"x\"}\n{\"text\": \"c d\", \"label\": \"x\"}\n".write(toFile: one, atomically: true, encoding: .utf8)
        try expectError(["probe", "--data", one], mentions: "one class only")
        try "{\"text\": \"\", \"label\": \"x\"}\n".write(toFile: one, atomically: true, encoding: .utf8)
        try expectError(["probe", "--data", one], mentions: "empty text")
        try expectError(["probe", "--data", one, "--folds", "1"], status: 2, mentions: "--folds")
        try "{\"monitors\": []}".write(toFile: one, atomically: true, encoding: .utf8)
        try expectError(["monitor", "--features", one, "--texts", one], mentions: "names no monitors")
    }

    @Test func steeringAtStrengthZeroChangesNothingAndBadSitesAreNamed() throws {
        _ = try Fixtures.requireModel()
        let sae = try Self.writeSAE()
        defer { try? FileManager.default.removeItem(atPath: sae) }
        let run = try CommandLineRun.circuitry(["generate", "The capital of France is", "--sae", sae, "--steer", "blocks.3.hook_resid_post:5=0",
                                                "--watch", " Paris", "--max-tokens", "6", "--json"])
        #expect(run.status == 0, "\(run.standardError)")
        let report = try decode(run)
        #expect(report["unsteered_ids"] as? [Int] == report["steered_ids"] as? [Int])
        let watched = try #require((report["watched"] as? [[String: Any]])?.first)
        #expect(watched["logit"] as? Double == watched["steered_logit"] as? Double)
        let strong = try decode(try CommandLineRun.circuitry(["generate", "The capital of France is", "--sae", sae, "--steer", "blocks.3.hook_resid_post:5=200",
                                                              "--watch", " Paris", "--max-tokens", "2", "--json"]))
        let changed = try #require((strong["watched"] as? [[String: Any]])?.first)
        #expect(changed["logit"] as? Double != changed["steered_logit"] as? Double)
        try expectError(["generate", "Hi", "--sae", sae, "--steer", "blocks.9.hook_resid_post:5=1"], mentions: "no SAE reads blocks.9.hook_resid_post")
        try expectError(["generate", "Hi", "--sae", sae, "--steer", "blocks.3.hook_resid_post:5000=1"], mentions: "outside the SAE")
        try expectError(["generate", "Hi", "--steer", "nonsense"], status: 2, mentions: "SITE:FEATURE=STRENGTH")
    }

    @Test func saeFilesAreCheckedAgainstTheModel() throws {
        _ = try Fixtures.requireModel()
        let narrow = try Self.writeSAE(width: 100)
        defer { try? FileManager.default.removeItem(atPath: narrow) }
        try expectError(["saes", "encode", "Hello", "--sae", narrow], mentions: "d_in is 100")
        try "{\"d_in\": 576".write(toFile: narrow + "/cfg.json", atomically: true, encoding: .utf8)
        try expectError(["saes", "info", "--sae", narrow], mentions: "not a JSON object")
        let good = try Self.writeSAE()
        defer { try? FileManager.default.removeItem(atPath: good) }
        let dump = Self.temporary("dump.safetensors")
        defer { try? FileManager.default.removeItem(atPath: dump) }
        let run = try CommandLineRun.circuitry(["saes", "encode", "Hello world", "--sae", good, "--dump", dump, "--json"])
        #expect(run.status == 0, "\(run.standardError)")
        let file = try SafetensorsFile(path: dump)
        #expect(try file.tensor("encodings").shape.last == 64 && file.tensor("activations").shape.last == 576)
    }
}
