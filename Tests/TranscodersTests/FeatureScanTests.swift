import Foundation
import Testing
import TensorCore
@testable import Transcoders
import TestSupport

@Suite struct FeatureScanTests {
    static func options() -> FeatureScanOptions {
        var o = FeatureScanOptions()
        o.sequencesPerBatch = 3
        o.contextsPerFeature = 4
        o.before = 3
        o.after = 2
        o.logitTokens = 5
        o.checkpointSeconds = 0
        return o
    }

    /// Per feature: what the oracle says every scanned position's activation is.
    static func oracle(_ fx: FeatureFixture, scan: FeatureScan, layer: Int, feature: Int) throws -> [[Float]] {
        try (0..<scan.sequenceCount).map { s in try scan.sequence(s).map { try fx.activation(layer: layer, feature: feature, token: $0) } }
    }

    @Test func statisticsAndContextsMatchTheHandMadeFeatures() throws {
        let fx = try FeatureFixture()
        let o = Self.options()
        let scan = try FeatureScan(model: fx.model.model, set: fx.set, corpus: fx.corpus, options: o, setFingerprint: "fixture")
        try scan.run()
        #expect(scan.sequenceCount == fx.corpus.heldOutSequences && scan.sequenceCount > 8)
        for layer in 0..<2 {
            let evidence = try scan.evidence(layer: layer)
            #expect(evidence.count == FeatureFixture.features)
            for e in evidence {
                let expected = try Self.oracle(fx, scan: scan, layer: layer, feature: e.index)
                // Statistics over positions 1… (BOS excluded).
                let fired = expected.flatMap { $0.dropFirst() }.filter { $0 > 0 }
                #expect(e.tokensScanned == scan.sequenceCount * fx.corpus.sequenceLength)
                #expect(e.firings == fired.count, "L\(layer)/F\(e.index)")
                #expect(abs(e.activationSum - fired.reduce(0.0) { $0 + Double($1) }) <= 1e-3 * max(1, e.activationSum))
                #expect(abs(e.maxActivation - (fired.max() ?? 0)) <= 1e-4)
                // Strongest contexts: one per sequence at its peak, the strongest sequences first.
                let peaks = expected.enumerated().compactMap { s, values -> (Int, Float)? in
                    let best = values.dropFirst().max() ?? 0
                    return best > 0 ? (s, best) : nil
                }.sorted { $0.1 > $1.1 }
                #expect(e.contexts.count == min(o.contextsPerFeature, peaks.count))
                for (c, want) in zip(e.contexts, peaks) {
                    #expect(abs(c.peakActivation - want.1) <= 1e-4)
                    let values = expected[c.sequence]
                    let position = c.start + c.peak
                    #expect(abs(values[position] - (values.dropFirst().max() ?? 0)) <= 1e-4, "the window peaks at the sequence's maximum")
                    #expect(c.start == max(1, position - o.before))
                    #expect(c.positions.upperBound == min(values.count, position + o.after + 1))
                    for (i, p) in c.positions.enumerated() { #expect(abs(c.activations[i] - values[p]) <= 1e-4) }
                }
                #expect(Set(e.contexts.map(\.sequence)).count == e.contexts.count)
            }
            // The X detector fires on X alone, so every context peaks on an X; the dead feature has nothing.
            let x = evidence[0]
            #expect(x.firings == fx.corpus.heldOut.prefix(scan.sequenceCount * fx.corpus.sequenceLength).filter { Int($0) == fx.xToken }.count)
            for c in x.contexts { #expect(scan.sequence(c.sequence)[c.start + c.peak] == fx.xToken) }
            #expect(evidence[2].isDead && evidence[2].contexts.isEmpty && evidence[2].frequency == 0)
        }
    }

    @Test func logitLensTokensAreTheDemeanedUnembeddingOfTheDecoderRow() throws {
        let fx = try FeatureFixture()
        let scan = try FeatureScan(model: fx.model.model, set: fx.set, corpus: fx.corpus, options: Self.options(), setFingerprint: "fixture")
        for layer in 0..<2 {
            let evidence = try scan.evidence(layer: layer)
            #expect(evidence[0].promoted.first?.token == fx.promotedToken)
            for e in evidence {
                let scores = try fx.logitLens(layer: layer, feature: e.index)
                let order = scores.indices.sorted { scores[$0] > scores[$1] }
                #expect(e.promoted.map(\.token) == Array(order.prefix(5)), "L\(layer)/F\(e.index)")
                #expect(e.suppressed.map(\.token) == Array(order.reversed().prefix(5)))
                for t in e.promoted + e.suppressed { #expect(abs(Double(t.score) - scores[t.token]) <= 1e-4 * max(1, abs(scores[t.token]))) }
            }
        }
    }

    @Test func anInterruptedScanResumesToTheSameEvidence() throws {
        let fx = try FeatureFixture()
        var o = Self.options()
        let whole = try FeatureScan(model: fx.model.model, set: fx.set, corpus: fx.corpus, options: o, setFingerprint: "fixture")
        try whole.run()
        o.checkpointSeconds = 1e-9
        let folder = temporaryPath("-scan-checkpoint")
        let first = try FeatureScan(model: fx.model.model, set: fx.set, corpus: fx.corpus, options: o, setFingerprint: "fixture", checkpointFolder: folder)
        try first.run(batches: 2)
        #expect(first.sequencesDone == 6)
        let resumed = try FeatureScan(model: fx.model.model, set: fx.set, corpus: fx.corpus, options: o, setFingerprint: "fixture", checkpointFolder: folder)
        #expect(resumed.sequencesDone == 6)
        try resumed.run()
        let other = try FeatureScan(model: fx.model.model, set: fx.set, corpus: fx.corpus, options: o, setFingerprint: "another set", checkpointFolder: folder)
        #expect(other.sequencesDone == 0, "a checkpoint of another scan is not resumed")
        for layer in 0..<2 { #expect(try resumed.evidence(layer: layer) == whole.evidence(layer: layer)) }
        resumed.removeCheckpoint()
        #expect(!FileManager.default.fileExists(atPath: folder))
    }

    @Test func tokenLimitAndBadOptions() throws {
        let fx = try FeatureFixture()
        var o = Self.options()
        o.tokens = 50
        let scan = try FeatureScan(model: fx.model.model, set: fx.set, corpus: fx.corpus, options: o, setFingerprint: "fixture")
        #expect(scan.sequenceCount == 3, "50 tokens round up to whole sequences of 23")
        o.tokens = 0
        #expect(throws: TranscoderError.self) { try FeatureScan(model: fx.model.model, set: fx.set, corpus: fx.corpus, options: o, setFingerprint: "x") }
    }
}
