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

/// Several SVG pictures one under another, as one picture.
func stackedSVG(_ parts: [String]) -> String {
    var y = 0.0, width = 0.0, body = ""
    for part in parts {
        let size = svgSize(part)
        body += String(format: "<g transform=\"translate(0,%.0f)\">\n", y) + svgBody(part) + "</g>\n"
        y += size.height
        width = max(width, size.width)
    }
    return String(format: "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"11\">\n", width, y)
        + body + "</svg>\n"
}

/// The width and height our SVG writers put on their first line.
private func svgSize(_ svg: String) -> (width: Double, height: Double) {
    func attribute(_ name: String) -> Double {
        guard let range = svg.range(of: "\(name)=\"") else { return 0 }
        return Double(svg[range.upperBound...].prefix { $0 != "\"" }) ?? 0
    }
    return (attribute("width"), attribute("height"))
}

/// An SVG picture without its outer element.
private func svgBody(_ svg: String) -> String {
    let lines = svg.split(separator: "\n", omittingEmptySubsequences: false)
    return lines.dropFirst().filter { $0 != "</svg>" && !$0.isEmpty }.joined(separator: "\n") + "\n"
}
