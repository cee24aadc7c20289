// Feature pages in the store: round trips, labels joined into graphs stored earlier, user labels
// winning and surviving a rebuild, and clear errors.

import Foundation
import Testing
@testable import GraphStore
import GraphExport
import Transcoders
import TestSupport

enum PageFixture {
    /// The tiny trace's model and set, as the store identifies them (fingerprints as in TinyTrace).
    static let identity = SetIdentity(modelFingerprint: "tiny-model", modelPath: "tiny.gguf", architecture: "llama", layers: 2, width: 16,
                                      setFingerprint: "tiny-set", setName: "tiny", setPath: "tiny-set-folder", features: 24)
    static let vocabulary = (0..<258).map { (try? StoreFixture.trace.model.tokenizer.text(of: $0)) ?? "?" }
    /// Two scanned sequences of byte tokens.
    static let sequences = [Array("<Hello, Texas!".utf8).map(Int.init), Array("<Austin & \"Dallas\"".utf8.prefix(14)).map(Int.init)]

    /// Evidence for every feature: feature (l, f) fired `f` times; feature (1, 5) has two contexts.
    static func evidence(labelSeed: Int = 0) -> [FeatureEvidence] {
        (0..<2).flatMap { l in
            (0..<24).map { f -> FeatureEvidence in
                var contexts = [FeatureContext]()
                if l == 1 && f == 5 {
                    contexts = [FeatureContext(sequence: 0, start: 6, activations: [0, 1.5, 3.25, 0.5, 0], peak: 2),
                                FeatureContext(sequence: 1, start: 1, activations: [2.0, 0.25], peak: 0)]
                }
                return FeatureEvidence(layer: l, index: f, tokensScanned: 26, firings: f, activationSum: Double(f) * 1.5,
                                       maxActivation: f == 0 ? 0 : 3.25, contexts: contexts,
                                       promoted: [TokenScore(token: 65 + (f + labelSeed) % 26, score: 2.5), TokenScore(token: 32, score: 1.25)],
                                       suppressed: [TokenScore(token: 10, score: -3)])
            }
        }
    }

    static func save(into store: GraphStore, labelSeed: Int = 0) throws {
        try store.saveFeaturePages(identity, evidence: evidence(labelSeed: labelSeed), sequences: sequences, vocabulary: vocabulary,
                                   corpus: "hand-made", options: "{}", seconds: 1)
    }
}

@Suite struct FeaturePagesTests {
    @Test(arguments: TestStores.backends) func pageRoundTripsWithTextsAndAppearances(backend: String) throws {
        let store = try StoreFixture.store(backend)
        let summary = try StoreFixture.save(into: store)
        try PageFixture.save(into: store)
        let page = try store.featurePage(setFingerprint: "tiny-set", setName: "tiny", layer: 1, index: 5)
        #expect(page.firings == 5 && abs(page.frequency - 5.0 / 26) < 1e-12 && page.meanActivation == 1.5 && page.maxActivation == 3.25)
        #expect(page.set.tokens == 26 && page.set.setName == "tiny")
        #expect(page.contexts.count == 2)
        #expect(page.contexts[0].tokens == [",", " ", "T", "e", "x"] && page.contexts[0].peak == 2)
        #expect(page.contexts[0].activations == [0, 1.5, 3.25, 0.5, 0], "these values are exact in half precision")
        #expect(page.contexts[1].tokens == ["A", "u"])
        #expect(page.promoted.map(\.text) == ["F", " "] && page.suppressed.map(\.text) == ["\n"])
        // The automatic label: what it promotes, then the peak tokens of its contexts.
        #expect(page.label == "→ \"F\", \" \" | on: T, A")
        // Every stored graph where the feature is a node, with its influence there.
        let stored = try store.graph(String(summary.id))
        let nodes = stored.nodes.filter { $0.kind == .feature && $0.layer == 1 && $0.feature == 5 }
        #expect(page.graphs.map(\.slug) == nodes.map { _ in summary.slug })
        #expect(page.graphs.map(\.influence).sorted() == nodes.map(\.influence).sorted())
    }

    @Test(arguments: TestStores.backends) func graphsStoredBeforeThePagesPickUpTheirLabels(backend: String) throws {
        let store = try StoreFixture.store(backend)
        let summary = try StoreFixture.save(into: store)
        let before = try store.graph(String(summary.id))
        #expect(try store.labels(for: before).isEmpty)
        try PageFixture.save(into: store)
        let labels = try store.labels(for: try store.graph(String(summary.id)))
        let feature = try #require(before.nodes.first { $0.kind == .feature })
        let label = try #require(labels[LayerFeature(layer: feature.layer!, feature: feature.feature!)])
        let dot = DOTWriter.dot(before, labels: labels)
        let promoted = try #require(label.components(separatedBy: " | ").first)
        #expect(dot.contains("L\(feature.layer!)/F\(feature.feature!)\\n" + promoted.replacingOccurrences(of: "\"", with: "\\\"")))
        let json = InterchangeExport.graph(before, promptTokens: [], labels: labels)
        #expect(json.nodes.contains { $0.clerp == label })
    }

    @Test(arguments: TestStores.backends) func userLabelsWinAndSurviveARebuild(backend: String) throws {
        let store = try StoreFixture.store(backend)
        try PageFixture.save(into: store)
        try store.setUserLabel("greeting <b>", layer: 1, index: 5, identity: PageFixture.identity)
        try PageFixture.save(into: store, labelSeed: 3)
        let page = try store.featurePage(setFingerprint: "tiny-set", setName: "tiny", layer: 1, index: 5)
        #expect(page.label == "greeting <b>" && page.userLabel == "greeting <b>")
        #expect(page.automaticLabel?.hasPrefix("→ \"I\"") == true, "the rebuild refreshed the automatic label")
        #expect(try store.featureLabels(transcoderFingerprint: "tiny-set")[LayerFeature(layer: 1, feature: 5)] == "greeting <b>")
        try store.setUserLabel(nil, layer: 1, index: 5, identity: PageFixture.identity)
        #expect(try store.featurePage(setFingerprint: "tiny-set", setName: "tiny", layer: 1, index: 5).label == page.automaticLabel)
        // A label may be set before any pages exist.
        let fresh = try StoreFixture.store(backend)
        try fresh.setUserLabel("by hand", layer: 0, index: 3, identity: PageFixture.identity)
        #expect(try fresh.featureLabels(transcoderFingerprint: "tiny-set") == [LayerFeature(layer: 0, feature: 3): "by hand"])
    }

    @Test(arguments: TestStores.backends) func badRequestsAreNamed(backend: String) throws {
        let store = try StoreFixture.store(backend)
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch { return String(describing: error) }
            return "no error"
        }
        #expect(message { _ = try store.featurePage(setFingerprint: "tiny-set", setName: "tiny", layer: 0, index: 0) }
            .contains("no feature pages for transcoder set \"tiny\""))
        try PageFixture.save(into: store)
        let other = message { _ = try store.featurePage(setFingerprint: "other", setName: "other-set", layer: 0, index: 0) }
        #expect(other.contains("no feature pages for transcoder set \"other-set\"") && other.contains("pages exist for \"tiny\""))
        #expect(message { _ = try store.featurePage(setFingerprint: "tiny-set", setName: "tiny", layer: 0, index: 24) }
            .contains("feature 24 is out of range: the set has features 0–23"))
        #expect(message { _ = try store.featurePage(setFingerprint: "tiny-set", setName: "tiny", layer: 2, index: 0) }
            .contains("layer 2 is out of range"))
        #expect(message { try store.setUserLabel("x", layer: 0, index: 99, identity: PageFixture.identity) }.contains("no feature 0/99"))
    }

    @Test func blobsRoundTripAndRejectDamage() throws {
        let contexts = [FeatureContext(sequence: 70_000, start: 300, activations: [0.1, 7.5, 0], peak: 1)]
        let back = try FeaturePageBlobs.decodeContexts(FeaturePageBlobs.encode(contexts: contexts))
        #expect(back.count == 1 && back[0].sequence == 70_000 && back[0].start == 300 && back[0].peak == 1)
        #expect(zip(back[0].activations, contexts[0].activations).allSatisfy { abs($0 - $1) <= 1e-3 * max(1, abs($1)) })
        let lens = try FeaturePageBlobs.decodeLogitLens(FeaturePageBlobs.encode(promoted: [TokenScore(token: 49_151, score: 1.5)],
                                                                               suppressed: [TokenScore(token: 2, score: -0.25)]))
        #expect(lens.promoted == [TokenScore(token: 49_151, score: 1.5)] && lens.suppressed == [TokenScore(token: 2, score: -0.25)])
        let blob = FeaturePageBlobs.encode(contexts: contexts)
        #expect(throws: (any Error).self) { try FeaturePageBlobs.decodeContexts(blob.prefix(blob.count - 1)) }
        #expect(try FeaturePageBlobs.decodeSequences(FeaturePageBlobs.encode(sequences: [[1, 2], [3, 70_000]]), length: 2) == [[1, 2], [3, 70_000]])
    }
}
