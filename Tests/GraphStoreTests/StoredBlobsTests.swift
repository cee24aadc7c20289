// Stored blobs across versions. Tests/Fixtures/store-unversioned-blobs.sqlite was written by
// Circuitry before its blobs carried versions (schema v5; a real SmolLM2 trace of "The capital of
// Texas is" with 12 feature nodes and 3 logits): it must read, re-prune and re-save exactly. Then:
// today's encodings read back equal, attribution targets in both shapes, fields added later take
// their defaults, and a blob from a newer Circuitry is refused by name.

import Foundation
import GRDB
import Testing
import Attribution
@testable import GraphStore
import TestSupport

@Suite struct StoredBlobsTests {
    static let slug = "texas-small"

    func legacyStore() throws -> (GraphStore, String) {
        let path = temporaryPath(".sqlite")
        try FileManager.default.copyItem(at: Fixtures.url("store-unversioned-blobs.sqlite"), to: URL(fileURLWithPath: path))
        return (try GraphStore(path: path), path)
    }

    @Test func aStoreWrittenBeforeVersionsReads() throws {
        let (store, _) = try legacyStore()
        let g = try store.graph(Self.slug)
        #expect(g.provenance.prompt == "The capital of Texas is")
        #expect(g.provenance.options.maxFeatureNodes == 12 && g.provenance.options.maxLogits == 3 && g.provenance.options.nodeThreshold == 0.8)
        #expect(g.timings.forward > 0)
        #expect(g.nodes.count == 59 && g.edges.count == 426)
        #expect(try store.tokenTexts(Self.slug).prompt == ["<|im_start|>", "The", " capital", " of", " Texas", " is"])
        let full = try store.attributionGraph(Self.slug)
        #expect(full.layout.count == 201 && full.features.count == 12 && full.logits.count == 3)
        // Re-pruned at its own thresholds it is the stored graph.
        let (nodes, edges) = try store.unpruned(Self.slug).pruned(nodeThreshold: 0.8, edgeThreshold: 0.98)
        #expect(nodes.map(\.index) == g.nodes.map(\.index))
        #expect(edges.count == g.edges.count)
    }

    @Test func blobsWrittenNowReadBackTheSame() throws {
        let (legacy, _) = try legacyStore()
        let full = try legacy.attributionGraph(Self.slug)
        let texts = try legacy.tokenTexts(Self.slug)
        var text = [Int: String]()
        for (id, t) in zip(full.provenance.tokens, texts.prompt) { text[id] = t }
        for (logit, t) in zip(full.logits, texts.logits) { text[logit.token] = t }
        let path = temporaryPath(".sqlite")
        let fresh = try GraphStore(path: path)
        try fresh.save(full, slug: "again", context: GraphContext(architecture: "llama", layers: 30, width: 576, transcoderName: "smollm2-default",
                                                                  transcoderFeatures: 4096), tokenText: { text[$0] ?? "?" })
        let again = try fresh.attributionGraph("again")
        #expect(again.provenance == full.provenance && again.timings == full.timings)
        #expect(again.layout == full.layout && again.features == full.features && again.logits == full.logits)
        #expect(again.influence == full.influence && again.adjacency.scalars == full.adjacency.scalars)
        #expect(try fresh.tokenTexts("again").prompt == texts.prompt)
        // Each blob says which version wrote it.
        let row = try DatabaseQueue(path: path).read { db in try Row.fetchOne(db, sql: "SELECT nodes_blob, provenance, timings FROM graph")! }
        let blobs: [Data] = [row["nodes_blob"], Data((row["provenance"] as String).utf8), Data((row["timings"] as String).utf8)]
        for blob in blobs {
            #expect((try JSONSerialization.jsonObject(with: blob) as? [String: Any])?["version"] as? Int == StoredBlobs.version)
        }
    }

    @Test func attributionTargetsInBothShapes() throws {
        var options = AttributionOptions()
        options.targets = [.token(5), .difference(3, minus: 4), .direction([0.5, -1, 0.25], label: "x \"y\" <z>")]
        options.maxFeatureNodes = 40
        let p = GraphProvenance(modelPath: "m.gguf", modelFingerprint: "mf", transcoderSet: "t", transcoderFingerprint: "tf",
                                prompt: "a prompt", tokens: [1, 2, 3], options: options, engineVersion: "e")
        // Before versions, the store held the synthesised encoding.
        let unversioned = String(decoding: try JSONEncoder().encode(p), as: UTF8.self)
        #expect(try StoredBlobs.provenance(unversioned) == p)
        #expect(try StoredBlobs.provenance(StoredBlobs.provenanceText(p)) == p)
    }

    @Test func laterFieldsTakeDefaultsAndNewerVersionsAreRefused() throws {
        let facts = NodeFacts(tokens: [1, 7], layout: NodeLayout(features: 1, layers: 1, positions: 2, logits: 1),
                              features: [ActiveFeature(layer: 0, position: 1, feature: 9, activation: 0.75)], activeFeatureCount: 3,
                              logits: [LogitNode(token: 7, probability: 0.5, demeanedLogit: 1.5)], influence: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
                              tokenTexts: ["<s>", "x"], logitTexts: ["x"])
        var object = try JSONSerialization.jsonObject(with: StoredBlobs.encode(facts)) as! [String: Any]
        object["addedByALaterVersion"] = [1, 2, 3]
        object.removeValue(forKey: "logitTexts")
        let read = try StoredBlobs.facts(JSONSerialization.data(withJSONObject: object))
        #expect(read.features == facts.features && read.logits == facts.logits && read.influence == facts.influence)
        #expect(read.logitTexts == [] && read.tokenTexts == facts.tokenTexts)

        object["version"] = StoredBlobs.version + 1
        #expect(throws: GraphStoreError.self) { try StoredBlobs.facts(JSONSerialization.data(withJSONObject: object)) }

        // Through the store: the graph is named, and so is the reason.
        let (store, path) = try legacyStore()
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: "UPDATE graph SET timings = json_set(timings, '$.version', 9)")
        }
        do {
            _ = try store.graph(Self.slug)
            Issue.record("a graph whose timings are version 9 was read")
        } catch {
            #expect("\(error)".contains("graph \(Self.slug)") && "\(error)".contains("timings: format version 9, written by a newer Circuitry"), "\(error)")
        }
    }
}
