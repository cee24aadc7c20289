// Attribution on the real model: the row identity and interventions of ATTRIBUTION.md §8 on
// every reference prompt.

import Foundation
import Testing
import TensorCore
import Attribution
import LanguageModels
import Transcoders
import TestSupport

/// One random transcoder set for the default model, made once.
private let randomSet: Result<TranscoderSet, Error> = Result {
    let loaded = try SharedModel.get()
    return try TinyTranscoders.random(for: loaded.model, tokens: try loaded.tokenize("The quick brown fox jumps over the lazy dog. The capital of Texas is Austin. def f(x): return x * 2"),
                                      features: 512, l0: 12)
}

@Suite(.serialized) struct RealModelAttributionTests {
    private func graph(_ record: Fixtures.LogitRecord) throws -> (AttributionGraph, LoadedModel, TranscoderSet) {
        let loaded = try SharedModel.get(), set = try randomSet.get()
        let options = AttributionOptions()
        let provenance = GraphProvenance(modelPath: loaded.path, modelFingerprint: "test", transcoderSet: set.name, transcoderFingerprint: "test",
                                         prompt: record.prompt, tokens: record.token_ids, options: options, engineVersion: Attribution.engineVersion)
        return (try Attribution.attribute(model: loaded.model, transcoders: set, tokens: record.token_ids, options: options, provenance: provenance), loaded, set)
    }

    @Test func rowIdentityAndInterventionsOnEveryReferencePrompt() throws {
        var worstIdentity: Float = 0, worstRatio: Float = 0, worstRelative: Float = 0, edges = 0, rows = 0
        for record in try Fixtures.logitRecords() {
            let (g, loaded, set) = try graph(record)
            #expect(g.features.count == g.activeFeatureCount && g.activeFeatureCount > 1000)
            let identity = try Attribution.rowIdentity(graph: g, model: loaded.model, transcoders: set)
            rows += identity.values.count
            worstIdentity = max(worstIdentity, identity.worstRelativeError)
            #expect(identity.worstRelativeError <= 1e-4, "\(record.prompt): row identity \(identity.worstRelativeError)")
            let check = try Verification.verify(graph: g, model: loaded.model, transcoders: set, samples: 50, seed: 1)
            edges += check.edges.count
            worstRatio = max(worstRatio, check.worstRatio)
            worstRelative = max(worstRelative, check.worstRelativeError)
            #expect(check.edges.count == 50)
            #expect(check.passed, "\(record.prompt): worst edge error / tolerance \(check.worstRatio)")
            // The logit nodes are the reference's most probable tokens, in order.
            #expect(g.logits.map(\.token) == Array(record.top20_last.map { Int($0[0]) }.prefix(g.logits.count)))
        }
        print("real-model attribution: \(rows) rows, worst row-identity relative error \(worstIdentity); \(edges) edges by intervention, worst error/tolerance \(worstRatio), worst relative error \(worstRelative)")
    }
}
