// Strongest paths through a stored graph.
//
// A path's strength is the product, over its edges, of each edge's share of its target's total
// absolute input among the graph's kept edges: |A[t, s]| / Σ_s' |A[t, s']|. It is 1 for a chain
// of sole inputs and shrinks as inputs are shared; it never exceeds the weakest edge's share.
// The k strongest paths from any token to a target are found by dynamic programming over the
// acyclic graph, keeping the k best partial paths per node.

extension StoredGraph {
    /// Each kept edge's share of its target's total absolute input, by (source, target).
    public var edgeShares: [Int: [(source: Int, share: Double)]] {
        var totals = [Int: Double]()
        for e in edges { totals[e.target, default: 0] += Double(abs(e.weight)) }
        var incoming = [Int: [(source: Int, share: Double)]]()
        for e in edges where totals[e.target]! > 0 {
            incoming[e.target, default: []].append((e.source, Double(abs(e.weight)) / totals[e.target]!))
        }
        return incoming
    }

    /// The `k` strongest paths from a token node to `target` (node indices, token first).
    /// `shares` may pass `edgeShares` when it is already at hand.
    public func strongestPaths(to target: Int, k: Int = 3, shares: [Int: [(source: Int, share: Double)]]? = nil) -> [(nodes: [Int], strength: Double)] {
        let incoming = (shares ?? edgeShares).mapValues { $0.map { (next: $0.source, share: $0.share) } }
        let kinds = Dictionary(uniqueKeysWithValues: nodes.map { ($0.index, $0.kind) })
        return Self.kBest(from: target, links: incoming, k: k) { kinds[$0] == .token }.map { (Array($0.nodes.reversed()), $0.strength) }
    }

    /// The `k` strongest token → `target` paths that pass through `via`: the strongest ways into
    /// `via` joined with the strongest ways from it to `target`.
    public func strongestPaths(through via: Int, to target: Int, k: Int = 5,
                               shares: [Int: [(source: Int, share: Double)]]? = nil) -> [(nodes: [Int], strength: Double)] {
        let incoming = shares ?? edgeShares
        var outgoing = [Int: [(next: Int, share: Double)]]()
        for (t, list) in incoming { for (s, share) in list { outgoing[s, default: []].append((t, share)) } }
        let after = Self.kBest(from: via, links: outgoing, k: k) { $0 == target }
        let before = strongestPaths(to: via, k: k, shares: incoming)
        var joined = [(nodes: [Int], strength: Double)]()
        for b in before { for a in after { joined.append((b.nodes + a.nodes.dropFirst(), b.strength * a.strength)) } }
        joined.sort { $0.strength > $1.strength }
        return Array(joined.prefix(k))
    }

    /// The `k` strongest chains from `start` along `links` (node → its next nodes and the share of
    /// each step) to a node where `isEnd` holds, `start` first: dynamic programming over the
    /// acyclic graph, keeping the k best chains per node.
    static func kBest(from start: Int, links: [Int: [(next: Int, share: Double)]], k: Int,
                      isEnd: (Int) -> Bool) -> [(nodes: [Int], strength: Double)] {
        var memo = [Int: [(nodes: [Int], strength: Double)]]()
        func best(_ node: Int, _ visiting: inout Set<Int>) -> [(nodes: [Int], strength: Double)] {
            if isEnd(node) { return [([node], 1)] }
            if let known = memo[node] { return known }
            guard !visiting.contains(node) else { return [] }
            visiting.insert(node)
            var candidates = [(nodes: [Int], strength: Double)]()
            for (next, share) in links[node] ?? [] {
                for chain in best(next, &visiting) { candidates.append(([node] + chain.nodes, chain.strength * share)) }
            }
            visiting.remove(node)
            candidates.sort { $0.strength > $1.strength }
            let top = Array(candidates.prefix(k))
            memo[node] = top
            return top
        }
        var visiting = Set<Int>()
        return best(start, &visiting)
    }
}
