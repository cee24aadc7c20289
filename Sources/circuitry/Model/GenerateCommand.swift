import Analysis
import ArgumentParser
import Foundation
import LanguageModels
import TensorCore
import Transcoders

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt, streaming tokens as they are chosen.",
        discussion: """
            Steering adds directions to the forward pass (prompt and new tokens alike) and shows the steered text beside the unsteered one, with the chosen tokens' logits at the first prediction:
              --steer SITE:FEATURE=STRENGTH  add STRENGTH to a feature's activation
                                             (decode, add the change, keep the
                                             reconstruction error; 0 is the unsteered
                                             run bit for bit). SITE is an SAE's hook
                                             (--sae) or transcoder.L (--transcoders,
                                             layer L). Negative strengths suppress.
              --steer SITE:FEATURE@VALUE     clamp an SAE feature's activation to VALUE
              --steer-vector FILE=SCALE      add SCALE times a vector from
                                             `circuitry steering-vector`

            Examples:
              circuitry generate "The capital of Texas is" --max-tokens 8
              circuitry generate "Once upon a time" --temperature 0.8 --seed 3
              circuitry generate "My favourite food is" --sae models/saes/smollm2-l15 \\
                  --steer blocks.15.hook_resid_post:1234=40 --watch " Paris"
              circuitry generate "I feel" --steer-vector happy.safetensors=4 \\
                  --watch " happy" --watch " sad"
            """)

    @Argument(help: "The prompt.")
    var prompt: String

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "How many tokens to generate at most.")
    var maxTokens = 32

    @Option(name: .long, help: "0 for greedy decoding; higher samples more freely.")
    var temperature: Float = 0

    @Option(name: .long, help: "Random seed for sampling.")
    var seed: UInt64 = 0

    @Flag(name: .long, help: "Do not prepend the beginning-of-sequence token.")
    var noBos = false

    @OptionGroup var output: JSONOption

    @Option(name: .long, help: ArgumentHelp("Steer a feature: SITE:FEATURE=STRENGTH (add) or SITE:FEATURE@VALUE (clamp an SAE feature).", valueName: "edit"))
    var steer: [String] = []

    @Option(name: .long, help: ArgumentHelp("Add a steering vector: FILE=SCALE.", valueName: "file=scale"))
    var steerVector: [String] = []

    @Option(name: .long, help: ArgumentHelp("An SAE whose features --steer names by its hook (repeatable).", valueName: "path"))
    var sae: [String] = []

    @Option(name: .long, help: ArgumentHelp("A transcoder set whose features --steer names as transcoder.L.", valueName: "dir"))
    var transcoders: String?

    @Option(name: .long, help: ArgumentHelp("A token whose logit and probability to compare at the first prediction (repeatable).", valueName: "token"))
    var watch: [String] = []

    struct Report: Encodable {
        var prompt_ids: [Int]
        var generated_ids: [Int]
        var text: String
        var tokens_per_second: Double
    }

    func validate() throws {
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be at least 1") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be 0 or more") }
    }

    struct Watched: Encodable { var token: String; var id: Int; var logit: Float; var steered_logit: Float; var probability: Float; var steered_probability: Float }
    struct SteeredReport: Encodable {
        var prompt_ids: [Int]; var edits: [String]; var unsteered_ids: [Int]; var steered_ids: [Int]
        var unsteered_text: String; var steered_text: String; var watched: [Watched]
    }

    /// The edits --steer and --steer-vector ask for.
    func edits(_ loaded: LoadedModel) throws -> [SteeringEdit] {
        let saes = try sae.map { try SparseAutoencoder.load(path: $0) }
        var result = [SteeringEdit]()
        for spec in steer {
            guard let colon = spec.lastIndex(of: ":") else { throw ValidationError("--steer \(spec): write SITE:FEATURE=STRENGTH or SITE:FEATURE@VALUE") }
            let site = String(spec[..<colon]), rest = spec[spec.index(after: colon)...]
            let clamp = rest.contains("@")
            let parts = rest.split(separator: clamp ? "@" : "=", maxSplits: 1)
            guard parts.count == 2, let feature = Int(parts[0]), let amount = Float(parts[1]), amount.isFinite else {
                throw ValidationError("--steer \(spec): write SITE:FEATURE=STRENGTH or SITE:FEATURE@VALUE with numbers")
            }
            if site.hasPrefix("transcoder.") {
                guard let layer = Int(site.dropFirst("transcoder.".count)) else { throw ValidationError("--steer \(spec): transcoder.L needs a layer number") }
                guard !clamp else { throw ValidationError("--steer \(spec): clamping is for SAE features; add to transcoder features with =") }
                let (found, t) = try TranscoderOptions.layer(layer, of: transcoders, for: loaded.configuration, context: "--steer \(spec): ")
                guard (0..<t.features).contains(feature) else { throw CommandError("--steer \(spec): feature \(feature) is outside 0..<\(t.features)") }
                let rows = try t.decoderWeights.rows([feature]), d = t.modelWidth
                // A cross-layer feature writes to every layer it reaches.
                for (k, target) in t.outputLayers.enumerated() {
                    result.append(SteeringEdit(point: found.outputPoint(layer: target), direction: try Tensor(shape: [d], scalars: Array(rows[(k * d)..<((k + 1) * d)])),
                                               kind: .add(strength: amount), label: spec))
                }
                continue
            }
            guard let dictionary = saes.first(where: { $0.hookName == site }) else {
                let known = saes.map(\.hookName) + ["transcoder.L"]
                throw CommandError("--steer \(spec): no SAE reads \(site) (give --sae PATH; sites: \(known.joined(separator: ", ")))")
            }
            let point = try dictionary.validate(for: loaded.model)
            let direction = try dictionary.decoderVector(feature)
            result.append(SteeringEdit(point: point, direction: direction,
                                       kind: clamp ? .clamp(value: amount, sae: dictionary, feature: feature) : .add(strength: amount), label: spec))
        }
        for spec in steerVector {
            guard let equals = spec.lastIndex(of: "="), let scale = Float(spec[spec.index(after: equals)...]), scale.isFinite else {
                throw ValidationError("--steer-vector \(spec): write FILE=SCALE")
            }
            let vector = try SteeringVector.load(path: String(spec[..<equals]))
            let point = try loaded.model.hookPoint(named: vector.hookName)
            guard loaded.model.width(of: point) == vector.vector.count else {
                throw CommandError("--steer-vector \(spec): the vector has \(vector.vector.count) entries but \(vector.hookName) is \(loaded.model.width(of: point) ?? 0) wide")
            }
            result.append(SteeringEdit(point: point, direction: vector.vector, kind: .add(strength: scale), label: spec))
        }
        return result
    }

    func runSteered(_ loaded: LoadedModel, ids: [Int], edits: [SteeringEdit], options: GenerationOptions) throws {
        let watchedIds = try watch.map { text -> Int in
            let t = try loaded.tokenize(text, bos: false)
            guard t.count == 1 else { throw CommandError("--watch \"\(text)\" is \(t.count) tokens, not one (mind the leading space)") }
            return t[0]
        }
        var first = [[Float]]()
        let plain = try loaded.running {
            try loaded.model.generate(ids, options: options, hooks: Steering.baselineHooks(edits), onLogits: { if first.count == 0 { first.append($0) } })
        }
        let steered = try loaded.running {
            try loaded.model.generate(ids, options: options, hooks: Steering.hooks(edits), onLogits: { if first.count == 1 { first.append($0) } })
        }
        func probabilities(_ logits: [Float]) -> [Float] {
            let top = logits.max() ?? 0
            let e = logits.map { Foundation.exp($0 - top) }
            let total = e.reduce(0, +)
            return e.map { $0 / total }
        }
        let (p0, p1) = (probabilities(first[0]), probabilities(first[1]))
        let watched = zip(watch, watchedIds).map { text, id in
            Watched(token: text, id: id, logit: first[0][id], steered_logit: first[1][id], probability: p0[id], steered_probability: p1[id])
        }
        let report = SteeredReport(prompt_ids: ids, edits: edits.map(\.label), unsteered_ids: plain, steered_ids: steered,
                                   unsteered_text: try loaded.tokenizer.decode(plain), steered_text: try loaded.tokenizer.decode(steered), watched: watched)
        if output.json { return try Output.json(report) }
        print("prompt: \(Output.visible(prompt))")
        print("steering: \(Array(Set(edits.map(\.label))).sorted().joined(separator: ", "))")
        let width = 48
        func wrap(_ text: String) -> [String] {
            var lines = [String](), line = ""
            for word in Output.visible(text).split(separator: " ", omittingEmptySubsequences: false) {
                if line.count + word.count + 1 > width, !line.isEmpty { lines.append(line); line = "" }
                line += (line.isEmpty ? "" : " ") + word
            }
            lines.append(line)
            return lines
        }
        let (a, b) = (wrap(report.unsteered_text), wrap(report.steered_text))
        print(Output.padded("unsteered", width) + " | steered")
        print(String(repeating: "-", count: width) + "-+-" + String(repeating: "-", count: width))
        for i in 0..<max(a.count, b.count) { print(Output.padded(i < a.count ? a[i] : "", width) + " | " + (i < b.count ? b[i] : "")) }
        if !watched.isEmpty {
            print("\nat the first prediction:")
            for w in watched {
                print(String(format: "  %@  logit %.3f → %.3f (%+.3f)   probability %.2e → %.2e", Output.padded("\"" + Output.visible(w.token) + "\"", 12) as NSString,
                             w.logit, w.steered_logit, w.steered_logit - w.logit, w.probability, w.steered_probability))
            }
        }
    }

    func run() throws {
        let loaded = try modelOptions.load()
        let ids = try loaded.tokenize(prompt, bos: !noBos)
        guard !ids.isEmpty else { throw CommandError("the prompt is empty: it has no tokens (and --no-bos was given)") }
        let options = GenerationOptions(maxTokens: maxTokens, temperature: temperature, seed: seed)
        let edits = try edits(loaded)
        if !edits.isEmpty || !watch.isEmpty { return try runSteered(loaded, ids: ids, edits: edits, options: options) }
        let start = Date()
        var pending = [Int]()
        if !output.json { FileHandle.standardOutput.write(Data(prompt.utf8)) }
        let generated = try loaded.running { try loaded.model.generate(ids, options: options, onToken: { token in
            guard !output.json else { return }
            // Print whole UTF-8 characters only: hold bytes of a character split across tokens.
            pending.append(token)
            let text = try loaded.tokenizer.decode(pending)
            if !text.hasSuffix("\u{FFFD}") {
                FileHandle.standardOutput.write(Data(text.utf8))
                pending.removeAll()
            }
        }) }
        let seconds = Date().timeIntervalSince(start)
        if output.json {
            try Output.json(Report(prompt_ids: ids, generated_ids: generated, text: try loaded.tokenizer.decode(generated),
                                   tokens_per_second: Double(generated.count) / seconds))
        } else {
            if !pending.isEmpty { FileHandle.standardOutput.write(Data(try loaded.tokenizer.decode(pending).utf8)) }
            FileHandle.standardOutput.write(Data("\n".utf8))
            Output.note(String(format: "%d tokens in %.2f s (%.1f tokens/s, including the prompt)", generated.count, seconds, Double(generated.count) / seconds))
        }
    }
}
