// Activation patching ("denoising", as TransformerLens's act-patching functions do it): run the
// corrupted prompt, put one activation of the clean run in its place, and see how far the metric
// moves back towards the clean value:
//
//   score(site) = (m(corrupt with clean site) − m(corrupt)) / (m(clean) − m(corrupt))
//
// 0 means the site carries nothing of the difference, 1 that it carries all of it. Sites:
//   resid_pre, attn_out, mlp_out   one (layer, position) at a time
//   heads                          one (layer, head) at a time, at every position (hook_z's slice)
// Nothing before the patched layer changes, so each patched run starts at that layer from the
// corrupted run's residual stream (`forward(residual:fromLayer:)`), and the runs of one layer are
// one batch (a prompt per position or head), with logits only at the last position. A cell whose
// clean activation is the corrupted one, bit for bit (every position before the prompts' first
// difference, by causality), is the corrupted run itself and is not run.

import LanguageModels
import TensorCore

/// Where activations are patched.
public enum PatchSite: String, CaseIterable, Sendable {
    case residPre = "resid_pre", attnOut = "attn_out", mlpOut = "mlp_out", heads

    /// Columns of the site's grid: positions, or heads.
    public var byHead: Bool { self == .heads }
}

/// The metric of every patched run, by site: [layer][position or head].
public struct PatchingScan: Sendable {
    public var metric: Metric
    /// The metric on the clean and on the corrupted run.
    public var clean: Double, corrupt: Double
    public var sites: [(site: PatchSite, values: [[Double]])]

    /// (value − corrupt) / (clean − corrupt); nil when the two runs do not differ.
    public func normalised(_ value: Double) -> Double? {
        let span = clean - corrupt
        return span == 0 || !span.isFinite ? nil : (value - corrupt) / span
    }

    public func values(_ site: PatchSite) -> [[Double]]? { sites.first { $0.site == site }?.values }
}

public enum Patching {
    /// The most prompts run side by side in one batch.
    static let batchLimit = 32

    /// Patches each site of `sites` from `clean` into `corrupt` (token ids of the same length).
    /// `progress` is told (done, total) after each layer of each site.
    public static func scan(model: TransformerModel, clean: [Int], corrupt: [Int], metric: Metric,
                            sites: [PatchSite] = PatchSite.allCases, progress: ((Int, Int) -> Void)? = nil) throws -> PatchingScan {
        guard !clean.isEmpty, !corrupt.isEmpty else { throw AnalysisError.emptyPrompt }
        guard clean.count == corrupt.count else { throw AnalysisError.unequalLengths(clean: clean.count, corrupt: corrupt.count) }
        let c = model.configuration
        for id in metric.tokenIds where !(0..<c.vocabularySize).contains(id) {
            throw LanguageModelError.tokenOutOfRange(id: id, vocabularySize: c.vocabularySize)
        }
        let n = clean.count
        let cleanRun = try model.forward([clean], cache: .matching { point in
            switch point {
            case .attnOut, .mlpOut, .attnZ, .residPre: true
            default: false
            }
        })
        let corruptRun = try model.forward([corrupt], cache: .matching { point in
            switch point {
            case .attnOut, .mlpOut, .attnZ, .residPre: true
            default: false
            }
        })
        var scan = PatchingScan(metric: metric, clean: metric.values(cleanRun.logits)[0], corrupt: metric.values(corruptRun.logits)[0], sites: [])
        let total = sites.count * c.layers
        var done = 0
        for site in sites {
            var grid = [[Double]]()
            for l in 0..<c.layers {
                let base = corruptRun.cache[.residPre(layer: l)]!                           // [1, n, d]
                let columns = site.byHead ? c.heads : n
                // A cell whose clean activation equals the corrupted one is the corrupted run itself
                // (every position before the prompts' first difference, by causality): not run.
                var row = [Double](repeating: scan.corrupt, count: columns)
                let changed = (0..<columns).filter { !identical(site, layer: l, column: $0, cleanRun.cache, corruptRun.cache, model: model) }
                for first in stride(from: 0, to: changed.count, by: batchLimit) {
                    let items = Array(changed[first..<min(first + batchLimit, changed.count)])
                    let values = try patchedRuns(model: model, site: site, layer: l, items: items, base: base, clean: cleanRun.cache,
                                                 metric: metric, positions: n)
                    for (item, value) in zip(items, values) { row[item] = value }
                }
                grid.append(row)
                done += 1
                progress?(done, total)
            }
            scan.sites.append((site, grid))
        }
        return scan
    }

    /// The metric of one batch of patched runs of layer l: item j patches position (or head) items[j].
    static func patchedRuns(model: TransformerModel, site: PatchSite, layer l: Int, items: [Int], base: Tensor,
                            clean: ActivationCache, metric: Metric, positions n: Int) throws -> [Double] {
        let b = items.count
        var residual = try tiled(base, copies: b)
        var hooks = [HookPoint: Hook]()
        switch site {
        case .residPre:
            let source = clean[.residPre(layer: l)]!
            for (j, p) in items.enumerated() { copyRow(source, row: p, into: &residual, item: j, positions: n) }
        case .attnOut, .mlpOut:
            let point: HookPoint = site == .attnOut ? .attnOut(layer: l) : .mlpOut(layer: l)
            let source = clean[point]!
            hooks[point] = { _, value in
                for (j, p) in items.enumerated() { copyRow(source, row: p, into: &value, item: j, positions: n) }
            }
        case .heads:
            let source = clean[.attnZ(layer: l)]!                                           // [1, n, h·e]
            let e = model.configuration.headDimension, width = model.configuration.heads * e
            hooks[.attnZ(layer: l)] = { _, value in
                for (j, head) in items.enumerated() {
                    for p in 0..<n {
                        for i in (head * e)..<((head + 1) * e) { value.scalars[(j * n + p) * width + i] = source.scalars[p * width + i] }
                    }
                }
            }
        }
        return try lastPositionValues(metric, model: model, residual: residual, fromLayer: l, hooks: hooks)
    }

    /// The metric at the last position of each prompt of a batch run from layer `first` on (only
    /// the logits the metric reads are computed).
    static func lastPositionValues(_ metric: Metric, model: TransformerModel, residual: Tensor, fromLayer first: Int,
                                   hooks: [HookPoint: Hook]) throws -> [Double] {
        let run = try model.forward(residual: residual, fromLayer: first, cache: .points([.finalNormalized]), hooks: hooks, logits: .none)
        let final = run.cache[.finalNormalized]!                                            // [b, n, d]
        let (b, n, d) = (final.shape[0], final.shape[1], final.shape[2])
        return try metric.values(finalRows: try final.slice(axis: 1, (n - 1)..<n).reshaped([b, d]), model: model)
    }

    /// `copies` copies of a [1, n, d] activation as a batch [copies, n, d].
    static func tiled(_ one: Tensor, copies: Int) throws -> Tensor {
        let count = one.count
        return try Tensor(shape: [copies] + one.shape.dropFirst()) { out in
            one.scalars.withUnsafeBufferPointer { src in
                for j in 0..<copies { for i in 0..<count { out[j * count + i] = src[i] } }
            }
        }
    }

    /// Whether the clean and corrupted runs hold the same values at a cell (a position's row, or a
    /// head's slice of hook_z at every position).
    static func identical(_ site: PatchSite, layer l: Int, column j: Int, _ clean: ActivationCache, _ corrupt: ActivationCache,
                          model: TransformerModel) -> Bool {
        let point: HookPoint = switch site {
        case .residPre: .residPre(layer: l)
        case .attnOut: .attnOut(layer: l)
        case .mlpOut: .mlpOut(layer: l)
        case .heads: .attnZ(layer: l)
        }
        let a = clean[point]!.scalars, b = corrupt[point]!.scalars
        if site == .heads {
            let e = model.configuration.headDimension, width = model.configuration.heads * e, n = a.count / width
            return (0..<n).allSatisfy { p in a[(p * width + j * e)..<(p * width + (j + 1) * e)] == b[(p * width + j * e)..<(p * width + (j + 1) * e)] }
        }
        let d = model.configuration.width
        return a[(j * d)..<((j + 1) * d)] == b[(j * d)..<((j + 1) * d)]
    }

    /// Copies position `row` of a [1, n, d] activation into item `item` of a [b, n, d] one.
    static func copyRow(_ source: Tensor, row p: Int, into value: inout Tensor, item j: Int, positions n: Int) {
        let d = source.shape.last!
        for i in 0..<d { value.scalars[(j * n + p) * d + i] = source.scalars[p * d + i] }
    }
}
