// Views of a stored graph that change nothing in the store: the graph re-pruned in memory at other
// thresholds (the viewer's sliders), and saved subgraphs (pinned nodes and supernodes).

import Attribution
import Foundation
import TensorCore

/// A stored graph's complete adjacency and node facts, read once, to prune in memory as often as
/// asked without writing to the store.
public struct UnprunedGraph: Sendable {
    public let graph: AttributionGraph
    let facts: NodeFacts

    /// The nodes and edges kept at these thresholds (the same as `graphs prune` would store).
    public func pruned(nodeThreshold: Double, edgeThreshold: Double) throws -> (nodes: [StoredNode], edges: [StoredEdge]) {
        guard (0...1).contains(nodeThreshold), (0...1).contains(edgeThreshold) else {
            throw GraphStoreError.invalidRequest("thresholds must be between 0 and 1")
        }
        // The stored node influence is the unpruned graph's (as `Influence.nodeInfluence` gives it).
        let known = facts.influence.count == graph.layout.count && facts.importedShares == nil ? facts.influence : nil
        let pruning = try Influence.prune(adjacency: graph.adjacency, layout: graph.layout, logitProbabilities: graph.logits.map(\.probability),
                                          nodeThreshold: nodeThreshold, edgeThreshold: edgeThreshold, influence: known)
        return (GraphStore.storedNodes(facts: facts, kept: pruning.nodes), GraphStore.storedEdges(graph.adjacency, kept: pruning.edges, n: graph.layout.count))
    }
}

/// Pinned nodes and named supernodes of a graph, saved under a name. Nodes are the graph's node
/// indices (fixed for a graph whatever its pruning); a supernode groups pinned nodes.
public struct StoredSubgraph: Codable, Sendable, Equatable {
    public struct Supernode: Codable, Sendable, Equatable {
        public var name: String
        public var members: [Int]
        public init(name: String, members: [Int]) { self.name = name; self.members = members }
    }
    public var name: String
    public var pinned: [Int]
    public var supernodes: [Supernode]
    public var updatedAt: String?

    public init(name: String, pinned: [Int], supernodes: [Supernode], updatedAt: String? = nil) {
        self.name = name
        self.pinned = pinned
        self.supernodes = supernodes
        self.updatedAt = updatedAt
    }

    /// The most nodes a subgraph may pin and the longest name it or a supernode may have.
    public static let maxNodes = 10_000
    public static let maxName = 200
}

extension GraphStore {
    /// The graph's unpruned form, for re-pruning in memory.
    public func unpruned(_ key: String) throws -> UnprunedGraph {
        let graph = try attributionGraph(key)
        let facts = try read { db -> NodeFacts in
            let id = try GraphStore.resolve(key, db)
            let row = try db.row("SELECT nodes_blob FROM graph WHERE id = ?", [id])!
            return try GraphStore.facts(row, graph: key, adjacency: false).0
        }
        return UnprunedGraph(graph: graph, facts: facts)
    }

    /// The graph's saved subgraphs, by name.
    public func subgraphs(_ key: String) throws -> [StoredSubgraph] {
        try read { db in
            let id = try GraphStore.resolve(key, db)
            return try db.rows("SELECT name, content, updated_at FROM subgraph WHERE graph_id = ? ORDER BY name", [id]).map { row in
                let name: String = try row.value("name", graph: key)
                do {
                    var s = try JSONDecoder().decode(SubgraphContent.self, from: Data((try row.value("content", graph: key) as String).utf8)).subgraph(name: name)
                    s.updatedAt = try row.value("updated_at", graph: key)
                    return s
                } catch let error as GraphStoreError { throw error } catch {
                    throw GraphStoreError.damagedRow(graph: key, reason: "subgraph \"\(name)\" does not decode")
                }
            }
        }
    }

    /// Saves (or replaces) a subgraph of a graph; its nodes must be the graph's, each supernode's
    /// members pinned, and no node in two supernodes.
    @discardableResult
    public func saveSubgraph(_ subgraph: StoredSubgraph, of key: String) throws -> StoredSubgraph {
        let name = subgraph.name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= StoredSubgraph.maxName else {
            throw GraphStoreError.invalidRequest("a subgraph needs a name of 1–\(StoredSubgraph.maxName) characters")
        }
        guard subgraph.pinned.count <= StoredSubgraph.maxNodes else {
            throw GraphStoreError.invalidRequest("a subgraph may pin at most \(StoredSubgraph.maxNodes) nodes")
        }
        let pinned = Set(subgraph.pinned)
        var grouped = Set<Int>()
        for s in subgraph.supernodes {
            let label = s.name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !label.isEmpty, label.count <= StoredSubgraph.maxName else {
                throw GraphStoreError.invalidRequest("a supernode needs a name of 1–\(StoredSubgraph.maxName) characters")
            }
            guard !s.members.isEmpty else { throw GraphStoreError.invalidRequest("supernode \"\(label)\" has no members") }
            for m in s.members {
                guard pinned.contains(m) else { throw GraphStoreError.invalidRequest("supernode \"\(label)\" groups node \(m), which is not pinned") }
                guard grouped.insert(m).inserted else { throw GraphStoreError.invalidRequest("node \(m) is in two supernodes") }
            }
        }
        let content = SubgraphContent(version: 1, pinned: subgraph.pinned,
                                      supernodes: subgraph.supernodes.map { .init(name: $0.name.trimmingCharacters(in: .whitespacesAndNewlines), members: $0.members) })
        let text = String(decoding: try JSONEncoder().encode(content), as: UTF8.self)
        let now = ISO8601DateFormatter().string(from: Date())
        try write { db in
            let id = try GraphStore.resolve(key, db)
            let count: Int = try db.scalar("SELECT nodes_total FROM graph WHERE id = ?", [id]) ?? 0
            if let bad = subgraph.pinned.first(where: { !(0..<count).contains($0) }) {
                throw GraphStoreError.invalidRequest("node \(bad) is not a node of graph \"\(key)\" (it has nodes 0–\(count - 1))")
            }
            try db.execute("""
                INSERT INTO subgraph (graph_id, name, content, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (graph_id, name) DO UPDATE SET content = excluded.content, updated_at = excluded.updated_at
                """, [id, name, text, now])
        }
        return StoredSubgraph(name: name, pinned: content.pinned, supernodes: content.supernodes, updatedAt: now)
    }

    /// Deletes a graph's subgraph; an unknown name is an error.
    public func deleteSubgraph(_ name: String, of key: String) throws {
        try write { db in
            let id = try GraphStore.resolve(key, db)
            if try db.execute("DELETE FROM subgraph WHERE graph_id = ? AND name = ?", [id, name]) == 0 { throw GraphStoreError.invalidRequest("graph \"\(key)\" has no subgraph \"\(name)\"") }
        }
    }

    /// Sets (or with nil, removes) the user's label of a feature of a set already in the store.
    public func setUserLabel(_ label: String?, layer: Int, index: Int, setFingerprint: String) throws {
        let identity = try read { db -> SetIdentity in
            guard let row = try db.row("""
                SELECT t.fingerprint, t.name, t.path, t.features, m.fingerprint AS model_fingerprint, m.path AS model_path, m.architecture,
                    m.layers, m.width FROM transcoder_set t JOIN model m ON m.id = t.model_id WHERE t.fingerprint = ?
                """, [setFingerprint]) else {
                throw GraphStoreError.invalidRequest("no transcoder set with fingerprint \(setFingerprint) in the store")
            }
            return SetIdentity(modelFingerprint: try row.value("model_fingerprint"), modelPath: try row.value("model_path"),
                               architecture: try row.value("architecture"), layers: try row.value("layers"), width: try row.value("width"),
                               setFingerprint: try row.value("fingerprint"), setName: try row.value("name"), setPath: try row.value("path"),
                               features: try row.value("features"))
        }
        try setUserLabel(label, layer: layer, index: index, identity: identity)
    }
}

/// A subgraph's stored form: versioned, so later fields can be added without losing old rows.
struct SubgraphContent: Codable {
    var version: Int
    var pinned: [Int]
    var supernodes: [StoredSubgraph.Supernode]

    func subgraph(name: String, updatedAt: String? = nil) throws -> StoredSubgraph {
        guard version == 1 else { throw GraphStoreError.invalidRequest("subgraph \"\(name)\" was saved by a newer version (encoding \(version))") }
        return StoredSubgraph(name: name, pinned: pinned, supernodes: supernodes, updatedAt: updatedAt)
    }
}

extension UnprunedGraph {
    /// Each node's cumulative influence share (as stored graphs give it for their kept nodes).
    public var cumulativeShares: [Int: Float] { facts.cumulativeShares }
}

extension StoredGraph {
    /// This graph with other nodes and edges (a view at other thresholds); cumulative influence
    /// comes from `shares`, restricted to the kept nodes.
    public func replacing(nodes: [StoredNode], edges: [StoredEdge], shares: [Int: Float]) -> StoredGraph {
        var g = self
        g.nodes = nodes
        g.edges = edges
        var kept = [Int: Float]()
        for n in nodes { kept[n.index] = shares[n.index] ?? 0 }
        g.cumulativeInfluence = kept
        return g
    }
}
