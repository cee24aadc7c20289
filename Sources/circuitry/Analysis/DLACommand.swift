import Analysis
import ArgumentParser
import Foundation
import LanguageModels

struct DLACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dla",
        abstract: "Direct logit attribution: what each layer's attention and MLP, and each head, write into a logit.",
        discussion: """
            At the last position, each component's output goes through the final norm with its scale frozen at the real run's value, then onto the target's unembedding row (minus --minus's). The shares add up to the (uncapped) logit or difference. Also: the accumulated stream after each layer.

            Examples:
              circuitry dla "The capital of Texas is" --target " Austin"
              circuitry dla "When Mary and John went to the store, John gave a drink to" \\
                  --target " Mary" --minus " John" --svg Graphs/dla-ioi.svg
            """)

    @Argument(help: "The prompt.") var prompt: String
    @Option(name: .long, help: "The token whose logit is attributed (one token; mind its leading space).") var target: String
    @Option(name: .long, help: "A second token: attribute the difference target − minus.") var minus: String?
    @Option(name: .long, help: ArgumentHelp("Write bars by layer and a heads grid here.", valueName: "file.svg")) var svg: String?
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: JSONOption

    struct Report: Encodable {
        var tokens: [String]; var target: String; var minus: String?
        var embed: Double; var attention: [Double]; var mlp: [Double]; var heads: [[Double]]; var attentionBias: [Double]
        var finalNormBias: Double; var accumulated: [Double]; var total: Double; var logit: Double
    }

    func run() throws {
        let loaded = try modelOptions.load()
        let ids = try loaded.promptTokens(prompt)
        let a = try loaded.singleToken(target), b = try minus.map { try loaded.singleToken($0) }
        let dla = try loaded.running {
            try DirectLogitAttribution.run(model: loaded.model, tokens: ids,
                                           direction: try DirectLogitAttribution.direction(model: loaded.model, target: a, minus: b))
        }
        let what = "\"\(Output.visible(target))\"" + (minus.map { " − \"\(Output.visible($0))\"" } ?? "")
        if let svg {
            let L = loaded.configuration.layers
            let bars = BarChart(title: "Direct logit attribution to \(what): \(Output.visible(prompt))",
                                subtitle: String(format: "last position; shares through the frozen final norm; embed %.3f, sum %.3f = logit %.3f", dla.embed, dla.total, dla.logit),
                                labels: (0..<L).map { "L\($0)" },
                                series: [("attention", "#2166ac", dla.attention), ("MLP", "#d6604d", dla.mlp), ("accumulated stream", "#999999", Array(dla.accumulated.dropFirst()))])
            let heads = Heatmap(title: "Each head's direct share of \(what)", subtitle: "through W_O and the frozen norms",
                                rowLabels: (0..<L).reversed().map { "L\($0)" }, columnLabels: (0..<loaded.configuration.heads).map { "H\($0)" },
                                values: dla.heads.reversed().map { $0.map(Optional.some) }, scale: Heatmap.fitting(dla.heads.map { $0.map(Optional.some) }, diverging: true),
                                rowAxis: "layer", columnAxis: "head")
            try writePicture(stackedSVG([bars.svg(), heads.svg()]), to: svg)
        }
        if output.json {
            try Output.json(Report(tokens: try loaded.tokenTexts(ids), target: target, minus: minus, embed: dla.embed, attention: dla.attention,
                                   mlp: dla.mlp, heads: dla.heads, attentionBias: dla.attentionBias, finalNormBias: dla.finalNormBias,
                                   accumulated: dla.accumulated, total: dla.total, logit: dla.logit))
            return
        }
        print(String(format: "direct logit attribution to %@ at the last position: shares sum to %.4f; the model's logit%@ is %.4f",
                     what, dla.total, minus == nil ? "" : " difference", dla.logit))
        print(String(format: "embed %9.4f", dla.embed))
        print("layer  attention        MLP  accumulated   strongest head")
        for l in 0..<loaded.configuration.layers {
            let best = dla.heads[l].enumerated().max { abs($0.element) < abs($1.element) }!
            print(String(format: "%5d  %9.4f  %9.4f    %9.4f   H%d %.4f", l, dla.attention[l], dla.mlp[l], dla.accumulated[l + 1], best.offset, best.element))
        }
        if dla.finalNormBias != 0 { print(String(format: "final norm bias %.4f", dla.finalNormBias)) }
    }
}
