// Walks over one graph's edges, in memory: the strongest paths first (exact), every path (capped),
// or path counts (dynamic programming). The graph is acyclic in practice, but nothing here relies
// on it: every walk is bounded by its maximum length.
//
// Strongest first is A* with an exact bound. For every node v and every number of remaining steps
// j, best[j][v] is the largest product of shares over paths of exactly j edges from v to an
// allowed end (1 at an end for j = 0); a partial path of strength s at v after h steps can at best
// become s · max_{j: min ≤ h+j ≤ max} best[j][v]. Paths are expanded in order of that bound and a
// complete path is emitted when it is taken from the queue, so paths come out strongest first and
// the k-th is found after expanding little more than the k best paths' prefixes. Flags (ANY/NONE
// conditions) are not part of the bound, so it stays an upper bound: still exact, maybe slower.

/// One graph's steppable edges in compressed rows (by source), with local node numbers.
struct WalkGraph {
    /// Local number → store index (node.idx).
    var nodeIndex: [Int64]
    /// Edges of local node v: offsets[v] ..< offsets[v + 1].
    var offsets: [Int]
    var targets: [Int32]
    var weights: [Double]
    var shares: [Double]
    /// Bit i: flag i's condition holds on this edge (and its target node).
    var flagBits: [UInt32]

    var nodeCount: Int { nodeIndex.count }

    /// Builds the rows from (source, target, weight, share, flags) edges over store indices.
    init(edges: [(source: Int64, target: Int64, weight: Double, share: Double, flags: UInt32)], nodes: [Int64]) {
        var local = [Int64: Int32]()
        var index = [Int64]()
        func number(_ idx: Int64) -> Int32 {
            if let n = local[idx] { return n }
            let n = Int32(index.count)
            local[idx] = n
            index.append(idx)
            return n
        }
        for idx in nodes { _ = number(idx) }
        for e in edges { _ = number(e.source); _ = number(e.target) }
        var counts = [Int](repeating: 0, count: index.count + 1)
        for e in edges { counts[Int(local[e.source]!) + 1] += 1 }
        for v in 0..<index.count { counts[v + 1] += counts[v] }
        var fill = counts
        var targets = [Int32](repeating: 0, count: edges.count), weights = [Double](repeating: 0, count: edges.count)
        var shares = [Double](repeating: 0, count: edges.count), flagBits = [UInt32](repeating: 0, count: edges.count)
        for e in edges {
            let v = Int(local[e.source]!)
            let slot = fill[v]
            fill[v] += 1
            targets[slot] = local[e.target]!
            weights[slot] = e.weight
            shares[slot] = e.share
            flagBits[slot] = e.flags
        }
        self.nodeIndex = index
        self.offsets = counts
        self.targets = targets
        self.weights = weights
        self.shares = shares
        self.flagBits = flagBits
        self.localNumber = local
    }

    /// Store index → local number.
    var localNumber: [Int64: Int32]
}

/// A found path: local node numbers (start first) and the edges taken.
struct WalkPath {
    var start: Int32
    var edges: [Int]
    var finish: Int32
    var strength: Double
    var flags: UInt32
}

/// A count of paths sharing start, finish, length and flags.
struct WalkCount {
    var start: Int32
    var finish: Int32
    var hops: Int
    var flags: UInt32
    var paths: Int64
}

/// What a walk is allowed to do: its ends, its length, how its flags combine.
struct WalkSpec {
    var starts: [Int32]
    /// nil: any node may end the walk.
    var ends: Set<Int32>?
    var minHops: Int
    var maxHops: Int
    /// Bits of flags that combine with AND (start true); the others combine with OR (start false).
    var andFlags: UInt32

    func isEnd(_ v: Int32) -> Bool { ends?.contains(v) ?? true }
}

enum WalkSearchError: Error {
    case deadline
    case tooMany(Int)
}

/// Checked often inside long loops: throws once the query's time is up.
struct Deadline: Sendable {
    let end: Double?
    init(seconds: Double?) { end = seconds.map { Deadline.now() + $0 } }
    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
    var passed: Bool { end.map { Deadline.now() > $0 } ?? false }
    func check() throws { if passed { throw WalkSearchError.deadline } }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension WalkGraph {
    /// best[j][v] as above, folded into bound[h][v] = the best completion after h steps (−∞: none).
    func completionBounds(_ spec: WalkSpec) -> [[Double]] {
        let n = nodeCount
        var best = [[Double]](repeating: [Double](repeating: -.infinity, count: n), count: spec.maxHops + 1)
        for v in 0..<n where spec.isEnd(Int32(v)) { best[0][v] = 1 }
        if spec.maxHops > 0 {
            for j in 1...spec.maxHops {
                for v in 0..<n {
                    var b = -Double.infinity
                    for slot in offsets[v]..<offsets[v + 1] {
                        let next = best[j - 1][Int(targets[slot])]
                        if next > -.infinity { b = max(b, shares[slot] * next) }
                    }
                    best[j][v] = b
                }
            }
        }
        var bound = [[Double]](repeating: [Double](repeating: -.infinity, count: n), count: spec.maxHops + 1)
        for h in 0...spec.maxHops {
            let lo = max(0, spec.minHops - h, h == 0 ? 1 : 0), hi = spec.maxHops - h
            guard lo <= hi else { continue }
            for v in 0..<n {
                var b = -Double.infinity
                for j in lo...hi { b = max(b, best[j][v]) }
                bound[h][v] = b
            }
        }
        return bound
    }

    func combine(_ flags: UInt32, _ edge: Int, andFlags: UInt32) -> UInt32 {
        let bits = flagBits[edge]
        return (flags & bits & andFlags) | ((flags | bits) & ~andFlags)
    }
}

/// Paths of one graph, strongest first, produced on demand.
struct StrongestPaths {
    let graph: WalkGraph
    let spec: WalkSpec
    let bound: [[Double]]
    // The search tree: each entry extends its parent by one edge.
    var parent = [Int32](), node = [Int32](), edge = [Int32](), hops = [UInt8](), strength = [Double](), flags = [UInt32]()
    var queue = MaxHeap()

    init(graph: WalkGraph, spec: WalkSpec) {
        self.graph = graph
        self.spec = spec
        bound = graph.completionBounds(spec)
        for s in spec.starts where bound[0][Int(s)] > -.infinity {
            let entry = add(parent: -1, node: s, edge: -1, hops: 0, strength: 1, flags: spec.andFlags)
            queue.push(bound[0][Int(s)], entry: entry, complete: false)
        }
    }

    mutating func add(parent p: Int32, node v: Int32, edge e: Int32, hops h: Int, strength s: Double, flags f: UInt32) -> Int32 {
        parent.append(p); node.append(v); edge.append(e); hops.append(UInt8(h)); strength.append(s); flags.append(f)
        return Int32(node.count - 1)
    }

    /// The strength of the next path, without taking it (nil when there are no more).
    mutating func peekStrength(_ deadline: Deadline) throws -> Double? {
        try advance(deadline)
        return queue.top.map { strength[Int($0.entry)] }
    }

    /// The next path, strongest first.
    mutating func next(_ deadline: Deadline) throws -> WalkPath? {
        try advance(deadline)
        guard let top = queue.pop() else { return nil }
        var edges = [Int](), e = top.entry
        while edge[Int(e)] >= 0 { edges.append(Int(edge[Int(e)])); e = parent[Int(e)] }
        return WalkPath(start: node[Int(e)], edges: edges.reversed(), finish: node[Int(top.entry)],
                        strength: strength[Int(top.entry)], flags: flags[Int(top.entry)])
    }

    /// Expands partial paths until a complete one is at the top of the queue.
    mutating func advance(_ deadline: Deadline) throws {
        var steps = 0
        while let top = queue.top, !top.complete {
            steps += 1
            if steps & 4095 == 0 { try deadline.check() }
            _ = queue.pop()
            let entry = Int(top.entry), v = Int(node[entry]), h = Int(hops[entry])
            if h >= max(spec.minHops, 1) && spec.isEnd(Int32(v)) { queue.push(strength[entry], entry: top.entry, complete: true) }
            guard h < spec.maxHops else { continue }
            for slot in graph.offsets[v]..<graph.offsets[v + 1] {
                let t = graph.targets[slot], b = bound[h + 1][Int(t)]
                guard b > -.infinity else { continue }
                let s = strength[entry] * graph.shares[slot]
                let child = add(parent: top.entry, node: t, edge: Int32(slot), hops: h + 1, strength: s,
                                flags: graph.combine(flags[entry], slot, andFlags: spec.andFlags))
                queue.push(s * b, entry: child, complete: false)
            }
        }
    }
}

/// A binary max-heap of search entries keyed by a priority.
struct MaxHeap {
    struct Item { var priority: Double; var entry: Int32; var complete: Bool }
    var items = [Item]()

    var top: Item? { items.first }

    mutating func push(_ priority: Double, entry: Int32, complete: Bool) {
        items.append(Item(priority: priority, entry: entry, complete: complete))
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard Self.before(items[i], items[p]) else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> Item? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && Self.before(items[l], items[m]) { m = l }
                if r < items.count && Self.before(items[r], items[m]) { m = r }
                guard m != i else { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return first
    }

    /// Higher priority first; at equal priority a complete path before a partial one (so ties
    /// come out without expanding what cannot beat them).
    static func before(_ a: Item, _ b: Item) -> Bool {
        a.priority > b.priority || (a.priority == b.priority && a.complete && !b.complete)
    }
}

extension WalkGraph {
    /// Every path the spec allows, depth first; more than `cap` is an error.
    func allPaths(_ spec: WalkSpec, cap: Int, deadline: Deadline, _ emit: (WalkPath) -> Void) throws {
        let bound = completionBounds(spec)
        var count = 0
        var stack = [Int]()
        func visit(_ start: Int32, _ v: Int32, _ h: Int, _ s: Double, _ f: UInt32) throws {
            if h >= max(spec.minHops, 1) && spec.isEnd(v) {
                count += 1
                if count > cap { throw WalkSearchError.tooMany(cap) }
                if count & 4095 == 0 { try deadline.check() }
                emit(WalkPath(start: start, edges: stack, finish: v, strength: s, flags: f))
            }
            guard h < spec.maxHops else { return }
            for slot in offsets[Int(v)]..<offsets[Int(v) + 1] where bound[h + 1][Int(targets[slot])] > -.infinity {
                stack.append(slot)
                try visit(start, targets[slot], h + 1, s * shares[slot], combine(f, slot, andFlags: spec.andFlags))
                stack.removeLast()
            }
        }
        for s in spec.starts where bound[0][Int(s)] > -.infinity { try visit(s, s, 0, 1, spec.andFlags) }
    }

    /// Paths counted by (start, finish, length, flags), step by step from each start.
    func pathCounts(_ spec: WalkSpec, deadline: Deadline) throws -> [WalkCount] {
        let bound = completionBounds(spec)
        var out = [WalkCount]()
        for s in spec.starts where bound[0][Int(s)] > -.infinity {
            var frontier: [UInt64: Int64] = [Self.key(s, spec.andFlags): 1]
            for h in 1...spec.maxHops {
                try deadline.check()
                var next = [UInt64: Int64]()
                for (key, paths) in frontier {
                    let v = Int(key >> 32), f = UInt32(truncatingIfNeeded: key)
                    for slot in offsets[v]..<offsets[v + 1] where bound[h][Int(targets[slot])] > -.infinity {
                        let k = Self.key(targets[slot], combine(f, slot, andFlags: spec.andFlags))
                        let (sum, overflow) = next[k, default: 0].addingReportingOverflow(paths)
                        if overflow { throw WalkSearchError.tooMany(Int.max) }
                        next[k] = sum
                    }
                }
                if h >= spec.minHops {
                    for (key, paths) in next where spec.isEnd(Int32(key >> 32)) {
                        out.append(WalkCount(start: s, finish: Int32(key >> 32), hops: h, flags: UInt32(truncatingIfNeeded: key), paths: paths))
                    }
                }
                frontier = next
                if frontier.isEmpty { break }
            }
        }
        return out
    }

    static func key(_ v: Int32, _ flags: UInt32) -> UInt64 { UInt64(UInt32(v)) << 32 | UInt64(flags) }
}
