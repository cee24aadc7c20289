// The model commands as a user runs them: JSON shapes, exit statuses, one-line errors.

import Foundation
import Testing
import TestSupport

@Suite struct ModelCommandTests {
    private func decode(_ run: CommandLineRun) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
    }

    @Test func tokenizeAndLogitsPrintTheDocumentedJSON() throws {
        let model = try Fixtures.requireModel()
        let tokens = try CommandLineRun.circuitry(["tokenize", "The capital of Texas is", "--bos", "--json", "--model", model])
        #expect(tokens.status == 0)
        let t = try decode(tokens)
        #expect(t["ids"] as? [Int] == [1, 504, 3575, 282, 5778, 314])
        #expect(t["tokens"] as? [String] == ["<|im_start|>", "The", " capital", " of", " Texas", " is"])
        let noBos = try decode(try CommandLineRun.circuitry(["tokenize", "The capital", "--json", "--model", model]))
        #expect(noBos["ids"] as? [Int] == [504, 3575])

        let logits = try CommandLineRun.circuitry(["logits", "The capital of Texas is", "--top", "3", "--json", "--full", "--model", model])
        #expect(logits.status == 0)
        let l = try decode(logits)
        #expect(l["token_ids"] as? [Int] == [1, 504, 3575, 282, 5778, 314])
        let top = try #require(l["top"] as? [[String: Any]])
        #expect(top.count == 3)
        #expect(top[0]["token"] as? String == " Austin")
        #expect(Set(top[0].keys) == ["id", "token", "logit", "prob"])
        #expect((l["logits"] as? [Double])?.count == 49_152)
        let withoutFull = try decode(try CommandLineRun.circuitry(["logits", "Hi", "--json", "--model", model]))
        #expect(withoutFull["logits"] == nil)
    }

    @Test func generateAndModelInfoRun() throws {
        let model = try Fixtures.requireModel()
        let generated = try CommandLineRun.circuitry(["generate", "The capital of Texas is", "--max-tokens", "3", "--json", "--model", model])
        #expect(generated.status == 0)
        #expect((try decode(generated)["generated_ids"] as? [Int])?.count == 3)
        let info = try decode(try CommandLineRun.circuitry(["model", "info", "--json", "--model", model]))
        let configuration = try #require(info["configuration"] as? [String: Any])
        #expect(configuration["layers"] as? Int == 30 && configuration["width"] as? Int == 576)
    }

    /// Runs `logits` on a broken file; expects status 1 and one line naming the file and `detail`.
    private func expectOneLineError(model: String, detail: String, prompt: String = "hi",
                                    sourceLocation: SourceLocation = #_sourceLocation) throws {
        let run = try CommandLineRun.circuitry(["logits", prompt, "--model", model])
        #expect(run.status == 1, sourceLocation: sourceLocation)
        let lines = run.standardError.split(separator: "\n")
        #expect(lines.count == 1, "\(run.standardError)", sourceLocation: sourceLocation)
        #expect(run.standardError.contains(model), "\(run.standardError)", sourceLocation: sourceLocation)
        #expect(run.standardError.contains(detail), "\(run.standardError)", sourceLocation: sourceLocation)
        #expect(run.standardOutput.isEmpty, sourceLocation: sourceLocation)
    }

    @Test func brokenModelFilesGiveOneLineErrors() throws {
        let good = try Data(contentsOf: URL(fileURLWithPath: TinyModel(TinyModelSpec()).writeGGUF()))
        let truncated = temporaryPath(".gguf")
        try good.prefix(good.count - 100).write(to: URL(fileURLWithPath: truncated))
        try expectOneLineError(model: truncated, detail: "tensor")

        var magic = good
        magic.replaceSubrange(0..<4, with: Array("GGJT".utf8))
        let wrongMagic = temporaryPath(".gguf")
        try magic.write(to: URL(fileURLWithPath: wrongMagic))
        try expectOneLineError(model: wrongMagic, detail: "not a GGUF file")

        let model = TinyModel(TinyModelSpec())
        var builder = model.ggufBuilder()
        builder.tensors[0].offset = 1 << 30
        try expectOneLineError(model: try builder.write(to: temporaryPath(".gguf")), detail: builder.tensors[0].name)

        builder = model.ggufBuilder()
        builder.tensors[1].type = 77
        try expectOneLineError(model: try builder.write(to: temporaryPath(".gguf")), detail: builder.tensors[1].name)

        builder = model.ggufBuilder()
        builder.tensors[2].dimensions = [1 << 40, 1 << 40]
        try expectOneLineError(model: try builder.write(to: temporaryPath(".gguf")), detail: builder.tensors[2].name)

        builder = model.ggufBuilder()
        builder.metadata.removeAll { $0.0 == "llama.block_count" }
        try expectOneLineError(model: try builder.write(to: temporaryPath(".gguf")), detail: "llama.block_count")

        try expectOneLineError(model: "/nonexistent/model.gguf", detail: "no such file")
    }

    @Test func promptsLongerThanTheContextAndEmptyPrompts() throws {
        let tiny = try TinyModel(TinyModelSpec()).writeGGUF()      // context 64, byte-level tokens
        try expectOneLineError(model: tiny, detail: "more than the model's context of 64", prompt: String(repeating: "x", count: 100))
        let empty = try CommandLineRun.circuitry(["logits", "", "--no-bos", "--model", tiny])
        #expect(empty.status == 1 && empty.standardError.contains("empty"))
    }

    /// `bench model --json`: each row's product work, its rate and the machine's Float32 ceiling;
    /// a length the model cannot take is a usage error.
    @Test func benchModelReportsThroughputAndTheFloat32Ceiling() throws {
        let tiny = try TinyModel(TinyModelSpec()).writeGGUF()
        let run = try CommandLineRun.circuitry(["bench", "model", "--model", tiny, "--tokens", "8", "--tokens", "16", "--repeats", "1", "--json"])
        #expect(run.status == 0, "\(run.standardError)")
        let report = try decode(run)
        let rate = try #require(report["sgemm_gflop_per_second"] as? Double)
        let rows = try #require(report["rows"] as? [[String: Any]])
        #expect(rate > 0 && rows.map { $0["tokens"] as? Int } == [8, 16])
        let work = rows.compactMap { $0["product_gflop"] as? Double }
        #expect(work.count == 2 && work[0] > 0 && work[1] > work[0])
        for row in rows {
            let (gflop, ceiling) = (row["product_gflop"] as? Double ?? 0, row["ceiling_tokens_per_second"] as? Double ?? 0)
            let tokens = Double(row["tokens"] as? Int ?? 0)
            #expect(abs(ceiling - tokens / (gflop / rate)) <= 1e-6 * ceiling)
        }
        let tooLong = try CommandLineRun.circuitry(["bench", "model", "--model", tiny, "--tokens", "100000", "--repeats", "1"])
        #expect(tooLong.status != 0 && tooLong.standardError.contains("--tokens"))
    }

    @Test func usageErrorsExitWithTwo() throws {
        let run = try CommandLineRun.circuitry(["logits"])
        #expect(run.status == 2)
        #expect(run.standardError.contains("Missing expected argument"))
        let bad = try CommandLineRun.circuitry(["logits", "x", "--top", "-1"])
        #expect(bad.status == 2)
    }
}
