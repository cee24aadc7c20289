import Analysis
import Foundation
import LanguageModels

extension LoadedModel {
    /// A prompt's token ids (BOS first where the model uses it); an empty prompt is refused.
    func promptTokens(_ text: String) throws -> [Int] {
        guard !text.isEmpty else { throw CommandError("the prompt is empty: give some text") }
        let ids = try tokenize(text)
        guard !ids.isEmpty else { throw CommandError("the prompt is empty: it has no tokens") }
        return ids
    }

    /// The one token a text is (no BOS), or an error naming it.
    func singleToken(_ text: String) throws -> Int {
        let ids = try tokenize(text, bos: false)
        guard ids.count == 1 else { throw AnalysisError.notOneToken(text: text, tokens: ids.count) }
        return ids[0]
    }

    /// Each token's text, shown on one line.
    func tokenTexts(_ ids: [Int]) throws -> [String] { try ids.map { Output.visible(try tokenizer.text(of: $0)) } }
}

/// Writes an SVG picture the user asked for and says where.
func writePicture(_ svg: String, to path: String) throws {
    try Output.write(Data(svg.utf8), to: path)
    Output.note("picture: \(path)")
}

/// A number for a JSON document: nil for NaN and infinities.
func finite(_ x: Double?) -> Double? { x.flatMap { $0.isFinite ? $0 : nil } }
