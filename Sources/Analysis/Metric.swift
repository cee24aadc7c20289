// What an analysis measures at the last position: a logit, a logit difference, or a probability.

import LanguageModels
import TensorCore

/// A scalar read from the logits of one position.
public enum Metric: Sendable, Equatable, CustomStringConvertible {
    /// logit(a) − logit(b): the IOI convention (a the right answer, b the distractor).
    case logitDiff(Int, Int)
    case logit(Int)
    /// softmax(logits)[a]
    case prob(Int)

    /// The metric a text names: `logit_diff(A, B)`, `logit(A)` or `prob(A)`, where A and B are token
    /// texts taken verbatim between the parentheses and commas (so `logit_diff( Mary, John)` names
    /// " Mary" and " John"); each must be exactly one token of `tokenize`.
    public static func parse(_ text: String, tokenize: (String) throws -> [Int]) throws -> (metric: Metric, tokens: [String]) {
        guard let open = text.firstIndex(of: "("), text.hasSuffix(")") else {
            throw AnalysisError.invalidMetric("\"\(text)\" is not NAME(TOKEN…)")
        }
        let name = text[..<open].trimmingCharacters(in: .whitespaces).lowercased()
        let inside = text[text.index(after: open)..<text.index(before: text.endIndex)]
        let arguments = inside.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let ids = try arguments.map { argument -> Int in
            guard !argument.isEmpty else { throw AnalysisError.invalidMetric("an empty token in \"\(text)\"") }
            let ids = try tokenize(argument)
            guard ids.count == 1 else { throw AnalysisError.notOneToken(text: argument, tokens: ids.count) }
            return ids[0]
        }
        switch (name, ids.count) {
        case ("logit_diff", 2): return (.logitDiff(ids[0], ids[1]), arguments)
        case ("logit", 1): return (.logit(ids[0]), arguments)
        case ("prob", 1): return (.prob(ids[0]), arguments)
        case ("logit_diff", _), ("logit", _), ("prob", _):
            throw AnalysisError.invalidMetric("\(name) takes \(name == "logit_diff" ? 2 : 1) token(s), \(ids.count) given")
        default:
            throw AnalysisError.invalidMetric("unknown metric \(name)")
        }
    }

    /// The tokens it reads.
    public var tokenIds: [Int] {
        switch self {
        case let .logitDiff(a, b): [a, b]
        case let .logit(a), let .prob(a): [a]
        }
    }

    public var description: String {
        switch self {
        case let .logitDiff(a, b): "logit_diff(\(a), \(b))"
        case let .logit(a): "logit(\(a))"
        case let .prob(a): "prob(\(a))"
        }
    }

    /// The value on one row of logits.
    public func value(_ row: UnsafeBufferPointer<Float>) -> Double {
        switch self {
        case let .logitDiff(a, b): return Double(row[a]) - Double(row[b])
        case let .logit(a): return Double(row[a])
        case let .prob(a):
            var top = -Float.infinity
            for x in row where x > top { top = x }
            var sum = 0.0
            for x in row { sum += Foundation.exp(Double(x - top)) }
            return Foundation.exp(Double(row[a] - top)) / sum
        }
    }

    /// The value at the last position of every prompt, from the final norm's output there
    /// ([b, d]): only the logits the metric reads are computed, except for a probability, which
    /// needs them all.
    public func values(finalRows rows: Tensor, model: TransformerModel) throws -> [Double] {
        if case .prob = self { return values(try model.logits(of: rows)) }
        let (b, d) = (rows.shape[0], rows.shape[1])
        let cap = model.configuration.finalSoftcap.map(Double.init)
        return model.unembedding.scalars.withUnsafeBufferPointer { U in
            rows.scalars.withUnsafeBufferPointer { x in
                (0..<b).map { j in
                    func logit(_ t: Int) -> Double {
                        let raw = Double(BLAS.dot(x.baseAddress! + j * d, U.baseAddress! + t * d, count: d))
                        return cap.map { $0 * Foundation.tanh(raw / $0) } ?? raw
                    }
                    switch self {
                    case let .logitDiff(a, b): return logit(a) - logit(b)
                    case let .logit(a): return logit(a)
                    case .prob: return 0
                    }
                }
            }
        }
    }

    /// The value on every row of logits [b, 1, v] (or [b, v]).
    public func values(_ logits: Tensor) -> [Double] {
        let v = logits.shape.last ?? 0
        return logits.scalars.withUnsafeBufferPointer { all in
            stride(from: 0, to: all.count, by: max(v, 1)).map { value(UnsafeBufferPointer(rebasing: all[$0..<($0 + v)])) }
        }
    }
}

import Foundation
