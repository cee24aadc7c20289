// What the viewer keeps in memory: unpruned graphs (for the threshold sliders), the views made
// from them (sorted once, then paged), and feature labels per transcoder set.

import Foundation
import GraphStore

/// A graph as the viewer shows it: its nodes and edges at some thresholds, edges strongest first.
final class GraphView: @unchecked Sendable {
    let graph: StoredGraph
    let nodeThreshold: Double
    let edgeThreshold: Double
    let stored: Bool
    /// How long making the view took (ms): reading or re-pruning.
    let milliseconds: Double
    private let lock = NSLock()
    private var sorted: [StoredEdge]?
    private var pages: [String: Data] = [:]

    init(graph: StoredGraph, nodeThreshold: Double, edgeThreshold: Double, stored: Bool, milliseconds: Double) {
        self.graph = graph
        self.nodeThreshold = nodeThreshold
        self.edgeThreshold = edgeThreshold
        self.stored = stored
        self.milliseconds = milliseconds
    }

    static func stronger(_ a: StoredEdge, _ b: StoredEdge) -> Bool {
        abs(a.weight) != abs(b.weight) ? abs(a.weight) > abs(b.weight) : (a.target, a.source) < (b.target, b.source)
    }

    /// Edges `offset..<offset+limit` in order of strength. The first page is selected without
    /// sorting every edge (the unpruned default graph has 3.6 million); later pages sort once.
    func edges(offset: Int, limit: Int) -> ArraySlice<StoredEdge> {
        let all = graph.edges
        if offset == 0 && limit < all.count / 4, lock.withLock({ sorted == nil }) {
            return ArraySlice(Self.strongest(all, limit))
        }
        let order = lock.withLock { () -> [StoredEdge] in
            if let sorted { return sorted }
            let made = all.sorted(by: Self.stronger)
            sorted = made
            return made
        }
        let start = Swift.min(offset, order.count)
        return order[start..<Swift.min(order.count, start + limit)]
    }

    /// The `k` strongest edges, strongest first: a selection of the k-th largest |weight|, then a
    /// sort of the few at or above it.
    static func strongest(_ edges: [StoredEdge], _ k: Int) -> [StoredEdge] {
        guard k > 0 else { return [] }
        var magnitudes = edges.map { abs($0.weight) }
        let cut = kthLargest(&magnitudes, k)
        var chosen = edges.filter { abs($0.weight) >= cut }
        chosen.sort(by: stronger)
        return Array(chosen.prefix(k))
    }

    /// The k-th largest value (1-based) by quickselect; `values` is reordered.
    static func kthLargest(_ values: inout [Float], _ k: Int) -> Float {
        var lo = 0, hi = values.count - 1, target = Swift.min(k, values.count) - 1
        var generator = SystemRandomNumberGenerator()
        while lo < hi {
            let pivot = values[Int.random(in: lo...hi, using: &generator)]
            var i = lo, j = hi
            while i <= j {
                while values[i] > pivot { i += 1 }
                while values[j] < pivot { j -= 1 }
                if i <= j { values.swapAt(i, j); i += 1; j -= 1 }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { return values[target] }
        }
        return values[target]
    }

    /// Each edge's share of its target's input (for paths), worked out once per view.
    var shares: [Int: [(source: Int, share: Double)]] {
        if let known = lock.withLock({ edgeShares }) { return known }
        let made = graph.edgeShares
        lock.withLock { edgeShares = made }
        return made
    }
    private var edgeShares: [Int: [(source: Int, share: Double)]]?

    /// Encoded answers by page and labels version, so repeated reads cost no encoding.
    func page(_ key: String, make: () throws -> Data) rethrows -> Data {
        if let hit = lock.withLock({ pages[key] }) { return hit }
        let data = try make()
        lock.withLock { if pages.count > 64 { pages.removeAll() }; pages[key] = data }
        return data
    }
}

/// The most recently used values by key, at most `capacity` of them.
struct Recent<Key: Equatable, Value> {
    let capacity: Int
    private var entries: [(key: Key, value: Value)] = []
    init(capacity: Int) { self.capacity = capacity }

    mutating func get(_ key: Key) -> Value? {
        guard let i = entries.firstIndex(where: { $0.key == key }) else { return nil }
        let hit = entries.remove(at: i)
        entries.append(hit)
        return hit.value
    }

    mutating func put(_ value: Value, for key: Key) {
        entries.removeAll { $0.key == key }
        entries.append((key, value))
        if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
    }

    mutating func removeAll(where drop: (Key) -> Bool) { entries.removeAll { drop($0.key) } }
}

final class ViewCache: @unchecked Sendable {
    private let lock = NSLock()
    /// Two unpruned graphs (the default one takes about 50 MB) and a dozen views.
    private var unpruned = Recent<Int64, UnprunedGraph>(capacity: 2)
    private var storedGraphs = Recent<Int64, StoredGraph>(capacity: 2)
    private var views = Recent<String, GraphView>(capacity: 12)
    private var labels: [String: [LayerFeature: String]] = [:]

    func view(_ key: String) -> GraphView? { lock.withLock { views.get(key) } }

    func keep(_ view: GraphView, as key: String) { lock.withLock { views.put(view, for: key) } }

    /// A graph as stored (its summary and provenance head every view of it).
    func storedGraph(_ id: Int64, load: () throws -> StoredGraph) throws -> StoredGraph {
        if let hit = lock.withLock({ storedGraphs.get(id) }) { return hit }
        let graph = try load()
        lock.withLock { storedGraphs.put(graph, for: id) }
        return graph
    }

    /// A graph's unpruned form, read once however many requests (and the background read) ask
    /// at the same time: later ones wait for the read under way.
    func unpruned(_ id: Int64, load: () throws -> UnprunedGraph) throws -> UnprunedGraph {
        while true {
            let (hit, underWay, mine) = lock.withLock { () -> (UnprunedGraph?, DispatchGroup?, DispatchGroup?) in
                if let hit = unpruned.get(id) { return (hit, nil, nil) }
                if let group = loading[id] { return (nil, group, nil) }
                let group = DispatchGroup()
                group.enter()
                loading[id] = group
                return (nil, nil, group)
            }
            if let hit { return hit }
            if let underWay { underWay.wait(); continue }   // read (or failed) elsewhere: look again
            defer { lock.withLock { loading[id] = nil }; mine?.leave() }
            let graph = try load()
            lock.withLock { unpruned.put(graph, for: id) }
            return graph
        }
    }
    private var loading: [Int64: DispatchGroup] = [:]

    func labels(_ fingerprint: String, load: () throws -> [LayerFeature: String]) throws -> [LayerFeature: String] {
        if let hit = lock.withLock({ labels[fingerprint] }) { return hit }
        let loaded = try load()
        lock.withLock { labels[fingerprint] = loaded }
        return loaded
    }

    /// Bumped by every change made through the viewer (labels, subgraphs), so cached answers
    /// that carry them are made again.
    private var changes = 0
    var version: Int { lock.withLock { changes } }

    /// After a label changes: labels are read again; views stay, their encoded pages do not.
    func forgetLabels() { lock.withLock { labels.removeAll(); changes += 1 } }

    /// After a subgraph changes.
    func changed() { lock.withLock { changes += 1 } }

    /// After a graph is deleted.
    func forget(graph id: Int64) {
        lock.withLock {
            unpruned.removeAll { $0 == id }
            storedGraphs.removeAll { $0 == id }
            views.removeAll { $0.hasPrefix("\(id)|") }
        }
    }
}
