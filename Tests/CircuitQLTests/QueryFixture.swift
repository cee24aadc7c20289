// Hand-built graphs with known answers, saved into a store the way `trace` saves graphs.

import Foundation
import GraphStore
import TestSupport

enum QueryFixture {
    static let texas = HandGraph(
        prompt: "The capital of Texas is",
        tokens: ["<s>", "The", " capital", " of", " Texas", " is"],
        features: [(3, 4, 100, 0.05), (12, 4, 1788, 0.04), (15, 5, 7, 0.20), (20, 5, 900, 0.30), (27, 5, 55, 0.005)],
        logits: [(" Austin", 0.6), (" Dallas", 0.1)],
        edges: [("t4", "f0", 2.0), ("t2", "f2", 1.0), ("f0", "f1", 1.5), ("f1", "f3", 1.0), ("f0", "f3", 0.5), ("f2", "f3", -0.5),
                ("f3", "l0", 3.0), ("f2", "l0", 1.0), ("f1", "l1", 0.8), ("f4", "l0", 0.2), ("t5", "f4", 0.4), ("e12@4", "f3", 0.25),
                ("t4", "l1", 0.3)])

    static let france = HandGraph(
        prompt: "The capital of France is",
        tokens: ["<s>", "The", " capital", " of", " France", " is"],
        features: [(3, 4, 101, 0.06), (12, 4, 1788, 0.02), (15, 5, 7, 0.25), (20, 5, 901, 0.30)],
        logits: [(" Paris", 0.7)],
        edges: [("t4", "f0", 1.8), ("t2", "f2", 1.2), ("f0", "f1", 1.0), ("f1", "f3", 0.9), ("f2", "f3", 0.4), ("f3", "l0", 2.5),
                ("f2", "l0", 0.6)])

    static let tea = HandGraph(
        prompt: "I like green tea",
        tokens: ["<s>", "I", " like", " green", " tea"],
        features: [(12, 4, 1788, 0.01), (22, 4, 3, 0.1)],
        logits: [(" and", 0.3), ("'s", 0.1)],
        edges: [("t3", "f0", 0.7), ("f0", "f1", 0.9), ("f1", "l0", 1.1), ("t4", "l0", 0.5)])

    /// A store holding the three graphs (slugs from their prompts).
    static func store(_ backend: String = "sqlite") throws -> GraphStore {
        let store = try TestStores.make(backend)
        for g in [texas, france, tea] { try g.save(into: store) }
        return store
    }
}
