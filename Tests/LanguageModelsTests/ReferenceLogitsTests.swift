// The default model against logits computed by Hugging Face transformers on the same weights.

import Foundation
import Testing
import TensorCore
import LanguageModels
import TestSupport

@Suite struct ReferenceLogitsTests {
    @Test func everyReferencePromptAgrees() throws {
        let loaded = try SharedModel.get()
        var worst: Float = 0
        var worstNLL = 0.0
        for record in try Fixtures.logitRecords() {
            let result = try loaded.model.forward([record.token_ids], logits: .all)
            let n = record.token_ids.count, v = loaded.configuration.vocabularySize
            let last = Array(result.logits.scalars[((n - 1) * v)..<(n * v)])
            // Every one of the 49,152 last-position logits within 2e-3.
            let difference = zip(last, record.lastLogits).map { abs($0 - $1) }.max()!
            worst = max(worst, difference)
            #expect(difference <= 2e-3, "\(record.prompt): largest logit difference \(difference)")
            // The same top-20 order.
            let top = try Tensor(last).reshaped([1, v]).topK(20).indices
            #expect(top == record.top20_last.map { Int($0[0]) }, "\(record.prompt): top-20 order")
            // Next-token negative log-likelihoods within 1e-3.
            let logProbabilities = try result.logits.reshaped([n, v]).logSoftmax()
            for (p, expected) in record.nll_of_next_tokens.enumerated() {
                let nll = -Double(logProbabilities.scalars[p * v + record.token_ids[p + 1]])
                worstNLL = max(worstNLL, abs(nll - expected))
                #expect(abs(nll - expected) <= 1e-3, "\(record.prompt): NLL at position \(p): \(nll) vs \(expected)")
            }
        }
        print("reference agreement: worst |logit difference| \(worst), worst |NLL difference| \(worstNLL)")
    }
}
