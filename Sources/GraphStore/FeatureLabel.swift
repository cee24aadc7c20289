// Automatic short labels of features, from their evidence:
//
//   → " Austin", " Houston" | on: Texas, Dallas          (upper half of the layers)
//   on: England, American, European | → "est", "_"      (lower half)
//
// "→": the two tokens the feature promotes most (logit lens, quoted as they are); "on:": the tokens
// it fires on most strongly, that is the peak tokens of its strongest contexts, by how many
// contexts peak on them (ties: the stronger context first), trimmed of spaces (a token of spaces
// alone is quoted). Early features are best told by what they read and late ones by what they
// write, so the lower half of the layers puts "on:" first. A feature that never fired gets only
// the "→" part.

import Foundation
import Transcoders

public enum FeatureLabel {
    public static func automatic(_ evidence: FeatureEvidence, layers: Int, peakTokens: [Int], text: (Int) -> String,
                                 promoted count: Int = 2, on onCount: Int = 3) -> String {
        var parts = [String]()
        let writes = evidence.promoted.prefix(count).map { "\"" + DisplayText.visible(text($0.token)) + "\"" }
        var order = [String](), tally = [String: Int]()
        for token in peakTokens {
            let raw = text(token).trimmingCharacters(in: .whitespaces)
            let shown = raw.isEmpty ? "\"" + DisplayText.visible(text(token)) + "\"" : DisplayText.visible(raw)
            if tally[shown] == nil { order.append(shown) }
            tally[shown, default: 0] += 1
        }
        let reads = order.enumerated().sorted { a, b in
            tally[a.element]! != tally[b.element]! ? tally[a.element]! > tally[b.element]! : a.offset < b.offset
        }.prefix(onCount).map(\.element)
        if !reads.isEmpty { parts.append("on: " + reads.joined(separator: ", ")) }
        if !writes.isEmpty { parts.insert("→ " + writes.joined(separator: ", "), at: 2 * evidence.layer < layers ? parts.count : 0) }
        return parts.joined(separator: " | ")
    }
}
