// Attribution through cross-layer transcoders on a tiny 3-layer model: the invariants of
// ATTRIBUTION.md §8 (row identity, interventions, causality), a CLT whose later decoders are
// zero giving exactly the per-layer graph, and a CLT read from mapped files giving the graph of
// the same CLT in memory.

import Foundation
import Testing
import TensorCore
@testable import Attribution
import LanguageModels
import Transcoders
import TestSupport

struct CrossLayerCase {
    let model: LoadedModel
    let transcoders: TranscoderSet
    let tokens: [Int]

    static func model() throws -> LoadedModel {
        var spec = TinyModelSpec()
        spec.layers = 3
        return try LoadedModel.load(path: TinyModel(spec).writeGGUF())
    }

    init(skip: Bool = false, ownLayerOnly: Bool = false) throws {
        model = try Self.model()
        var random = TestRandom(seed: 91)
        let threshold = random.uniform([24], 0, 0.3)
        transcoders = try TinyTranscoders.randomCrossLayer(layers: 3, width: 16, features: 24, activation: { _ in .jumpReLU(threshold: threshold) },
                                                           skip: skip, ownLayerOnly: ownLayerOnly)
        tokens = try model.tokenize("Hi there, Tex!")
    }

    func attribute(_ set: TranscoderSet? = nil, _ options: AttributionOptions = AttributionOptions()) throws -> AttributionGraph {
        let provenance = GraphProvenance(modelPath: "tiny", modelFingerprint: "0", transcoderSet: "clt", transcoderFingerprint: "0",
                                         prompt: "Hi there, Tex!", tokens: tokens, options: options, engineVersion: Attribution.engineVersion)
        return try Attribution.attribute(model: model.model, transcoders: set ?? transcoders, tokens: tokens, options: options, provenance: provenance)
    }
}

@Suite struct CrossLayerAttributionTests {
    @Test(arguments: [false, true])
    func rowsSumToTheirTargets(_ skip: Bool) throws {
        let clt = try CrossLayerCase(skip: skip)
        #expect(clt.transcoders.isCrossLayer && clt.transcoders.kind == "cross-layer")
        var options = AttributionOptions()
        options.batchSize = 5
        let graph = try clt.attribute(nil, options)
        #expect(graph.features.count == graph.activeFeatureCount && graph.features.count > 30)
        let identity = try Attribution.rowIdentity(graph: graph, model: clt.model.model, transcoders: clt.transcoders)
        #expect(identity.worstRelativeError < 1e-4, "worst relative error \(identity.worstRelativeError)")
        // Under a budget the left-out features' writes to every later layer are what no node carries.
        options.maxFeatureNodes = 8
        let budgeted = try clt.attribute(nil, options)
        let partial = try Attribution.rowIdentity(graph: budgeted, model: clt.model.model, transcoders: clt.transcoders)
        #expect(budgeted.features.count == 8)
        #expect(partial.worstRelativeError < 1e-4, "worst relative error \(partial.worstRelativeError)")
    }

    @Test(arguments: [false, true])
    func edgesMatchInterventions(_ skip: Bool) throws {
        let clt = try CrossLayerCase(skip: skip)
        let graph = try clt.attribute()
        let report = try Verification.verify(graph: graph, model: clt.model.model, transcoders: clt.transcoders, samples: 60)
        #expect(report.edges.count >= 30)
        #expect(report.passed, "worst ratio \(report.worstRatio), worst error \(report.worstAbsoluteError)")
    }

    @Test func laterDecodersCarryWeight() throws {
        // The same encoders with the later decoders zeroed: the per-layer graph. It must differ
        // from the CLT's (the cross-layer writes reach targets), and equal a per-layer set's.
        let full = try CrossLayerCase(), own = try CrossLayerCase(ownLayerOnly: true)
        var random = TestRandom(seed: 91)
        let threshold = random.uniform([24], 0, 0.3)
        let perLayer = try TinyTranscoders.random(layers: 3, width: 16, features: 24, activation: { _ in .jumpReLU(threshold: threshold) })
        #expect(!perLayer.isCrossLayer && perLayer.kind == "per-layer")
        let a = try own.attribute(), b = try own.attribute(perLayer), c = try full.attribute()
        #expect(a.features == b.features && a.logits.map(\.token) == b.logits.map(\.token))
        let scale = b.adjacency.scalars.map(abs).max() ?? 1
        let worst = zip(a.adjacency.scalars, b.adjacency.scalars).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-5 * scale, "per-layer against own-layer-only CLT: \(worst)")
        #expect(a.features == c.features)
        let changed = zip(a.adjacency.scalars, c.adjacency.scalars).filter { abs($0 - $1) > 1e-3 * scale }.count
        #expect(changed > 20, "the cross-layer decoders changed only \(changed) edges")
    }

    @Test func causalityZerosAreExact() throws {
        let clt = try CrossLayerCase()
        let graph = try clt.attribute()
        let layout = graph.layout
        for (t, target) in graph.features.enumerated() {
            for (s, source) in graph.features.enumerated() where source.layer >= target.layer || source.position > target.position {
                #expect(graph.edge(target: layout.feature(t), source: layout.feature(s)) == 0)
            }
        }
    }

    @Test func mappedFilesGiveTheGraphOfTheSetInMemory() throws {
        let clt = try CrossLayerCase(skip: true)
        let folder = temporaryPath("-clt")
        try clt.transcoders.save(to: folder)
        let config = try String(contentsOfFile: folder + "/config.yaml", encoding: .utf8)
        #expect(config.contains("model_kind: cross_layer_transcoder"))
        #expect(FileManager.default.fileExists(atPath: folder + "/W_dec_2.safetensors"))
        let reference = try clt.attribute()
        for lazy in [false, true] {
            let loaded = try TranscoderSet.load(folder: folder, lazy: lazy)
            #expect(loaded.isCrossLayer && loaded.layers == 3 && loaded.hasSkip)
            #expect(try loaded[1].decoderWeights.isMapped)
            let graph = try clt.attribute(loaded)
            #expect(graph.features == reference.features)
            #expect(graph.adjacency.scalars == reference.adjacency.scalars, "lazy \(lazy)")
        }
    }

    @Test func interventionsWithoutChangesReproduceTheModel() throws {
        // Replacement with every layer's clean error added back is the model itself: the CLT's
        // cross-layer reconstruction and the errors are consistent.
        let clt = try CrossLayerCase(skip: true)
        var options = InterventionOptions()
        options.freezeAttention = false
        let result = try Interventions.run(model: clt.model.model, transcoders: clt.transcoders, tokens: clt.tokens, interventions: [], options: options)
        let worst = zip(result.logits.scalars, result.cleanLogits.scalars).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 1e-4, "\(worst)")
        // And an intervention on an early feature moves the MLP inputs of every later layer.
        let graph = try clt.attribute()
        let f = graph.features.first { $0.layer == 0 }!
        let moved = try Interventions.run(model: clt.model.model, transcoders: clt.transcoders, tokens: clt.tokens,
                                          interventions: [FeatureIntervention(layer: 0, position: f.position, feature: f.feature, value: 3, additive: true)],
                                          options: options)
        let change = zip(moved.mlpInputs[2].scalars, result.mlpInputs[2].scalars).map { abs($0 - $1) }.max() ?? 0
        #expect(change > 1e-3)
    }

    @Test func aCrossLayerSetForAnotherModelIsRefused() throws {
        let clt = try CrossLayerCase()
        let twoLayers = try LoadedModel.load(path: TinyModel(TinyModelSpec()).writeGGUF())
        let provenance = GraphProvenance(modelPath: "tiny", modelFingerprint: "0", transcoderSet: "clt", transcoderFingerprint: "0",
                                         prompt: "", tokens: clt.tokens, options: AttributionOptions(), engineVersion: Attribution.engineVersion)
        #expect(throws: TranscoderError.layerCountMismatch(set: "tiny-clt", transcoders: 3, modelLayers: 2)) {
            try Attribution.attribute(model: twoLayers.model, transcoders: clt.transcoders, tokens: clt.tokens, options: AttributionOptions(), provenance: provenance)
        }
        let narrow = try TinyTranscoders.randomCrossLayer(layers: 3, width: 8, features: 4)
        #expect(throws: TranscoderError.widthMismatch(set: "tiny-clt", transcoderWidth: 8, modelWidth: 16)) {
            try Attribution.attribute(model: clt.model.model, transcoders: narrow, tokens: clt.tokens, options: AttributionOptions(), provenance: provenance)
        }
    }
}
