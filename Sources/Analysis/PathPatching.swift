// Path patching (Wang et al., "Interpretability in the Wild", 2022): how much of the difference
// between two prompts goes from one sender head straight into a receiver head's query, key or
// value, and not through any other head. In the direction `patch` uses (clean into corrupted):
//
//   1. Run the corrupted prompt with the sender head's output (its hook_z slice) taken from the
//      clean run and every other head, in every layer from the sender's up to the last
//      receiver's, frozen at its corrupted value; the MLPs are recomputed. Record the receivers'
//      query (or key, or value) projections.
//   2. Run the corrupted prompt again with only the receivers' projections replaced by those
//      recorded, and read the metric at the last position.
//
//   score = (m(step 2) − m(corrupt)) / (m(clean) − m(corrupt))
//
// Senders are every head of every layer before the first receiver's; each layer's senders are
// one batch in each step, started from the corrupted run's stream at that layer. Keys and values
// are shared by a group of query heads where the model groups them: a receiver's key or value
// input is its group's, so patching it patches every head of the group.

import LanguageModels
import TensorCore

/// Which input of a receiver head is patched.
public enum ReceiverInput: String, CaseIterable, Sendable {
    case q, k, v

    func point(layer l: Int) -> HookPoint {
        switch self {
        case .q: .attnQ(layer: l)
        case .k: .attnK(layer: l)
        case .v: .attnV(layer: l)
        }
    }
}

public struct PathPatchingScan: Sendable {
    public var metric: Metric
    public var clean: Double, corrupt: Double
    public var receivers: [(layer: Int, head: Int)]
    public var input: ReceiverInput
    /// [sender layer][sender head]: the metric of step 2.
    public var values: [[Double]]

    public func normalised(_ value: Double) -> Double? {
        let span = clean - corrupt
        return span == 0 || !span.isFinite ? nil : (value - corrupt) / span
    }
}

public enum PathPatching {
    public static func scan(model: TransformerModel, clean: [Int], corrupt: [Int], metric: Metric,
                            receivers: [(layer: Int, head: Int)], input: ReceiverInput,
                            progress: ((Int, Int) -> Void)? = nil) throws -> PathPatchingScan {
        guard !clean.isEmpty, !corrupt.isEmpty else { throw AnalysisError.emptyPrompt }
        guard clean.count == corrupt.count else { throw AnalysisError.unequalLengths(clean: clean.count, corrupt: corrupt.count) }
        let c = model.configuration
        guard !receivers.isEmpty else { throw AnalysisError.tooShort("path patching needs at least one receiver head") }
        for r in receivers {
            guard (0..<c.layers).contains(r.layer) else { throw AnalysisError.layerOutOfRange(layer: r.layer, layers: c.layers) }
            guard (0..<c.heads).contains(r.head) else { throw AnalysisError.headOutOfRange(head: r.head, heads: c.heads) }
        }
        let first = receivers.map(\.layer).min()!, last = receivers.map(\.layer).max()!
        guard first > 0 else { throw AnalysisError.tooShort("a receiver in layer 0 has no earlier heads to send to it") }
        for id in metric.tokenIds where !(0..<c.vocabularySize).contains(id) {
            throw LanguageModelError.tokenOutOfRange(id: id, vocabularySize: c.vocabularySize)
        }
        let (n, h, e) = (clean.count, c.heads, c.headDimension)
        let inputWidth = input == .q ? h * e : c.keyValueHeads * e
        // The columns of a receiver's input: its own head's for queries, its group's for keys and values.
        func columns(_ head: Int) -> Range<Int> {
            let slot = input == .q ? head : head / (h / c.keyValueHeads)
            return (slot * e)..<((slot + 1) * e)
        }
        let cleanRun = try model.forward([clean], cache: .matching { if case .attnZ = $0 { true } else { false } })
        let corruptRun = try model.forward([corrupt], cache: .matching { point in
            switch point {
            case .attnZ, .residPre: true
            default: false
            }
        })
        var scan = PathPatchingScan(metric: metric, clean: metric.values(cleanRun.logits)[0], corrupt: metric.values(corruptRun.logits)[0],
                                    receivers: receivers, input: input, values: [])
        let receiverLayers = Set(receivers.map(\.layer))
        for sender in 0..<first {
            // Step 1: a batch of h runs, item j with sender head j clean and every other head frozen.
            var hooks = [HookPoint: Hook]()
            for l in sender..<last {
                let frozen = corruptRun.cache[.attnZ(layer: l)]!.scalars, donor = cleanRun.cache[.attnZ(layer: l)]!.scalars
                hooks[.attnZ(layer: l)] = { _, value in
                    for j in 0..<h {
                        for p in 0..<n {
                            let row = p * h * e, out = (j * n + p) * h * e
                            for i in 0..<(h * e) { value.scalars[out + i] = frozen[row + i] }
                            if l == sender { for i in (j * e)..<((j + 1) * e) { value.scalars[out + i] = donor[row + i] } }
                        }
                    }
                }
            }
            let base = try Patching.tiled(corruptRun.cache[.residPre(layer: sender)]!, copies: h)
            let recorded = try model.forward(residual: base, fromLayer: sender,
                                              cache: .points(Set(receiverLayers.map { input.point(layer: $0) })), hooks: hooks, logits: .none).cache
            // Step 2: the corrupted run with only the receivers' inputs replaced.
            var patch = [HookPoint: Hook]()
            for layer in receiverLayers {
                let source = recorded[input.point(layer: layer)]!.scalars                     // [h, n, width]
                let heads = receivers.filter { $0.layer == layer }.map(\.head)
                patch[input.point(layer: layer)] = { _, value in
                    for j in 0..<h {
                        for p in 0..<n {
                            for head in heads {
                                for i in columns(head) { value.scalars[(j * n + p) * inputWidth + i] = source[(j * n + p) * inputWidth + i] }
                            }
                        }
                    }
                }
            }
            scan.values.append(try Patching.lastPositionValues(metric, model: model, residual: try Patching.tiled(corruptRun.cache[.residPre(layer: first)]!, copies: h),
                                                               fromLayer: first, hooks: patch))
            progress?(sender + 1, first)
        }
        return scan
    }
}
