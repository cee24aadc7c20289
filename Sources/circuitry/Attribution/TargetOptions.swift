import ArgumentParser
import Attribution
import Foundation
import LanguageModels

/// What a trace explains (or an intervention reports) instead of the most likely next tokens.
struct TargetOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Explain this token's logit (one token; repeat for several).", valueName: "token"))
    var target: [String] = []

    @Option(name: .long, help: ArgumentHelp("With one --target: explain the logit difference target − this token.", valueName: "token"))
    var minus: String?

    @Option(name: .long, help: ArgumentHelp("Explain a direction read at the final norm's output: a JSON array of width numbers.", valueName: "file"))
    var targetDirection: String?

    func validate() throws {
        if minus != nil && target.count != 1 { throw ValidationError("--minus goes with exactly one --target") }
        if targetDirection != nil && !target.isEmpty { throw ValidationError("give --target or --target-direction, not both") }
    }

    var isEmpty: Bool { target.isEmpty && targetDirection == nil }

    /// The token id of a --target or --minus text, which must be one token.
    static func token(_ text: String, _ option: String, _ loaded: LoadedModel) throws -> Int {
        let ids = try loaded.tokenize(text, bos: false)
        guard ids.count == 1 else {
            throw ValidationError("\(option) \"\(Output.visible(text))\" is \(ids.count) tokens, not one"
                                  + (ids.isEmpty ? "" : " (" + ids.map { "\"\(Output.visible((try? loaded.tokenizer.text(of: $0)) ?? "?"))\"" }.joined(separator: " ") + ")"))
        }
        return ids[0]
    }

    /// The attribution targets, or nil for the default (the most likely tokens).
    func targets(_ loaded: LoadedModel) throws -> [AttributionTarget]? {
        if let file = targetDirection {
            guard let data = FileManager.default.contents(atPath: file) else { throw CommandError("\(file): cannot read the direction file") }
            guard let values = try? JSONSerialization.jsonObject(with: data) as? [NSNumber] else {
                throw CommandError("\(file): expected a JSON array of \(loaded.configuration.width) numbers")
            }
            let direction = values.map(\.floatValue)
            guard direction.count == loaded.configuration.width else {
                throw CommandError("\(file): the direction has \(direction.count) values; the model's width is \(loaded.configuration.width)")
            }
            return [.direction(direction, label: "direction " + (file as NSString).lastPathComponent)]
        }
        guard !target.isEmpty else { return nil }
        let ids = try target.map { try Self.token($0, "--target", loaded) }
        if let minus { return [.difference(ids[0], minus: try Self.token(minus, "--minus", loaded))] }
        return ids.map { .token($0) }
    }
}
