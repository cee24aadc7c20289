// The graph store: exact round trips, re-pruning, concurrent writers and bad store files.

import Foundation
import GRDB
import Testing
import Attribution
@testable import GraphStore
import TensorCore
import TestSupport

/// One tiny traced graph shared by the tests of this file (tracing is the slow part).
enum StoreFixture {
    static let trace: TinyTrace = try! TinyTrace()
    static let graph: AttributionGraph = try! trace.graph("Hi there, Tex!")
    static let context = GraphContext(architecture: "llama", layers: 2, width: 16, transcoderName: "tiny", transcoderFeatures: 24)

    static func store(_ backend: String = "sqlite") throws -> GraphStore { try TestStores.make(backend) }

    @discardableResult
    static func save(_ graph: AttributionGraph = graph, into store: GraphStore, slug: String? = nil) throws -> GraphSummary {
        try store.save(graph, slug: slug, context: context, tokenText: trace.tokenText)
    }
}

func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

@Suite struct GraphStoreRoundTripTests {
    @Test(arguments: TestStores.backends) func savedGraphLoadsBitForBit(backend: String) throws {
        let g = StoreFixture.graph
        let store = try StoreFixture.store(backend)
        let summary = try StoreFixture.save(into: store)
        #expect(summary.slug == "hi-there-tex")

        let back = try store.attributionGraph(summary.slug)
        #expect(bits(back.adjacency.scalars) == bits(g.adjacency.scalars))
        #expect(back.adjacency.shape == g.adjacency.shape)
        #expect(back.layout == g.layout)
        #expect(back.features == g.features)
        #expect(back.activeFeatureCount == g.activeFeatureCount)
        #expect(back.logits == g.logits)
        #expect(bits(back.influence) == bits(g.influence))
        #expect(back.provenance == g.provenance)
        #expect(back.timings == g.timings)
        #expect(back.replacementScore.bitPattern == g.replacementScore.bitPattern)
        #expect(back.completenessScore.bitPattern == g.completenessScore.bitPattern)
        #expect(back.pruning.nodes == g.pruning.nodes)
        // Stored edges are the kept edges with a nonzero weight.
        let keptNonzero = g.pruning.edges.indices.map { g.pruning.edges[$0] && g.adjacency.scalars[$0] != 0 }
        #expect(back.pruning.edges == keptNonzero)

        // The pruned graph's rows: every kept node, every kept edge with its exact weight.
        let stored = try store.graph(String(summary.id))
        let n = g.layout.count
        #expect(stored.nodes.map(\.index) == (0..<n).filter { g.pruning.nodes[$0] })
        #expect(stored.edges.count == keptNonzero.filter { $0 }.count)
        #expect(stored.edges.count > 0)
        for e in stored.edges {
            #expect(e.weight.bitPattern == g.adjacency.scalars[e.target * n + e.source].bitPattern)
        }
        for node in stored.nodes { #expect(node.influence.bitPattern == g.influence[node.index].bitPattern) }
        #expect(summary.nodesKept == stored.nodes.count && summary.edgesKept == stored.edges.count)
        #expect(try store.integrityCheck() == "ok")
    }

    @Test(arguments: TestStores.backends) func numbersReadEveryRowAsSQLiteDoes(backend: String) throws {
        // selectNumbers feeds walks: integers, reals, NULL (as 0) and truth values (0 or 1) in row
        // order; PostgreSQL packs them on the server, so its answer is checked value for value.
        let store = try TestStores.make(backend)
        let rows = """
            SELECT 1 AS a, 2.5 AS b, NULL AS c, (1 = 1) AS d, -7 AS e
            UNION ALL SELECT 3, -0.25, 4, (1 = 0), 9007199254740993
            UNION ALL SELECT ?, ?, 0, (2 > 1), 0
            """
        let (columns, values) = try store.selectNumbers(sql: rows, arguments: [.integer(42), .double(1e-300)])
        #expect(columns == 5)
        #expect(values == [1, 2.5, 0, 1, -7, 3, -0.25, 4, 0, 9007199254740993, 42, 1e-300, 0, 1, 0])
        let none = try store.selectNumbers(sql: "SELECT 1 AS a WHERE 1 = 0", arguments: [])
        #expect(none.values.isEmpty)
        #expect(throws: GraphStoreError.self) { try store.selectNumbers(sql: "SELECT 1 AS a, 'text' AS b", arguments: []) }
    }

    @Test func sparseAdjacencyIsExactAndRejectsDamage() throws {
        var a = try Tensor(zeros: [5, 5])
        a.scalars[3] = -0.0
        a.scalars[7] = .leastNonzeroMagnitude
        a.scalars[8] = 1
        a.scalars[12] = -3.25
        a.scalars[24] = .greatestFiniteMagnitude
        let blob = try SparseAdjacency.encode(a)
        #expect(bits(try SparseAdjacency.decode(blob, graph: "g").scalars) == bits(a.scalars))
        // A larger random matrix with causal-cone-like runs, bit for bit.
        var random = TestRandom(seed: 3)
        var big = try Tensor(zeros: [300, 300])
        let noise = random.uniform([300 * 300], -1, 1).scalars
        for r in 0..<300 { for c in 0..<min(r, 200) where noise[r * 300 + c] > -0.8 { big.scalars[r * 300 + c] = noise[r * 300 + c] * 1e-3 } }
        let bigBlob = try SparseAdjacency.encode(big)
        #expect(bits(try SparseAdjacency.decode(bigBlob, graph: "g").scalars) == bits(big.scalars))
        let nonzero = big.scalars.filter { $0 != 0 }.count
        #expect(bigBlob.count < 4 * nonzero, "\(bigBlob.count) bytes for \(nonzero) values")

        // Damage anywhere is an error, never a crash or wrong weights.
        for (damaged, reason) in [(blob.dropLast(2), "sizes do not match"), (blob + Data([0]), "sizes do not match"),
                                  (Data("JUNK".utf8) + blob.dropFirst(4), "bad header"), (blob.prefix(14), "truncated header")] as [(Data, String)] {
            let error = #expect(throws: GraphStoreError.self) { try SparseAdjacency.decode(damaged, graph: "g") }
            #expect(error.map { "\($0)".contains(reason) } == true, "\(String(describing: error))")
        }
        for offset in stride(from: 28, to: bigBlob.count, by: max(1, bigBlob.count / 40)) {
            var flipped = bigBlob
            flipped[offset] ^= 0x5a
            if let decoded = try? SparseAdjacency.decode(flipped, graph: "g") {
                // Deflate's checksum catches changed bytes; anything that decodes must be the original.
                #expect(bits(decoded.scalars) == bits(big.scalars))
            }
        }

        // Found by fuzzing: a header claiming 63,000 nodes asked for a 16 GB dense matrix, and
        // declared sizes far beyond what zlib can expand asked for more. Both are refused first.
        func header(_ fields: [UInt32]) -> Data {
            var d = Data("CADJ".utf8)
            for f in fields { withUnsafeBytes(of: f.littleEndian) { d.append(contentsOf: $0) } }
            return d
        }
        let saved = GraphStore.adjacencyMemoryLimit
        GraphStore.adjacencyMemoryLimit = 1e9
        defer { GraphStore.adjacencyMemoryLimit = saved }
        let huge = header([2, 63_000, 0, 0, 0, 0]) + Data([0])
        #expect { try SparseAdjacency.decode(huge, graph: "g") } throws: { "\($0)".contains("63000 nodes need 15.9 GB") }
        let inflated = header([2, 300, 10, 800_000, 4, 0]) + Data([0, 0, 0, 0])
        #expect { try SparseAdjacency.decode(inflated, graph: "g") } throws: { "\($0)".contains("sizes do not match") }

        // Version 1 blobs (a bitmap and raw values) still read.
        var v1 = Data("CADJ".utf8)
        for field in [UInt32(1), 5] { withUnsafeBytes(of: field.littleEndian) { v1.append(contentsOf: $0) } }
        var bitmap = [UInt8](repeating: 0, count: 5), values = [Float]()
        for r in 0..<5 { for c in 0..<5 where a.scalars[r * 5 + c].bitPattern != 0 { bitmap[r] |= UInt8(1 << c); values.append(a.scalars[r * 5 + c]) } }
        v1.append(contentsOf: bitmap)
        values.withUnsafeBytes { v1.append(contentsOf: $0) }
        #expect(bits(try SparseAdjacency.decode(v1, graph: "g").scalars) == bits(a.scalars))
        #expect(throws: GraphStoreError.invalidBlob(graph: "g", reason: "truncated values")) { try SparseAdjacency.decode(v1.dropLast(2), graph: "g") }
    }

    @Test(arguments: TestStores.backends) func repruningReproducesAndChangesThePrunedGraph(backend: String) throws {
        let g = StoreFixture.graph
        let store = try StoreFixture.store(backend)
        let saved = try StoreFixture.save(into: store)
        let before = try store.graph(saved.slug)

        let same = try store.reprune(saved.slug, nodeThreshold: g.provenance.options.nodeThreshold,
                                     edgeThreshold: g.provenance.options.edgeThreshold)
        let again = try store.graph(saved.slug)
        #expect(again.nodes == before.nodes && again.edges == before.edges)
        #expect(same.nodesKept == saved.nodesKept && same.edgesKept == saved.edgesKept)

        // Lower thresholds keep fewer nodes; the kept set is what pruning the stored adjacency gives.
        let tighter = try store.reprune(saved.slug, nodeThreshold: 0.3, edgeThreshold: 0.5)
        let expected = try Influence.prune(adjacency: g.adjacency, layout: g.layout, logitProbabilities: g.logits.map(\.probability),
                                           nodeThreshold: 0.3, edgeThreshold: 0.5)
        let pruned = try store.graph(saved.slug)
        #expect(pruned.nodes.map(\.index) == (0..<g.layout.count).filter { expected.nodes[$0] })
        #expect(tighter.nodesKept < saved.nodesKept)
        #expect(tighter.nodeThreshold == 0.3 && tighter.edgeThreshold == 0.5)
        #expect(pruned.provenance.options.nodeThreshold == 0.3)
        // The unpruned graph is untouched by re-pruning.
        #expect(bits(try store.attributionGraph(saved.slug).adjacency.scalars) == bits(g.adjacency.scalars))

        #expect(throws: GraphStoreError.self) { try store.reprune(saved.slug, nodeThreshold: 1.5, edgeThreshold: 0.5) }
        #expect(throws: GraphStoreError.self) { try store.reprune(saved.slug, nodeThreshold: 0.5, edgeThreshold: -0.1) }
    }

    @Test(arguments: TestStores.backends) func slugsAreUniqueAndDeleteRemovesEverything(backend: String) throws {
        let store = try StoreFixture.store(backend)
        let a = try StoreFixture.save(into: store)
        let b = try StoreFixture.save(into: store)
        #expect(a.slug == "hi-there-tex" && b.slug == "hi-there-tex-2")
        #expect(throws: GraphStoreError.invalidRequest("slug \"hi-there-tex\" is already used in \(store.path)")) {
            try StoreFixture.save(into: store, slug: "hi-there-tex")
        }
        #expect(throws: GraphStoreError.self) { try StoreFixture.save(into: store, slug: "42") }
        #expect(throws: GraphStoreError.self) { try StoreFixture.save(into: store, slug: "") }
        #expect(try store.list().map(\.slug) == ["hi-there-tex-2", "hi-there-tex"])

        try store.delete(a.slug)
        #expect(try store.list().map(\.id) == [b.id])
        #expect(throws: GraphStoreError.unknownGraph(a.slug)) { try store.graph(a.slug) }
        let orphans = try store.read { db in
            try db.scalar("SELECT (SELECT count(*) FROM node WHERE graph_id = ?) + (SELECT count(*) FROM edge WHERE graph_id = ?)",
                          [a.id, a.id]) as Int?
        }
        #expect(orphans == 0)
    }
}

@Suite struct GraphStoreConcurrencyAndErrorTests {
    @Test(arguments: TestStores.backends) func twoConnectionsWritingAtOnceBothLand(backend: String) async throws {
        let path = try TestStores.location(backend)
        let stores = [try GraphStore.open(path), try GraphStore.open(path)]
        let graph = StoreFixture.graph
        try await withThrowingTaskGroup(of: Void.self) { group in
            for store in stores {
                group.addTask {
                    for _ in 0..<4 { try StoreFixture.save(graph, into: store) }
                }
            }
            try await group.waitForAll()
        }
        let all = try GraphStore.open(path).list()
        #expect(all.count == 8)
        #expect(Set(all.map(\.slug)).count == 8)
        #expect(try stores[0].integrityCheck() == "ok")
    }

    @Test(arguments: TestStores.backends) func manyConnectionsOpeningANewStoreAtOnceAllSucceed(backend: String) async throws {
        for _ in 0..<5 {
            let path = try TestStores.location(backend)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<6 { group.addTask { _ = try GraphStore.open(path).list() } }
                try await group.waitForAll()
            }
        }
    }

    @Test(arguments: TestStores.backends) func unknownGraphsAreNamed(backend: String) throws {
        let store = try StoreFixture.store(backend)
        try StoreFixture.save(into: store)
        for key in ["no-such-graph", "999", ""] {
            #expect(throws: GraphStoreError.unknownGraph(key)) { try store.graph(key) }
        }
        #expect(throws: GraphStoreError.unknownGraph("nope")) { try store.delete("nope") }
        #expect(throws: GraphStoreError.unknownGraph("nope")) { try store.reprune("nope", nodeThreshold: 0.5, edgeThreshold: 0.5) }
        #expect(GraphStoreError.unknownGraph("nope").description.contains("circuitry graphs list"))
    }

    @Test func aFileThatIsNotAStoreIsRefused() throws {
        let path = temporaryPath(".sqlite")
        var random = TestRandom(seed: 4)
        let junk = Data(random.uniform([4096], 0, 1).scalars.map { UInt8(Int($0 * 255)) })
        try junk.write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: GraphStoreError.self) { try GraphStore(path: path) }
        guard case .corrupt(let p, _)? = error else { Issue.record("expected .corrupt, got \(String(describing: error))"); return }
        #expect(p == path)
    }

    @Test func aTruncatedStoreIsRefusedWhenRead() throws {
        let path = temporaryPath(".sqlite")
        do {
            let store = try GraphStore(path: path)
            for _ in 0..<3 { try StoreFixture.save(into: store) }
            try store.checkpoint()
        }
        let full = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(full.count > 8 * 4096)
        try full.prefix(3 * 4096).write(to: URL(fileURLWithPath: path))
        try? FileManager.default.removeItem(atPath: path + "-wal")
        try? FileManager.default.removeItem(atPath: path + "-shm")
        // Opening may succeed (SQLite reads pages lazily); reading the graphs must fail clearly.
        let error = #expect(throws: GraphStoreError.self) {
            let store = try GraphStore(path: path)
            for summary in try store.list() { _ = try store.attributionGraph(summary.slug) }
            _ = try store.integrityCheck() == "ok" ? () : { throw GraphStoreError.corrupt(path: path, reason: "integrity check") }()
        }
        guard case .corrupt? = error else { Issue.record("expected .corrupt, got \(String(describing: error))"); return }
    }

    @Test(arguments: TestStores.backends) func aStoreFromANewerSchemaIsRefused(backend: String) throws {
        let path = try TestStores.location(backend)
        let shown: String
        do {
            let store = try GraphStore.open(path)
            shown = store.path
            try store.write { db in try db.execute("INSERT INTO \(store.dialect.migrationsTable) (identifier) VALUES ('v9 from the future')") }
        }
        #expect(throws: GraphStoreError.newerSchema(path: shown)) { try GraphStore.open(path) }
        #expect(throws: GraphStoreError.newerSchema(path: shown)) { try GraphStore.open(path, readOnly: true) }
    }

    @Test func aStorePathThatCannotBeOpenedIsNamed() throws {
        let folder = temporaryPath("-folder")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let error = #expect(throws: GraphStoreError.self) { try GraphStore(path: folder) }
        #expect(error.map { String(describing: $0).hasPrefix(folder) } == true)
        // A store inside a regular file's "folder".
        let file = temporaryPath(".txt")
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        let nested = #expect(throws: GraphStoreError.self) { try GraphStore(path: file + "/store.sqlite") }
        guard case .cannotOpen? = nested else { Issue.record("expected .cannotOpen, got \(String(describing: nested))"); return }
    }
}
