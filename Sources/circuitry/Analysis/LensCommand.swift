import Analysis
import ArgumentParser
import Foundation
import LanguageModels

struct LensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lens",
        abstract: "The logit lens: what the residual stream after each layer predicts, at every position.",
        discussion: """
            Each layer's residual stream goes through the final norm and the unembedding as if it were
            the last layer. With --target, the picture colours each cell by that token's probability and
            writes the cell's top token in it.

            Examples:
              circuitry lens "The capital of Texas is" --target " Austin"
              circuitry lens "The capital of Texas is" --target " Austin" --svg Graphs/lens-texas.svg
              circuitry lens "When Mary and John went to the store, John gave a drink to" --target " Mary" --json
            """)

    @Argument(help: "The prompt.") var prompt: String
    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .long, help: "A token (one token; mind its leading space) whose probability and rank to follow.") var target: String?
    @Option(name: .long, help: "How many of the most likely tokens to list per cell.") var top = 3
    @Option(name: .long, help: ArgumentHelp("Write a layers × positions heatmap here.", valueName: "file.svg")) var svg: String?
    @OptionGroup var output: JSONOption

    func validate() throws {
        guard (1...50).contains(top) else { throw ValidationError("--top must be between 1 and 50") }
    }

    struct Cell: Encodable { var top: [Entry]; var targetProb: Float?; var targetRank: Int? }
    struct Entry: Encodable { var id: Int; var token: String; var prob: Float }
    struct Row: Encodable { var layer: String; var cells: [Cell] }
    struct Report: Encodable { var tokens: [String]; var tokenIds: [Int]; var target: String?; var targetId: Int?; var rows: [Row] }

    func run() throws {
        let loaded = try modelOptions.load()
        let ids = try loaded.promptTokens(prompt)
        let targetId = try target.map { try loaded.singleToken($0) }
        let lens = try loaded.running { try LogitLens.run(model: loaded.model, tokens: ids, target: targetId, top: top) }
        let tokens = try loaded.tokenTexts(ids)
        func text(_ id: Int) throws -> String { Output.visible(try loaded.tokenizer.text(of: id)) }
        if let svg {
            let values: [[Double?]] = lens.cells.reversed().map { row in row.map { c in targetId == nil ? Double(c.top[0].prob) : c.targetProb.map(Double.init) } }
            let texts = try lens.cells.reversed().map { row in try row.map { try text($0.top[0].id) } }
            let what = target.map { "P(\"\(Output.visible($0))\")" } ?? "the top token's probability"
            let map = Heatmap(title: "Logit lens: \(Output.visible(prompt))",
                              subtitle: "colour: \(what) when the stream after each layer is read as the output; text: the top token",
                              rowLabels: lens.rows.reversed().map { $0 == "embed" ? "embed" : "L\($0)" }, columnLabels: tokens,
                              values: values, cellText: texts, scale: .sequential(low: 0, high: 1), rowAxis: "layer", columnAxis: "position")
            try writePicture(map.svg(), to: svg)
        }
        if output.json {
            let rows = try zip(lens.rows, lens.cells).map { name, cells in
                Row(layer: name, cells: try cells.map { c in
                    Cell(top: try c.top.map { Entry(id: $0.id, token: try text($0.id), prob: $0.prob) }, targetProb: c.targetProb, targetRank: c.targetRank)
                })
            }
            try Output.json(Report(tokens: tokens, tokenIds: ids, target: target, targetId: targetId, rows: rows))
            return
        }
        print("logit lens over \(ids.count) positions; each cell: the top token" + (target != nil ? " and P(target)" : ""))
        let width = 16
        print(Output.padded("layer", 6) + tokens.map { Output.padded(String($0.prefix(width - 1)), width) }.joined())
        for (name, cells) in zip(lens.rows, lens.cells) {
            let shown = try cells.map { c -> String in
                let top = String(try text(c.top[0].id).prefix(targetId == nil ? width - 1 : 8))
                return Output.padded(c.targetProb.map { top + String(format: " %.2f", $0) } ?? top, width)
            }
            print(Output.padded(name, 6) + shown.joined())
        }
    }
}
