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
        let incoming = shares ?? edgeShares
        let kinds = Dictionary(uniqueKeysWithValues: nodes.map { ($0.index, $0.kind) })
        var memo = [Int: [(nodes: [Int], strength: Double)]]()
        func best(_ node: Int, _ visiting: inout Set<Int>) -> [(nodes: [Int], strength: Double)] {
            if let known = memo[node] { return known }
            if kinds[node] == .token { return [([node], 1)] }
            guard !visiting.contains(node) else { return [] }
            visiting.insert(node)
            var candidates = [(nodes: [Int], strength: Double)]()
            for (source, share) in incoming[node] ?? [] {
                for path in best(source, &visiting) { candidates.append((path.nodes + [node], path.strength * share)) }
            }
            visiting.remove(node)
            candidates.sort { $0.strength > $1.strength }
            let top = Array(candidates.prefix(k))
            memo[node] = top
            return top
        }
        var visiting = Set<Int>()
        return best(target, &visiting)
    }

    /// The `k` strongest token → `target` paths that pass through `via`: the strongest ways into
    /// `via` joined with the strongest ways from it to `target`.
    public func strongestPaths(through via: Int, to target: Int, k: Int = 5,
                               shares: [Int: [(source: Int, share: Double)]]? = nil) -> [(nodes: [Int], strength: Double)] {
        let incoming = shares ?? edgeShares
        var outgoing = [Int: [(target: Int, share: Double)]]()
        for (t, list) in incoming { for (s, share) in list { outgoing[s, default: []].append((t, share)) } }
        var memo = [Int: [(nodes: [Int], strength: Double)]]()
        func forward(_ node: Int, _ visiting: inout Set<Int>) -> [(nodes: [Int], strength: Double)] {
            if node == target { return [([node], 1)] }
            if let known = memo[node] { return known }
            guard !visiting.contains(node) else { return [] }
            visiting.insert(node)
            var candidates = [(nodes: [Int], strength: Double)]()
            for (next, share) in outgoing[node] ?? [] {
                for path in forward(next, &visiting) { candidates.append(([node] + path.nodes, share * path.strength)) }
            }
            visiting.remove(node)
            candidates.sort { $0.strength > $1.strength }
            let top = Array(candidates.prefix(k))
            memo[node] = top
            return top
        }
        var visiting = Set<Int>()
        let after = forward(via, &visiting)
        let before = strongestPaths(to: via, k: k, shares: incoming)
        var joined = [(nodes: [Int], strength: Double)]()
        for b in before { for a in after { joined.append((b.nodes + a.nodes.dropFirst(), b.strength * a.strength)) } }
        joined.sort { $0.strength > $1.strength }
        return Array(joined.prefix(k))
    }
}
