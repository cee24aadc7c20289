import Analysis
import ArgumentParser
import Foundation
import LanguageModels

struct HeadsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heads",
        abstract: "Attention heads scored and classified: previous-token, induction, duplicate-token, BOS, entropy.",
        discussion: """
            Induction and duplicate-token scores come from a random token sequence repeated twice (--length tokens, --seed); previous-token, BOS attention, entropy and prompt induction from the prompt. Thresholds (the first a head passes names it): induction ≥ 0.4, previous-token ≥ 0.4, duplicate-token ≥ 0.4, BOS sink: bos ≥ 0.8.

            Examples:
              circuitry heads \\
                  "When Mary and John went to the store, John gave a drink to" \\
                  --svg Graphs/heads-ioi.svg
              circuitry heads "The capital of Texas is" --json
              circuitry heads \\
                  "When Mary and John went to the store, John gave a drink to" \\
                  --pattern 5.3 --svg head-5-3.svg
            """)

    @Argument(help: "The prompt the prompt scores are read on.") var prompt: String
    @Option(name: .long, help: "Length of the random sequence that is repeated for the induction scores.") var length = 25
    @Option(name: .long, help: "Seed of the random sequence.") var seed: UInt64 = 0
    @Option(name: .long, help: ArgumentHelp("Draw one head's attention pattern on the prompt instead (LAYER.HEAD).", valueName: "L.H")) var pattern: String?
    @Option(name: .long, help: ArgumentHelp("Write the picture here (score grids, or the pattern).", valueName: "file.svg")) var svg: String?
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: JSONOption

    func validate() throws {
        guard (2...512).contains(length) else { throw ValidationError("--length must be between 2 and 512") }
        if let pattern { _ = try parsedHead(pattern) }
    }

    func parsedHead(_ text: String) throws -> (layer: Int, head: Int) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let l = Int(parts[0]), let h = Int(parts[1]), l >= 0, h >= 0 else {
            throw ValidationError("--pattern \(text) is not LAYER.HEAD (such as 5.3)")
        }
        return (l, h)
    }

    struct Head: Encodable {
        var layer: Int; var head: Int; var kind: String?
        var previousToken: Double; var bos: Double; var entropy: Double; var induction: Double; var duplicate: Double; var promptInduction: Double?
    }
    struct Threshold: Encodable { var kind: String; var score: String; var atLeast: Double }
    struct Report: Encodable { var tokens: [String]; var repeatedTokenIds: [Int]; var thresholds: [Threshold]; var heads: [Head] }
    struct PatternReport: Encodable { var layer: Int; var head: Int; var tokens: [String]; var pattern: [[Double]] }

    func run() throws {
        let loaded = try modelOptions.load()
        let ids = try loaded.promptTokens(prompt)
        let tokens = try loaded.tokenTexts(ids)
        if let pattern {
            let (l, h) = try parsedHead(pattern)
            let p = try loaded.running { try HeadScores.pattern(model: loaded.model, tokens: ids, layer: l, head: h) }
            if let svg {
                let map = Heatmap(title: "Attention pattern of L\(l).H\(h): \(Output.visible(prompt))", subtitle: "rows: queries, columns: keys",
                                  rowLabels: tokens.enumerated().map { "\($0) \($1)" }, columnLabels: tokens.enumerated().map { "\($0) \($1)" },
                                  values: p.map { $0.map(Optional.some) }, scale: .sequential(low: 0, high: 1), rowAxis: "query", columnAxis: "key")
                try writePicture(map.svg(), to: svg)
            }
            if output.json { try Output.json(PatternReport(layer: l, head: h, tokens: tokens, pattern: p)); return }
            for (i, row) in p.enumerated() {
                let best = row.enumerated().sorted { $0.element > $1.element }.prefix(3).map { String(format: "%@ %.2f", tokens[$0.offset], $0.element) }
                print("\(Output.padded("\(i) \(tokens[i])", 18)) → " + best.joined(separator: ", "))
            }
            return
        }
        let bos = loaded.startsWithBOS ? loaded.configuration.bosTokenId : nil
        let repeated = try HeadScores.repeatedRandomTokens(model: loaded.model, length: length, seed: seed, bos: bos)
        let scores = try loaded.running {
            try HeadScores.run(model: loaded.model, prompt: ids, repeated: repeated, length: length, offset: bos == nil ? 0 : 1)
        }
        let c = loaded.configuration
        var heads = [Head]()
        for l in 0..<c.layers {
            for h in 0..<c.heads {
                heads.append(Head(layer: l, head: h, kind: scores.kind(layer: l, head: h), previousToken: scores.previousToken[l][h],
                                  bos: scores.bos[l][h], entropy: scores.entropy[l][h], induction: scores.induction[l][h],
                                  duplicate: scores.duplicate[l][h], promptInduction: scores.promptInduction?[l][h]))
            }
        }
        if let svg {
            let grids: [(String, [[Double]])] = [("induction (repeated random tokens)", scores.induction), ("previous-token", scores.previousToken),
                                                  ("duplicate-token (repeated random tokens)", scores.duplicate), ("attention to BOS", scores.bos)]
            let panels = grids.map { name, grid in
                Heatmap(title: "Head scores: \(name)", subtitle: "mean attention weight; prompt: \(Output.visible(prompt))",
                        rowLabels: (0..<c.layers).reversed().map { "L\($0)" }, columnLabels: (0..<c.heads).map { "H\($0)" },
                        values: grid.reversed().map { $0.map(Optional.some) }, scale: .sequential(low: 0, high: 1), rowAxis: "layer", columnAxis: "head").svg()
            }
            try writePicture(stackedSVG(panels), to: svg)
        }
        if output.json {
            try Output.json(Report(tokens: tokens, repeatedTokenIds: repeated,
                                   thresholds: HeadScores.thresholds.map { Threshold(kind: $0.kind, score: $0.score, atLeast: $0.atLeast) }, heads: heads))
            return
        }
        print("heads by kind (thresholds: " + HeadScores.thresholds.map { "\($0.kind): \($0.score) ≥ \($0.atLeast)" }.joined(separator: ", ") + ")")
        for (kind, _, _) in HeadScores.thresholds {
            let named = heads.filter { $0.kind == kind }
            print("\(Output.padded(kind, 16)) \(named.count): " + named.prefix(24).map { "L\($0.layer).H\($0.head)" }.joined(separator: " ")
                  + (named.count > 24 ? " …" : ""))
        }
        print("strongest induction heads: " + heads.sorted { $0.induction > $1.induction }.prefix(6)
            .map { String(format: "L%d.H%d %.3f", $0.layer, $0.head, $0.induction) }.joined(separator: ", "))
        print("strongest previous-token heads: " + heads.sorted { $0.previousToken > $1.previousToken }.prefix(6)
            .map { String(format: "L%d.H%d %.3f", $0.layer, $0.head, $0.previousToken) }.joined(separator: ", "))
    }
}
