// Linear probes: what a layer's activations encode about a label of the text.
//
//   1. Each text runs once (texts of equal token count batched together, the model run only as
//      far as the last layer probed); one row per text and layer is kept: the last token's
//      activation, the mean over the text's tokens (BOS left out), or one given position.
//   2. Stratified k-fold cross-validation per layer: an L2-regularised logistic regression
//      (`LogisticRegression`) and the difference-of-means direction, each fitted on k − 1 folds
//      and scored on the held-out fold; accuracy mean and standard deviation over folds.
//   3. A probe fitted on every text can be saved and applied to new text.

import Foundation
import LanguageModels
import TensorCore

/// One line of a probe dataset: `{"text": …, "label": …}` (the label a string or a number).
public struct LabelledText: Sendable, Equatable {
    public var text: String
    public var label: String

    public init(text: String, label: String) { (self.text, self.label) = (text, label) }

    /// Reads JSON lines; names the line at fault. Blank lines are skipped. With `needsLabels`,
    /// every line needs a label and the set at least two classes.
    public static func load(path: String, needsLabels: Bool = true) throws -> [LabelledText] {
        guard let data = FileManager.default.contents(atPath: path) else { throw AnalysisError.invalid("cannot read \(path)") }
        guard let content = String(data: data, encoding: .utf8) else { throw AnalysisError.invalid("\(path) is not UTF-8 text") }
        var items = [LabelledText]()
        for (index, line) in content.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            let where_ = "\(path) line \(index + 1)"
            guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)), let dict = object as? [String: Any] else {
                throw AnalysisError.invalid("\(where_) is not a JSON object ({\"text\": …, \"label\": …})")
            }
            guard let text = dict["text"] as? String else { throw AnalysisError.invalid("\(where_) has no \"text\" string") }
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw AnalysisError.invalid("\(where_) has an empty text") }
            let label: String
            switch dict["label"] {
            case let s as String: label = s
            case let n as NSNumber: label = n.stringValue
            case nil where !needsLabels: label = ""
            default: throw AnalysisError.invalid("\(where_) has no \"label\" (a string or a number)")
            }
            items.append(LabelledText(text: text, label: label))
        }
        guard !items.isEmpty else { throw AnalysisError.invalid("\(path) holds no texts") }
        if needsLabels {
            let classes = Set(items.map(\.label))
            guard classes.count >= 2 else {
                throw AnalysisError.invalid("\(path) has one class only (\(classes.first ?? "")): a probe needs texts of at least two labels")
            }
        }
        return items
    }
}

/// Which token's activation stands for a text.
public enum ProbePosition: Codable, Sendable, Equatable, CustomStringConvertible {
    case last
    /// The mean over the text's tokens (BOS excluded).
    case mean
    /// A fixed position (negative counts from the end: −1 is the last token).
    case index(Int)

    public init(parsing text: String) throws {
        switch text {
        case "last": self = .last
        case "mean": self = .mean
        default:
            guard let i = Int(text) else { throw AnalysisError.invalid("position \(text) is not last, mean or a token index") }
            self = .index(i)
        }
    }

    /// The positions whose mean stands for a text of `length` tokens (`skipFirst`: BOS left out of the mean).
    public func positions(length: Int, skipFirst: Bool) throws -> [Int] {
        switch self {
        case .last: return [length - 1]
        case .mean: return Array((skipFirst && length > 1 ? 1 : 0)..<length)
        case .index(let i):
            let p = i < 0 ? length + i : i
            guard (0..<length).contains(p) else { throw AnalysisError.invalid("position \(i) is outside a text of \(length) tokens") }
            return [p]
        }
    }

    public var description: String {
        switch self {
        case .last: "last"
        case .mean: "mean"
        case .index(let i): "\(i)"
        }
    }
}

/// Rows of activations: one per text, for each layer probed.
public struct ProbeActivations: Sendable {
    public var layers: [Int]
    public var width: Int
    public var texts: Int
    /// rows[i]: layer layers[i], [texts, width] row-major.
    public var rows: [[Float]]

    /// Runs every text once. `site` is the per-layer hook's suffix (`hook_resid_post`).
    public static func collect(model: TransformerModel, tokenized: [[Int]], layers: [Int], site: String, position: ProbePosition,
                               skipFirst: Bool, progress: (Int, Int) -> Void = { _, _ in }) throws -> ProbeActivations {
        guard !layers.isEmpty else { throw AnalysisError.invalid("no layers to probe") }
        let points = try layers.map { try model.hookPoint(named: "blocks.\($0).\(site)") }
        guard let width = model.width(of: points[0]) else { throw AnalysisError.invalid("\(site) has no rows a probe could read") }
        var rows = [[Float]](repeating: [Float](repeating: 0, count: tokenized.count * width), count: layers.count)
        // Texts of equal length run together, up to 16 at a time.
        var byLength = [Int: [Int]]()
        for (i, ids) in tokenized.enumerated() {
            guard !ids.isEmpty else { throw AnalysisError.emptyPrompt }
            byLength[ids.count, default: []].append(i)
        }
        var done = 0
        for length in byLength.keys.sorted() {
            let members = byLength[length]!
            for start in stride(from: 0, to: members.count, by: 16) {
                let group = Array(members[start..<min(start + 16, members.count)])
                let cache = try model.activations(group.map { tokenized[$0] }, at: Set(points))
                let chosen = try position.positions(length: length, skipFirst: skipFirst)
                for (k, point) in points.enumerated() {
                    for (j, text) in group.enumerated() {
                        rows[k].replaceSubrange((text * width)..<((text + 1) * width), with: row(of: cache[point]!, text: j, positions: chosen))
                    }
                }
                done += group.count
                progress(done, tokenized.count)
            }
        }
        return ProbeActivations(layers: layers, width: width, texts: tokenized.count, rows: rows)
    }

    /// Text `j`'s row of an activation [b, n, width]: the mean over `positions`.
    public static func row(of value: Tensor, text j: Int, positions: [Int]) -> [Float] {
        let (n, width) = (value.shape[1], value.shape[2])
        var row = [Float](repeating: 0, count: width)
        value.scalars.withUnsafeBufferPointer { v in
            for p in positions {
                let base = (j * n + p) * width
                for e in 0..<width { row[e] += v[base + e] / Float(positions.count) }
            }
        }
        return row
    }
}

/// Stratified folds: each class's texts, shuffled by `seed`, dealt to the folds in turn, so that
/// every fold holds about 1/k of each class.
public func stratifiedFolds(labels: [Int], folds k: Int, seed: UInt64) throws -> [Int] {
    let counts = Dictionary(grouping: labels, by: { $0 }).mapValues(\.count)
    guard k >= 2 else { throw AnalysisError.invalid("cross-validation needs at least 2 folds") }
    if let (label, count) = counts.min(by: { $0.value < $1.value }), count < k {
        throw AnalysisError.invalid("class \(label) has \(count) texts, fewer than the \(k) folds")
    }
    var random = SeededGenerator(seed: seed)
    var assignment = [Int](repeating: 0, count: labels.count)
    var next = 0
    for label in counts.keys.sorted() {
        var members = labels.indices.filter { labels[$0] == label }
        members.shuffle(using: &random)
        for i in members { assignment[i] = next % k; next += 1 }
    }
    return assignment
}

/// The difference-of-means classifier: two classes project onto mean(class 1) − mean(class 0)
/// with the threshold halfway between the projected class means; more classes take the nearest
/// class mean.
public struct MeanDifferenceProbe: Codable, Sendable {
    public var classes: Int
    public var means: [[Float]]
    public var direction: [Float]
    public var threshold: Float

    public static func fit(_ x: [Float], rows n: Int, width d: Int, labels: [Int], classes: Int) -> MeanDifferenceProbe {
        var means = [[Float]](repeating: [Float](repeating: 0, count: d), count: classes), counts = [Int](repeating: 0, count: classes)
        for r in 0..<n { counts[labels[r]] += 1; for j in 0..<d { means[labels[r]][j] += x[r * d + j] } }
        for c in 0..<classes where counts[c] > 0 { for j in 0..<d { means[c][j] /= Float(counts[c]) } }
        let direction = classes == 2 ? (0..<d).map { means[1][$0] - means[0][$0] } : []
        func project(_ v: [Float]) -> Float { zip(v, direction).reduce(0) { $0 + $1.0 * $1.1 } }
        let threshold = classes == 2 ? (project(means[0]) + project(means[1])) / 2 : 0
        return MeanDifferenceProbe(classes: classes, means: means, direction: direction, threshold: threshold)
    }

    public func predict(_ x: [Float], rows n: Int, width d: Int) -> [Int] {
        (0..<n).map { r in
            let row = x[(r * d)..<((r + 1) * d)]
            if classes == 2 { return zip(row, direction).reduce(0) { $0 + $1.0 * $1.1 } > threshold ? 1 : 0 }
            return (0..<classes).min { a, b in
                zip(row, means[a]).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } < zip(row, means[b]).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            }!
        }
    }
}

public struct ProbeLayerResult: Codable, Sendable {
    public var layer: Int
    public var accuracy: Double
    public var accuracyStd: Double
    public var foldAccuracies: [Double]
    public var meanDifferenceAccuracy: Double
    public var meanDifferenceStd: Double
    /// Whether L-BFGS met its tolerance on every fold.
    public var converged: Bool
}

public enum ProbeCrossValidation {
    /// Cross-validated accuracies of every layer's rows (folds from `stratifiedFolds`). Every
    /// (layer, fold) fit is independent: they run spread over the cores.
    public static func run(_ activations: ProbeActivations, labels: [Int], classes: Int, folds: [Int], c: Double = 1,
                           progress: (Int, Int) -> Void = { _, _ in }) throws -> [ProbeLayerResult] {
        let k = (folds.max() ?? 0) + 1, d = activations.width, layers = activations.layers.count
        // One fit per (layer, fold): its accuracy, the difference of means', and convergence.
        final class Fits: @unchecked Sendable {
            var results: [(Double, Double, Bool)?]
            var error: Error?
            let lock = NSLock()
            init(_ n: Int) { results = Array(repeating: nil, count: n) }
        }
        let fits = Fits(layers * k)
        for index in 0..<layers {
            Parallel.forEach(k) { fold in
                do {
                    let x = activations.rows[index]
                    let train = folds.indices.filter { folds[$0] != fold }, test = folds.indices.filter { folds[$0] == fold }
                    let trainX = gather(x, train, d), testX = gather(x, test, d)
                    let probe = try LogisticRegression.fit(trainX, rows: train.count, width: d, labels: train.map { labels[$0] }, classes: classes, c: c)
                    let predicted = try probe.predict(testX, rows: test.count)
                    let accuracy = Double(zip(predicted, test).filter { $0 == labels[$1] }.count) / Double(test.count)
                    let means = MeanDifferenceProbe.fit(trainX, rows: train.count, width: d, labels: train.map { labels[$0] }, classes: classes)
                    let meanPredicted = means.predict(testX, rows: test.count, width: d)
                    let difference = Double(zip(meanPredicted, test).filter { $0 == labels[$1] }.count) / Double(test.count)
                    fits.lock.lock(); fits.results[index * k + fold] = (accuracy, difference, probe.converged); fits.lock.unlock()
                } catch {
                    fits.lock.lock(); fits.error = error; fits.lock.unlock()
                }
            }
            if let error = fits.error { throw error }
            progress(index + 1, layers)
        }
        return activations.layers.enumerated().map { index, layer in
            let r = (0..<k).map { fits.results[index * k + $0]! }
            let accuracies = r.map(\.0), differences = r.map(\.1)
            return ProbeLayerResult(layer: layer, accuracy: meanOf(accuracies), accuracyStd: standardDeviation(accuracies),
                                    foldAccuracies: accuracies, meanDifferenceAccuracy: meanOf(differences),
                                    meanDifferenceStd: standardDeviation(differences), converged: r.allSatisfy(\.2))
        }
    }

    static func gather(_ x: [Float], _ rows: [Int], _ d: Int) -> [Float] {
        var out = [Float](); out.reserveCapacity(rows.count * d)
        for r in rows { out.append(contentsOf: x[(r * d)..<((r + 1) * d)]) }
        return out
    }

    static func meanOf(_ v: [Double]) -> Double { v.reduce(0, +) / Double(max(v.count, 1)) }
    /// The population standard deviation (numpy's default, as scikit-learn reports it).
    static func standardDeviation(_ v: [Double]) -> Double {
        let m = meanOf(v)
        return (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(max(v.count, 1))).squareRoot()
    }
}

/// A probe fitted on every text of a dataset, saved as JSON and applied to new text.
public struct SavedProbe: Codable, Sendable {
    public var hookName: String
    public var position: ProbePosition
    public var classes: [String]
    public var regression: LogisticRegression
    public var meanDifference: MeanDifferenceProbe
    public var modelName: String?
    public var crossValidatedAccuracy: Double?

    public init(hookName: String, position: ProbePosition, classes: [String], regression: LogisticRegression,
                meanDifference: MeanDifferenceProbe, modelName: String?, crossValidatedAccuracy: Double?) {
        self.hookName = hookName
        self.position = position
        self.classes = classes
        self.regression = regression
        self.meanDifference = meanDifference
        self.modelName = modelName
        self.crossValidatedAccuracy = crossValidatedAccuracy
    }

    public static func load(path: String) throws -> SavedProbe {
        guard let data = FileManager.default.contents(atPath: path) else { throw AnalysisError.invalid("cannot read the probe \(path)") }
        do {
            let probe = try JSONDecoder().decode(SavedProbe.self, from: data)
            let r = probe.regression
            guard probe.classes.count == r.classes, r.classes >= 2, r.mean.count == r.width, r.scale.count == r.width,
                  r.weights.count == r.rows * r.width, r.intercepts.count == r.rows, r.scale.allSatisfy({ $0 != 0 }) else {
                throw AnalysisError.invalid("\(path): the probe's sizes do not agree")
            }
            let m = probe.meanDifference
            guard m.classes == r.classes, m.means.count == m.classes, m.means.allSatisfy({ $0.count == r.width }),
                  m.direction.count == (m.classes == 2 ? r.width : 0) else {
                throw AnalysisError.invalid("\(path): the probe's sizes do not agree")
            }
            return probe
        } catch let error as AnalysisError { throw error } catch {
            throw AnalysisError.invalid("\(path) is not a probe saved by `circuitry probe --save`")
        }
    }

    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
