import Analysis
import ArgumentParser
import Foundation
import LanguageModels

struct LensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lens",
        abstract: "The logit lens and the tuned lens: what the residual stream after each layer predicts.",
        discussion: """
            Each layer's residual stream goes through the final norm and the unembedding as if it were the last layer (with --tuned, through that layer's affine translator first; `lens train` fits the translators). With --target, the picture colours each cell by that token's probability and writes the cell's top token in it.

            Examples:
              circuitry lens "The capital of Texas is" --target " Austin"
              circuitry lens "The capital of Texas is" --target " Austin" \\
                  --svg Graphs/lens-texas.svg
              # fit the tuned lens (a minute or two)
              circuitry lens train
              circuitry lens "The capital of Texas is" --target " Austin" --tuned --json
            """,
        subcommands: [LensShowCommand.self, LensTrainCommand.self], defaultSubcommand: LensShowCommand.self)
}

/// Where a model's tuned lens is kept: models/lenses/<model file name>.safetensors.
func defaultLensPath(modelPath: String) -> String {
    let name = ((modelPath as NSString).lastPathComponent as NSString).deletingPathExtension
    return "\(Paths.modelsFolder)/lenses/\(name).safetensors"
}

struct LensShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "The lens on a prompt (what `circuitry lens PROMPT` runs).",
        discussion: """
            Examples:
              circuitry lens "The capital of Texas is" --target " Austin"
              circuitry lens show "The capital of Texas is" --tuned --svg tuned.svg
            """)

    @Argument(help: "The prompt.") var prompt: String
    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .long, help: "A token (one token; mind its leading space) whose probability and rank to follow.") var target: String?
    @Option(name: .long, help: "How many of the most likely tokens to list per cell.") var top = 3
    @Option(name: .long, help: ArgumentHelp("Write a layers × positions heatmap here.", valueName: "file.svg")) var svg: String?
    @Flag(name: .long, help: "The tuned lens (translators fitted by `circuitry lens train`) instead of the logit lens.") var tuned = false
    @Option(name: .long, help: ArgumentHelp("The tuned lens's file (implies --tuned; default: models/lenses/<model>.safetensors).", valueName: "file"))
    var lens: String?
    @OptionGroup var output: JSONOption

    func validate() throws {
        guard (1...50).contains(top) else { throw ValidationError("--top must be between 1 and 50") }
    }

    struct Cell: Encodable { var top: [Entry]; var targetProb: Float?; var targetRank: Int? }
    struct Entry: Encodable { var id: Int; var token: String; var prob: Float }
    struct Row: Encodable { var layer: String; var cells: [Cell] }
    struct Report: Encodable { var lens: String; var tokens: [String]; var tokenIds: [Int]; var target: String?; var targetId: Int?; var rows: [Row] }

    func run() throws {
        let loaded = try modelOptions.load()
        let ids = try loaded.promptTokens(prompt)
        let targetId = try target.map { try loaded.singleToken($0) }
        var translators: TunedLens?
        if tuned || self.lens != nil {
            let path = self.lens ?? defaultLensPath(modelPath: loaded.path)
            guard FileManager.default.fileExists(atPath: path) else {
                throw CommandError("\(path): no tuned lens for this model yet: run `circuitry lens train` first (or give --lens FILE)")
            }
            translators = try TunedLens.load(path: path, model: loaded.model)
        }
        let lens = try loaded.running {
            try translators.map { try $0.run(model: loaded.model, tokens: ids, target: targetId, top: top) }
                ?? LogitLens.run(model: loaded.model, tokens: ids, target: targetId, top: top)
        }
        let kind = translators == nil ? "Logit lens" : "Tuned lens"
        let tokens = try loaded.tokenTexts(ids)
        func text(_ id: Int) throws -> String { Output.visible(try loaded.tokenizer.text(of: id)) }
        if let svg {
            let values: [[Double?]] = lens.cells.reversed().map { row in row.map { c in targetId == nil ? Double(c.top[0].prob) : c.targetProb.map(Double.init) } }
            let texts = try lens.cells.reversed().map { row in try row.map { try text($0.top[0].id) } }
            let what = target.map { "P(\"\(Output.visible($0))\")" } ?? "the top token's probability"
            let map = Heatmap(title: "\(kind): \(Output.visible(prompt))",
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
            try Output.json(Report(lens: translators == nil ? "logit" : "tuned", tokens: tokens, tokenIds: ids, target: target, targetId: targetId, rows: rows))
            return
        }
        print("\(kind.lowercased()) over \(ids.count) positions; each cell: the top token" + (target != nil ? " and P(target)" : ""))
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

struct LensTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fit the tuned lens: an affine translator per layer, from corpus text.",
        discussion: """
            Each translator maps a layer's residual stream to the last layer's, fitted in closed form by ridge regression over the corpus's tokens (not by gradient descent on the KL divergence, as Belrose et al. train theirs). Reports the mean KL divergence from the model's output to each layer's lens on held-out text, for the logit lens and the tuned lens.

            Examples:
              circuitry lens train
              circuitry lens train --sequences 512 --out my-lens.safetensors --json
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var corpusOptions: CorpusOptions
    @Option(name: .long, help: "Training sequences of 127 tokens.") var sequences = 256
    @Option(name: .long, help: "Held-out sequences for the KL report.") var heldOut = 8
    @Option(name: .long, help: "Ridge penalty, relative to the mean variance of the stream.") var ridge = 1e-3
    @Option(name: .long, help: ArgumentHelp("Where to save it (default: models/lenses/<model>.safetensors).", valueName: "file")) var out: String?
    @OptionGroup var output: JSONOption

    func validate() throws {
        guard sequences >= 1, heldOut >= 1 else { throw ValidationError("--sequences and --held-out must be at least 1") }
        guard ridge >= 0, ridge.isFinite else { throw ValidationError("--ridge must be a finite number ≥ 0") }
    }

    struct Layer: Encodable { var layer: String; var klLogitLens: Double; var klTunedLens: Double }
    struct Report: Encodable { var path: String; var tokens: Int; var seconds: Double; var layers: [Layer] }

    func run() throws {
        let loaded = try modelOptions.load()
        let corpus = try corpusOptions.load(tokenizer: loaded, seed: 0)
        let bos = loaded.startsWithBOS ? loaded.configuration.bosTokenId : nil
        func sequence(_ i: Int, heldOut: Bool) -> [Int] { (bos.map { [$0] } ?? []) + corpus.sequence(i, heldOut: heldOut) }
        guard corpus.trainSequences >= sequences, corpus.heldOutSequences >= heldOut else {
            throw CommandError("the corpus has \(corpus.trainSequences) training and \(corpus.heldOutSequences) held-out sequences; ask for fewer")
        }
        let start = Date()
        let bar = output.json ? nil : ProgressBar("fitting", total: sequences)
        let lens = try loaded.running {
            try TunedLens.fit(model: loaded.model, sequences: (0..<sequences).map { sequence($0, heldOut: false) }, ridge: ridge) { done, _ in bar?.update(done) }
        }
        bar?.finish()
        let path = out ?? defaultLensPath(modelPath: loaded.path)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try lens.save(to: path, model: loaded.model, notes: ["corpus": corpus.description, "sequences": "\(sequences)", "ridge": "\(ridge)"])
        let seconds = Date().timeIntervalSince(start)
        let kl = try loaded.running { try lens.divergence(model: loaded.model, sequences: (0..<heldOut).map { sequence($0, heldOut: true) }) }
        let names = ["embed"] + (0..<loaded.configuration.layers).map(String.init)
        let layers = names.indices.map { Layer(layer: names[$0], klLogitLens: kl.logitLens[$0], klTunedLens: kl.tuned[$0]) }
        if output.json {
            try Output.json(Report(path: path, tokens: sequences * corpus.sequenceLength, seconds: seconds, layers: layers))
            return
        }
        print(String(format: "tuned lens fitted on %d tokens in %.1f s: %@", sequences * corpus.sequenceLength, seconds, path))
        print("mean KL(model output ‖ lens) on \(heldOut) held-out sequences, nats:")
        print("layer   logit lens   tuned lens")
        for l in layers { print(Output.padded(l.layer, 5) + String(format: "   %10.3f   %10.3f", l.klLogitLens, l.klTunedLens)) }
    }
}
