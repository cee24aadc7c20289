import ArgumentParser
import Foundation
import GraphStore
import Transcoders

struct FeatureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feature",
        abstract: "Show a feature's page: statistics, label, top contexts, promoted tokens and graphs.",
        discussion: """
            The page comes from the store (`circuitry features build` makes the pages of a set). In the contexts, tokens where the feature is active are in [brackets] (coloured on a terminal) and the peak is in [[double brackets]].

            Examples:
              circuitry feature 17/2381
              circuitry feature L3/F100 --json
              circuitry feature 17/2381 --transcoders models/transcoders/other
            """)

    @Argument(help: ArgumentHelp("The feature, as LAYER/INDEX (17/2381 or L17/F2381).", valueName: "layer/index"))
    var feature: FeatureAddress

    @OptionGroup var transcoderOptions: TranscoderOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var output: JSONOption

    @Option(name: .long, help: "Show at most this many contexts.")
    var contexts = 8

    func run() throws {
        let path = transcoderOptions.resolvedPath()
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandError("no transcoder set at \(path): pass --transcoders DIR or set CIRCUITRY_TRANSCODERS")
        }
        let set = try TranscoderSet.load(folder: path, lazy: true)
        let page = try storeOptions.openForReading().featurePage(setFingerprint: try set.fingerprint(), setName: set.name,
                                                       layer: feature.layer, index: feature.index)
        if output.json { return try Output.json(page) }
        print(Self.render(page, contexts: contexts, colour: isatty(1) != 0))
    }

    static func render(_ page: FeaturePage, contexts limit: Int, colour: Bool) -> String {
        var lines = ["L\(page.layer)/F\(page.index)  of \"\(page.set.setName)\""]
        if let user = page.userLabel {
            lines.append("label: \(Output.visible(user))   (yours; automatic: \(page.automaticLabel.map(Output.visible) ?? "none"))")
        } else {
            lines.append("label: \(page.automaticLabel.map(Output.visible) ?? "none")")
        }
        let tokens = page.set.tokens
        if page.firings == 0 {
            lines.append("never fired on \(tokens.formatted()) held-out tokens")
        } else {
            lines.append(String(format: "fires on %.3f%% of %@ held-out tokens (%@ times); mean activation %.3g, max %.3g",
                                100 * page.frequency, tokens.formatted() as NSString, page.firings.formatted() as NSString,
                                page.meanActivation, page.maxActivation))
        }
        if !page.contexts.isEmpty {
            lines.append("")
            lines.append("top contexts (activation at the peak):")
            for c in page.contexts.prefix(limit) {
                lines.append(String(format: "  %7.3f  ", c.activations[c.peak]) + context(c, colour: colour))
            }
        }
        lines.append("")
        lines.append("promotes:   " + page.promoted.map { "\"\(Output.visible($0.text))\" " + String(format: "%+.2f", $0.score) }.joined(separator: ", "))
        lines.append("suppresses: " + page.suppressed.map { "\"\(Output.visible($0.text))\" " + String(format: "%+.2f", $0.score) }.joined(separator: ", "))
        lines.append("")
        if page.graphs.isEmpty {
            lines.append("in no stored graph")
        } else {
            lines.append("in \(page.graphs.count) stored graph node\(page.graphs.count == 1 ? "" : "s") (by influence):")
            for g in page.graphs.prefix(20) {
                lines.append(String(format: "  %@ pos %-3d %@ activation %7.3f  influence %.4g", Output.padded("\(g.graphId) \(g.slug)", 32) as NSString, g.position,
                                    Output.padded("\"\(Output.visible(g.token ?? ""))\"", 14) as NSString, g.activation ?? 0, g.influence))
            }
            if page.graphs.count > 20 { lines.append("  … \(page.graphs.count - 20) more (--json lists all)") }
        }
        return lines.joined(separator: "\n")
    }

    /// A context on one line: active tokens bracketed (or coloured by strength), the peak doubly.
    static func context(_ c: FeaturePage.Context, colour: Bool) -> String {
        let peak = max(c.activations[c.peak], 1e-9)
        return c.tokens.enumerated().map { i, token in
            let text = Output.visible(token)
            let a = c.activations[i]
            guard a > 0 else { return text }
            if colour {
                // Background from pale to strong yellow with the activation's share of the peak.
                let shade = [229, 228, 227, 226, 220][min(4, Int(4 * a / peak))]
                return "\u{1B}[48;5;\(shade)m\u{1B}[30m" + (i == c.peak ? "\u{1B}[1m" : "") + text + "\u{1B}[0m"
            }
            return i == c.peak ? "[[\(text)]]" : "[\(text)]"
        }.joined()
    }
}
