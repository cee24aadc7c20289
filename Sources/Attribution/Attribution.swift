// Attribution graphs (Ameisen et al., "Circuit Tracing", 2025), as circuit-tracer 0.5.0 computes
// them. ATTRIBUTION.md is the specification; the steps:
//
//   1. Run the model once; freeze attention patterns and normalisation scales; encode every
//      layer's MLP input with its transcoder; features at positions ≥ 1 are active nodes, each
//      MLP output's remainder is an error node (zero at position 0).       LocalReplacementModel
//   2. Pick logit targets: the most probable next tokens until their cumulative probability
//      reaches `logitProbability`, at most `maxLogits`.
//   3. Logit rows: inject each target's demeaned unembedding row at the final norm's output and
//      pull back through the frozen model in one batch.                    RowComputer
//   4. Feature rows: inject W_enc rows at the MLP inputs, `batchSize` targets per backward pass.
//      With a budget smaller than the number of active features, features are ranked by their
//      estimated influence on the logits over the rows computed so far, the best unvisited ones
//      are computed next, and the ranking is refreshed every `updateInterval` batches; features
//      that never get a row are not nodes.
//   5. Assemble the square adjacency over the chosen features, errors, tokens and logits
//      (NodeLayout), then compute influence, prune, and score (Influence).
//
// Rows never include what causality makes zero: a batch is pulled back only over the prefix of
// positions up to its last target, and only from its highest target layer down.

import Foundation
import LanguageModels
import TensorCore
import Transcoders

/// Progress of an attribution run.
public struct AttributionProgress: Sendable {
    public enum Phase: String, Sendable { case forward, logits, features, pruning }
    public var phase: Phase
    public var done: Int
    public var total: Int
}

public enum Attribution {
    /// The version recorded in graphs.
    public static let engineVersion = "circuitry-attribution 1"

    /// Builds the graph of `tokens`.
    public static func attribute(
        model: TransformerModel, transcoders: TranscoderSet, tokens: [Int], options: AttributionOptions,
        provenance: GraphProvenance, progress: (AttributionProgress) -> Void = { _ in }
    ) throws -> AttributionGraph {
        try options.validate()
        // Refuse at once what would not fit in memory, with the estimate and what would.
        let estimate = MemoryEstimate.of(tokens: tokens.count, configuration: model.configuration, options: options, crossLayer: transcoders.isCrossLayer)
        let available = options.memoryLimit ?? MemoryEstimate.available
        if estimate.total > available {
            var fits: Int?
            for budget in [16384, 8192, 4096, 2048, 1024, 512, 256] where budget < estimate.activeFeatures {
                var bounded = options
                bounded.maxFeatureNodes = budget
                if MemoryEstimate.of(tokens: tokens.count, configuration: model.configuration, options: bounded, crossLayer: transcoders.isCrossLayer).total <= available {
                    fits = budget
                    break
                }
            }
            throw AttributionError.tooLarge(tokens: tokens.count, estimate: estimate, available: available, budgetThatFits: fits)
        }
        var timings = AttributionTimings()
        var clock = Date()
        func lap() -> Double { defer { clock = Date() }; return Date().timeIntervalSince(clock) }

        // 1. The local replacement model.
        progress(AttributionProgress(phase: .forward, done: 0, total: 1))
        let replacement = try LocalReplacementModel.build(model: model, transcoders: transcoders, tokens: tokens)
        timings.forward = lap()

        // 2. Logit targets.
        let logits = try selectLogits(replacement, options: options)
        let computer = RowComputer(model: replacement, logits: logits.count)
        let total = replacement.activeFeatures.count
        let budget = min(options.maxFeatureNodes ?? total, total)
        let columns = computer.columns
        var matrix = EdgeRows(columns: columns, capacity: budget + logits.count)

        // 3. Logit rows.
        progress(AttributionProgress(phase: .logits, done: 0, total: logits.count))
        let n = replacement.positions, L = replacement.layers
        for start in stride(from: 0, to: logits.count, by: options.batchSize) {
            let chunk = Array(logits[start..<min(start + options.batchSize, logits.count)])
            let vectors = try Tensor.stack(chunk.map { try replacement.readVector($0) })
            let batch = TargetBatch(layers: Array(repeating: L, count: chunk.count), positions: Array(repeating: n - 1, count: chunk.count),
                                    vectors: vectors)
            try matrix.append(batch.count, nodes: (start..<(start + chunk.count)).map { computer.layout.logit($0) }) {
                try computer.compute(batch, into: $0)
            }
        }
        timings.logitRows = lap()

        // 4. Feature rows.
        var visited = [Bool](repeating: false, count: total)
        var computed = 0
        let probabilities = logits.map(\.probability)
        progress(AttributionProgress(phase: .features, done: 0, total: budget))
        while computed < budget {
            var pending: [Int]
            if budget == total {
                pending = Array(0..<total)
            } else {
                let influence = try matrix.withRows { rows, count in
                    try Influence.partial(rows: rows, count: count, columns: columns, rowNode: matrix.rowNodes,
                                          logitProbabilities: probabilities, logitStart: computer.layout.logitStart)
                }
                let ranked = (0..<total).sorted { influence[$0] != influence[$1] ? influence[$0] > influence[$1] : $0 < $1 }
                pending = Array(ranked.lazy.filter { !visited[$0] }.prefix(min(options.updateInterval * options.batchSize, budget - computed)))
                // Rows are independent: batching targets of nearby layers and positions together
                // shortens the pullbacks without changing any value.
                pending.sort()
            }
            for start in stride(from: 0, to: pending.count, by: options.batchSize) {
                let indices = Array(pending[start..<min(start + options.batchSize, pending.count)])
                let batch = TargetBatch(
                    layers: indices.map { replacement.activeFeatures[$0].layer },
                    positions: indices.map { replacement.activeFeatures[$0].position },
                    vectors: try replacement.encoderVectors.gatherRows(indices))
                try matrix.append(batch.count, nodes: indices) { try computer.compute(batch, into: $0) }
                for i in indices { visited[i] = true }
                computed += indices.count
                progress(AttributionProgress(phase: .features, done: computed, total: budget))
            }
        }
        timings.featureRows = lap()

        // 5. The square adjacency over the chosen nodes (the full-width rows are released first).
        let selected = (0..<total).filter { visited[$0] }
        let layout = NodeLayout(features: selected.count, layers: L, positions: n, logits: logits.count)
        let adjacency = try matrix.square(selected: selected, from: computer.layout, to: layout)
        matrix = EdgeRows(columns: 0, capacity: 0)
        timings.assembly = lap()
        progress(AttributionProgress(phase: .pruning, done: 0, total: 1))
        let pruning = try Influence.prune(adjacency: adjacency, layout: layout, logitProbabilities: probabilities,
                                          nodeThreshold: options.nodeThreshold, edgeThreshold: options.edgeThreshold)
        let scores = try Influence.scores(adjacency: adjacency, layout: layout, logitProbabilities: probabilities)
        timings.pruning = lap()
        return AttributionGraph(layout: layout, features: selected.map { replacement.activeFeatures[$0] }, activeFeatureCount: total,
                                logits: logits, adjacency: adjacency, influence: pruning.nodeInfluence, pruning: pruning,
                                replacementScore: scores.replacement, completenessScore: scores.completeness,
                                provenance: provenance, timings: timings)
    }

    /// The chosen targets, or the most probable next tokens until their cumulative probability
    /// reaches `logitProbability` (at most `maxLogits`).
    static func selectLogits(_ r: LocalReplacementModel, options: AttributionOptions) throws -> [LogitNode] {
        let v = r.configuration.vocabularySize
        let probabilities = try r.lastLogits.reshaped([1, v]).softmax()
        if let targets = options.targets {
            let mean = r.linearLogits.mean()
            let top = (0..<v).max { r.lastLogits.scalars[$0] < r.lastLogits.scalars[$1] } ?? 0
            return try targets.map { target in
                switch target {
                case let .token(t):
                    guard (0..<v).contains(t) else { throw AttributionError.invalidOption("target token id \(t) is outside the vocabulary") }
                    return LogitNode(token: t, probability: probabilities.scalars[t], demeanedLogit: r.linearLogits.scalars[t] - mean)
                case let .difference(a, b):
                    guard (0..<v).contains(a), (0..<v).contains(b), a != b else {
                        throw AttributionError.invalidOption("a logit difference needs two different tokens of the vocabulary")
                    }
                    return LogitNode(token: a, probability: 1, demeanedLogit: r.linearLogits.scalars[a] - r.linearLogits.scalars[b], minus: b)
                case let .direction(direction, label):
                    guard direction.count == r.configuration.width else {
                        throw AttributionError.invalidOption("the target direction \(label) has \(direction.count) values; the model's width is \(r.configuration.width)")
                    }
                    let final = try FrozenTape(r, length: r.positions).finalOutput.value
                    let d = r.configuration.width, last = r.positions - 1
                    let value = zip(direction, final.scalars[(last * d)..<((last + 1) * d)]).reduce(0) { $0 + $1.0 * $1.1 }
                    return LogitNode(token: top, probability: 1, demeanedLogit: value, direction: direction, label: label)
                }
            }
        }
        let (top, indices) = try probabilities.topK(min(options.maxLogits, v))
        var cumulative: Float = 0
        var count = top.count
        for (i, p) in top.scalars.enumerated() {
            cumulative += p
            if cumulative >= Float(options.logitProbability) { count = i + 1; break }
        }
        let mean = r.linearLogits.mean()
        return (0..<count).map { i in
            LogitNode(token: indices[i], probability: top.scalars[i], demeanedLogit: r.linearLogits.scalars[indices[i]] - mean)
        }
    }
}

/// Rows computed so far, over every active feature's column. The storage is allocated (zeroed)
/// once for every row the run can compute; rows are written in place.
struct EdgeRows {
    let columns: Int
    private(set) var storage: [Float]
    private(set) var rowNodes = [Int]()

    init(columns: Int, capacity: Int) {
        self.columns = columns
        storage = [Float](repeating: 0, count: columns * capacity)
    }

    var count: Int { rowNodes.count }

    /// Lets `fill` write the next `rows` (zeroed) rows and records their nodes.
    mutating func append(_ rows: Int, nodes: [Int], fill: (UnsafeMutablePointer<Float>) throws -> Void) throws {
        let start = count * columns
        precondition(start + rows * columns <= storage.count, "more rows than the run was sized for")
        try storage.withUnsafeMutableBufferPointer { try fill($0.baseAddress! + start) }
        rowNodes.append(contentsOf: nodes)
    }

    func withRows<T>(_ body: (UnsafePointer<Float>, Int) throws -> T) rethrows -> T {
        try storage.withUnsafeBufferPointer { try body($0.baseAddress!, count) }
    }

    /// The square adjacency [N, N] in `layout` order: feature rows in node order, zero error and
    /// token rows, logit rows last; columns of unselected features dropped.
    func square(selected: [Int], from full: NodeLayout, to layout: NodeLayout) throws -> Tensor {
        let n = layout.count
        // Column map: selected features, then every error and token column.
        var sourceColumn = selected
        sourceColumn.append(contentsOf: full.errorStart..<full.logitStart)
        var rowOf = [Int: Int]()
        for (i, node) in rowNodes.enumerated() { rowOf[node] = i }
        var out = try Tensor(zeros: [n, n])
        storage.withUnsafeBufferPointer { rows in
            out.scalars.withUnsafeMutableBufferPointer { a in
                func copy(row: Int, to target: Int) {
                    let src = rows.baseAddress! + row * columns, dst = a.baseAddress! + target * n
                    for (j, c) in sourceColumn.enumerated() { dst[j] = src[c] }
                }
                for (i, f) in selected.enumerated() { if let r = rowOf[f] { copy(row: r, to: layout.feature(i)) } }
                for l in 0..<layout.logits { if let r = rowOf[full.logit(l)] { copy(row: r, to: layout.logit(l)) } }
            }
        }
        return out
    }
}
