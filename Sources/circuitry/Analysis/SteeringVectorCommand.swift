import Analysis
import ArgumentParser
import Foundation
import LanguageModels

struct SteeringVectorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "steering-vector",
        abstract: "Make a steering vector from contrastive prompt pairs (the mean difference at a layer).",
        discussion: """
            FILE holds JSON lines {"positive": …, "negative": …}. The vector is the mean of the positive texts' activations minus the negative texts' at blocks.LAYER.SITE (the last token's by default), saved as safetensors for `circuitry generate --steer-vector FILE=SCALE`.

            Example:
              circuitry steering-vector --pairs Datasets/steering-happy-sad.jsonl \\
                  --layer 12 --out happy.safetensors
              circuitry generate "Today I feel" --steer-vector happy.safetensors=4 \\
                  --watch " happy" --watch " sad"
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: JSONOption

    @Option(name: .long, help: ArgumentHelp("Contrastive pairs, one JSON object per line.", valueName: "file"))
    var pairs: String

    @Option(name: .long, help: "The layer.")
    var layer: Int

    @Option(name: .long, help: ArgumentHelp("The per-layer hook (hook_resid_post, hook_resid_pre, …).", valueName: "site"))
    var site = "hook_resid_post"

    @Option(name: .long, help: "last, mean, or a token index.")
    var position = "last"

    @Option(name: .long, help: ArgumentHelp("Where to write the vector.", valueName: "file"))
    var out: String

    struct Report: Encodable { var out: String; var hook_name: String; var pairs: Int; var norm: Float }

    func run() throws {
        guard let data = FileManager.default.contents(atPath: pairs), let content = String(data: data, encoding: .utf8) else {
            throw CommandError("cannot read \(pairs)")
        }
        var positive = [String](), negative = [String]()
        for (i, line) in content.split(separator: "\n").enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let p = object["positive"] as? String, let n = object["negative"] as? String,
                  !p.trimmingCharacters(in: .whitespaces).isEmpty, !n.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw CommandError("\(pairs) line \(i + 1) is not {\"positive\": text, \"negative\": text} with two non-empty texts")
            }
            positive.append(p); negative.append(n)
        }
        guard !positive.isEmpty else { throw CommandError("\(pairs) holds no pairs") }
        let loaded = try modelOptions.load()
        guard (0..<loaded.configuration.layers).contains(layer) else { throw CommandError("layer \(layer) is outside the model (0..<\(loaded.configuration.layers))") }
        let vector = try loaded.running {
            try SteeringVector.meanDifference(model: loaded.model, positive: try positive.map { try loaded.tokenize($0) },
                                              negative: try negative.map { try loaded.tokenize($0) }, layer: layer, site: site,
                                              position: try ProbePosition(parsing: position), skipFirst: loaded.startsWithBOS)
        }
        try vector.save(to: out)
        let norm = vector.vector.scalars.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if output.json { return try Output.json(Report(out: out, hook_name: vector.hookName, pairs: vector.pairs, norm: norm)) }
        print(String(format: "wrote %@ (%@, %d pairs, norm %.2f)", out as NSString, vector.hookName as NSString, vector.pairs, norm))
    }
}
