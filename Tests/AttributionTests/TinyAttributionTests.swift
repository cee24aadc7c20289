// Attribution on tiny random models: the invariants of ATTRIBUTION.md §8 and the budget.

import Foundation
import Testing
import TensorCore
@testable import Attribution
import LanguageModels
import Transcoders
import TestSupport

struct TinyCase {
    let model: LoadedModel
    let transcoders: TranscoderSet
    let tokens: [Int]

    init(skip: Bool = false, activation: TranscoderActivation? = nil) throws {
        model = try LoadedModel.load(path: TinyModel(TinyModelSpec()).writeGGUF())
        var random = TestRandom(seed: 90)
        let threshold = random.uniform([24], 0, 0.3)
        transcoders = try TinyTranscoders.random(layers: 2, width: 16, features: 24,
                                                 activation: { _ in activation ?? .jumpReLU(threshold: threshold) }, skip: skip)
        tokens = try model.tokenize("Hi there, Tex!")
    }

    func provenance(_ options: AttributionOptions) -> GraphProvenance {
        GraphProvenance(modelPath: "tiny", modelFingerprint: "0", transcoderSet: "tiny", transcoderFingerprint: "0",
                        prompt: "Hi there, Tex!", tokens: tokens, options: options, engineVersion: Attribution.engineVersion)
    }

    func attribute(_ options: AttributionOptions = AttributionOptions()) throws -> AttributionGraph {
        try Attribution.attribute(model: model.model, transcoders: transcoders, tokens: tokens, options: options, provenance: provenance(options))
    }
}

@Suite struct TinyAttributionTests {
    @Test(arguments: [false, true])
    func rowsSumToTheirTargets(_ skip: Bool) throws {
        let tiny = try TinyCase(skip: skip)
        var options = AttributionOptions()
        options.batchSize = 7                 // several backward passes with mixed layers and positions
        let graph = try tiny.attribute(options)
        #expect(graph.features.count == graph.activeFeatureCount && graph.features.count > 20)
        let identity = try Attribution.rowIdentity(graph: graph, model: tiny.model.model, transcoders: tiny.transcoders)
        #expect(identity.worstRelativeError < 1e-4, "worst relative error \(identity.worstRelativeError)")
        // The check can fail: a wrong row breaks it.
        var broken = identity
        broken.rowSums[0] += 0.01 * max(abs(broken.values[0]), 1)
        #expect(broken.worstRelativeError > 1e-4)
    }

    @Test(arguments: [3, 10])
    func rowsSumToTheirTargetsUnderABudget(_ budget: Int) throws {
        // Features the budget leaves out are sources of no node: the identity counts their writes
        // with what no node carries, and must hold as tightly as on the full graph.
        let tiny = try TinyCase()
        var options = AttributionOptions()
        options.maxFeatureNodes = budget
        let graph = try tiny.attribute(options)
        #expect(graph.features.count == budget && graph.activeFeatureCount > budget + 10)
        let identity = try Attribution.rowIdentity(graph: graph, model: tiny.model.model, transcoders: tiny.transcoders)
        #expect(identity.values.count == budget + graph.logits.count)
        #expect(identity.worstRelativeError < 1e-4, "worst relative error \(identity.worstRelativeError)")
        // A graph whose row lost an entry fails it.
        let row = graph.layout.logit(0), n = graph.layout.count
        let column = (0..<n).max { abs(graph.adjacency.scalars[row * n + $0]) < abs(graph.adjacency.scalars[row * n + $1]) }!
        var adjacency = graph.adjacency
        adjacency.scalars[row * n + column] = 0
        let corrupted = AttributionGraph(layout: graph.layout, features: graph.features, activeFeatureCount: graph.activeFeatureCount,
                                         logits: graph.logits, adjacency: adjacency, influence: graph.influence, pruning: graph.pruning,
                                         replacementScore: graph.replacementScore, completenessScore: graph.completenessScore,
                                         provenance: graph.provenance, timings: graph.timings)
        let bad = try Attribution.rowIdentity(graph: corrupted, model: tiny.model.model, transcoders: tiny.transcoders)
        #expect(bad.worstRelativeError > 1e-3)
    }

    @Test func chosenTargetsLogitDifferencesAndDirectionsKeepTheIdentity() throws {
        let tiny = try TinyCase()
        let v = tiny.model.configuration.vocabularySize, d = tiny.model.configuration.width
        var random = TestRandom(seed: 5)
        let direction = random.uniform([d], -1, 1).scalars
        for targets in [[.token(3), .token(7)], [.difference(3, minus: 7)], [.direction(direction, label: "r")]] as [[AttributionTarget]] {
            var options = AttributionOptions()
            options.targets = targets
            let graph = try tiny.attribute(options)
            #expect(graph.logits.count == targets.count)
            let identity = try Attribution.rowIdentity(graph: graph, model: tiny.model.model, transcoders: tiny.transcoders)
            #expect(identity.worstRelativeError < 1e-4, "\(targets): \(identity.worstRelativeError)")
            let check = try Verification.verify(graph: graph, model: tiny.model.model, transcoders: tiny.transcoders, samples: 50)
            #expect(check.passed, "\(targets): worst ratio \(check.worstRatio)")
        }
        // The difference row is the difference of the two token rows (the mean cancels).
        var tokens = AttributionOptions(), difference = AttributionOptions()
        tokens.targets = [.token(3), .token(7)]
        difference.targets = [.difference(3, minus: 7)]
        let a = try tiny.attribute(tokens), b = try tiny.attribute(difference)
        let n = a.layout.count
        #expect(a.layout.features == b.layout.features && a.layout.logitStart == b.layout.logitStart)
        var worst: Float = 0
        for s in 0..<b.layout.logitStart {
            let want = a.adjacency.scalars[a.layout.logit(0) * n + s] - a.adjacency.scalars[a.layout.logit(1) * n + s]
            worst = max(worst, abs(b.adjacency.scalars[b.layout.logit(0) * b.layout.count + s] - want))
        }
        #expect(worst < 1e-4)
        #expect(b.logits[0].minus == 7 && abs(b.logits[0].demeanedLogit - (a.logits[0].demeanedLogit - a.logits[1].demeanedLogit)) < 1e-4)
        // Bad targets are refused.
        var bad = AttributionOptions()
        bad.targets = [.token(v)]
        #expect(throws: AttributionError.self) { try tiny.attribute(bad) }
        bad.targets = [.direction([1, 2], label: "short")]
        #expect(throws: AttributionError.self) { try tiny.attribute(bad) }
    }

    @Test func aRunThatWouldNotFitIsRefusedAtOnce() throws {
        let tiny = try TinyCase()
        var options = AttributionOptions()
        options.memoryLimit = 50_000
        let started = Date()
        let error = #expect(throws: AttributionError.self) { try tiny.attribute(options) }
        #expect(Date().timeIntervalSince(started) < 1)
        guard case let .tooLarge(tokens, estimate, _, _)? = error else { Issue.record("not tooLarge: \(String(describing: error))"); return }
        #expect(tokens == tiny.tokens.count && estimate.total > 50_000)
        #expect("\(error!)".contains("would need about"))
        // A long prompt on a real model's shape: refused by the estimate alone, a budget shrinks the rows.
        var real = tiny.model.configuration
        (real.layers, real.heads) = (30, 9)
        let full = MemoryEstimate.of(tokens: 2500, configuration: real, options: AttributionOptions())
        var budgeted = AttributionOptions()
        budgeted.maxFeatureNodes = 1024
        #expect(full.total > 24e9 && MemoryEstimate.of(tokens: 2500, configuration: real, options: budgeted).rows < full.rows / 100)
    }

    @Test(arguments: [false, true])
    func edgesMatchInterventions(_ skip: Bool) throws {
        let tiny = try TinyCase(skip: skip)
        let graph = try tiny.attribute()
        let report = try Verification.verify(graph: graph, model: tiny.model.model, transcoders: tiny.transcoders, samples: 50)
        #expect(report.edges.count >= 20)
        #expect(report.passed, "worst ratio \(report.worstRatio), worst error \(report.worstAbsoluteError)")
    }

    @Test func causalityZerosAreExact() throws {
        let tiny = try TinyCase()
        let graph = try tiny.attribute()
        let layout = graph.layout
        for (t, target) in graph.features.enumerated() {
            for (s, source) in graph.features.enumerated() where source.layer >= target.layer || source.position > target.position {
                #expect(graph.edge(target: layout.feature(t), source: layout.feature(s)) == 0)
            }
            for p in (target.position + 1)..<graph.tokens.count {
                #expect(graph.edge(target: layout.feature(t), source: layout.token(position: p)) == 0)
            }
        }
        // Error and token rows are empty; position-0 errors never carry weight.
        for t in layout.errorStart..<layout.logitStart { #expect(graph.adjacency.scalars[(t * layout.count)..<((t + 1) * layout.count)].allSatisfy { $0 == 0 }) }
    }

    @Test func aBudgetSelectsInfluentialFeaturesWithTheSameRows() throws {
        let tiny = try TinyCase()
        let full = try tiny.attribute()
        var options = AttributionOptions()
        options.maxFeatureNodes = 10
        options.batchSize = 3
        options.updateInterval = 1
        let budgeted = try tiny.attribute(options)
        #expect(budgeted.features.count == 10 && budgeted.activeFeatureCount == full.activeFeatureCount)
        // Each budgeted row equals the full graph's row on the columns they share (up to the
        // rounding of computing it in a different batch).
        let fullIndex = Dictionary(uniqueKeysWithValues: full.features.enumerated().map { ($0.element, $0.offset) })
        for (i, f) in budgeted.features.enumerated() {
            let j = try #require(fullIndex[f])
            for (k, g) in budgeted.features.enumerated() {
                let a = budgeted.edge(target: budgeted.layout.feature(i), source: budgeted.layout.feature(k))
                let b = full.edge(target: full.layout.feature(j), source: full.layout.feature(fullIndex[g]!))
                #expect(abs(a - b) <= 1e-6 * max(abs(b), 1e-3), "\(a) vs \(b)")
            }
        }
        // The first features chosen are the ones with the largest direct effect on the logits.
        let logitRow = full.layout.logit(0)
        let strongest = full.features.indices.max { abs(full.edge(target: logitRow, source: $0)) < abs(full.edge(target: logitRow, source: $1)) }!
        #expect(budgeted.features.contains(full.features[strongest]))
    }

    @Test func logitSelectionFollowsCumulativeProbability() throws {
        let tiny = try TinyCase()
        var options = AttributionOptions()
        options.maxLogits = 5
        options.logitProbability = 0.3
        let graph = try tiny.attribute(options)
        let probabilities = graph.logits.map(\.probability)
        #expect(probabilities == probabilities.sorted(by: >))
        #expect(probabilities.dropLast().reduce(0, +) < 0.3 && (probabilities.reduce(0, +) >= 0.3 || probabilities.count == 5))
    }

    @Test func badInputsAreClearErrors() throws {
        let tiny = try TinyCase()
        let options = AttributionOptions()
        #expect(throws: AttributionError.emptyPrompt) {
            try Attribution.attribute(model: tiny.model.model, transcoders: tiny.transcoders, tokens: [], options: options, provenance: tiny.provenance(options))
        }
        #expect(throws: AttributionError.onlyBOS) {
            try Attribution.attribute(model: tiny.model.model, transcoders: tiny.transcoders, tokens: [256], options: options, provenance: tiny.provenance(options))
        }
        var zero = options
        zero.maxFeatureNodes = 0
        #expect(throws: AttributionError.invalidOption("--max-feature-nodes must be at least 1 (got 0)")) { try tiny.attribute(zero) }
        let otherWidth = try TinyTranscoders.random(layers: 2, width: 8, features: 4)
        #expect(throws: TranscoderError.self) {
            try Attribution.attribute(model: tiny.model.model, transcoders: otherWidth, tokens: tiny.tokens, options: options, provenance: tiny.provenance(options))
        }
    }
}
