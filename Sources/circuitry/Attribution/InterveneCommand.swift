import ArgumentParser
import Attribution
import Foundation
import LanguageModels
import TensorCore
import Transcoders

struct InterveneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "intervene",
        abstract: "Set or add transcoder feature activations and see how the next-token prediction changes.",
        discussion: """
            Every MLP is replaced by its transcoder plus the clean run's error, so features downstream of an intervention respond to it. --set LAYER:POS:FEATURE=VALUE fixes an activation; --add adds to it; --freeze-attention keeps attention patterns and normalisation scales at their clean values; --direct also freezes every other feature, so effects travel only along the attribution graph's linear paths; --ablate-errors removes the error terms of some layers.

            Examples:
              circuitry intervene "The capital of Texas is" --set 20:5:1337=0
              circuitry intervene "The capital of Texas is" --set L20/F1337@5=0 \\
                  --target " Austin"
              circuitry intervene "The capital of Texas is" --add 12:4:99=5 \\
                  --freeze-attention --json
              circuitry intervene \\
                  "When Mary and John went to the store, John gave a drink to" \\
                  --set 8:12:77=0 --target " Mary" --minus " John"
            """)

    @Argument(help: "The prompt.")
    var prompt: String

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var transcoderOptions: TranscoderOptions

    @Option(name: .customLong("set"), help: ArgumentHelp("Set a feature's activation (L20/F2305@2=0 or 20:2:2305=0).", valueName: "feature=value"))
    var sets: [String] = []

    @Option(name: .customLong("add"), help: ArgumentHelp("Add to a feature's activation (L12/F99@4=5 or 12:4:99=5).", valueName: "feature=value"))
    var adds: [String] = []

    @Flag(name: .long, help: "Keep attention patterns and normalisation scales at their clean values.")
    var freezeAttention = false

    @Flag(name: .long, help: "Only direct effects: every other feature keeps its clean activation.")
    var direct = false

    @Option(name: .long, parsing: .upToNextOption, help: "Layers whose error terms are set to zero.")
    var ablateErrors: [Int] = []

    @Option(name: .long, help: "How many of the most likely tokens to show.")
    var top = 10

    @Flag(name: .long, help: "Do not prepend the beginning-of-sequence token.")
    var noBos = false

    @OptionGroup var targetOptions: TargetOptions
    @OptionGroup var output: JSONOption

    static func parse(_ text: String, additive: Bool) throws -> FeatureIntervention {
        let parts = text.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, let site = FeatureAddress(argument: String(parts[0])), let position = site.position,
              let value = Float(parts[1]), value.isFinite else {
            throw ValidationError("\(additive ? "--add" : "--set") \(text): expected L20/F2305@2=VALUE or LAYER:POS:FEATURE=VALUE, for example L12/F99@4=0 or 12:4:99=0")
        }
        return FeatureIntervention(layer: site.layer, position: position, feature: site.index, value: value, additive: additive)
    }

    func validate() throws {
        guard !sets.isEmpty || !adds.isEmpty || !ablateErrors.isEmpty else {
            throw ValidationError("give at least one --set, --add or --ablate-errors")
        }
        _ = try sets.map { try Self.parse($0, additive: false) } + adds.map { try Self.parse($0, additive: true) }
        if targetOptions.targetDirection != nil { throw ValidationError("intervene reports token logits: give --target (and --minus), not --target-direction") }
    }

    struct Entry: Encodable { var id: Int; var token: String; var logit: Float; var prob: Float; var clean_logit: Float; var clean_prob: Float }
    struct Chosen: Encodable { var id: Int; var token: String; var logit: Float; var clean_logit: Float; var change: Float }
    struct Difference: Encodable { var target: String; var minus: String; var value: Float; var clean_value: Float; var change: Float }
    struct Report: Encodable {
        var token_ids: [Int]; var interventions: [FeatureIntervention]; var top: [Entry]; var clean_top: [Entry]
        var targets: [Chosen]?; var difference: Difference?
    }

    func run() throws {
        let loaded = try modelOptions.load()
        let set = try transcoderOptions.load(for: loaded.configuration)
        let tokens = try loaded.tokenize(prompt, bos: !noBos)
        let interventions = try sets.map { try Self.parse($0, additive: false) } + adds.map { try Self.parse($0, additive: true) }
        // Sites the model or the transcoders do not have are refused, not silently ignored.
        let c = loaded.configuration
        for i in interventions {
            guard i.layer < c.layers, i.position < tokens.count, i.feature < set.features else {
                throw ValidationError("L\(i.layer)/F\(i.feature)@\(i.position) is outside the model: layers 0–\(c.layers - 1), "
                                      + "positions 0–\(tokens.count - 1) of this prompt, features 0–\(set.features - 1)")
            }
        }
        for l in ablateErrors where !(0..<c.layers).contains(l) {
            throw ValidationError("--ablate-errors \(l): the model has layers 0–\(c.layers - 1)")
        }
        var options = InterventionOptions()
        options.freezeAttention = freezeAttention || direct
        options.directOnly = direct
        options.ablateErrors = Set(ablateErrors)
        let result = try Interventions.run(model: loaded.model, transcoders: set, tokens: tokens, interventions: interventions, options: options)
        let v = loaded.configuration.vocabularySize
        let p = try result.logits.reshaped([1, v]).softmax(), q = try result.cleanLogits.reshaped([1, v]).softmax()
        func entries(_ logits: Tensor) throws -> [Entry] {
            try logits.reshaped([1, v]).topK(min(top, v)).indices.map { id in
                Entry(id: id, token: try loaded.tokenizer.text(of: id), logit: result.logits.scalars[id], prob: p.scalars[id],
                      clean_logit: result.cleanLogits.scalars[id], clean_prob: q.scalars[id])
            }
        }
        let after = try entries(result.logits), before = try entries(result.cleanLogits)
        // Chosen tokens' logits, and their difference with --minus.
        let chosenIds = try targetOptions.target.map { try TargetOptions.token($0, "--target", loaded) }
            + (try targetOptions.minus.map { [try TargetOptions.token($0, "--minus", loaded)] } ?? [])
        let chosen = try chosenIds.map { id in
            Chosen(id: id, token: try loaded.tokenizer.text(of: id), logit: result.logits.scalars[id], clean_logit: result.cleanLogits.scalars[id],
                   change: result.logits.scalars[id] - result.cleanLogits.scalars[id])
        }
        let difference = targetOptions.minus == nil ? nil : Difference(
            target: chosen[0].token, minus: chosen[1].token, value: chosen[0].logit - chosen[1].logit,
            clean_value: chosen[0].clean_logit - chosen[1].clean_logit,
            change: (chosen[0].logit - chosen[1].logit) - (chosen[0].clean_logit - chosen[1].clean_logit))
        if output.json {
            try Output.json(Report(token_ids: tokens, interventions: interventions, top: after, clean_top: before,
                                   targets: chosen.isEmpty ? nil : chosen, difference: difference))
            return
        }
        if !chosen.isEmpty {
            print("logit                          clean      after     change")
            for c in chosen {
                print(Output.padded("\"\(Output.visible(c.token))\"", 26) + String(format: " %9.4f  %9.4f  %+9.4f", c.clean_logit, c.logit, c.change))
            }
            if let d = difference {
                print(Output.padded("\"\(Output.visible(d.target))\" − \"\(Output.visible(d.minus))\"", 26)
                      + String(format: " %9.4f  %9.4f  %+9.4f", d.clean_value, d.value, d.change))
            }
            print("")
        }
        print("after the intervention                      clean run")
        for (a, b) in zip(after, before) {
            print(String(format: "%7.2f%%  %@  %7.2f%%  %@", a.prob * 100, Output.padded("\"\(Output.visible(a.token))\"", 24) as NSString,
                         b.clean_prob * 100, "\"\(Output.visible(b.token))\"" as NSString))
        }
    }
}

