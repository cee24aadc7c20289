// Runs a compiled query's walks against the store and hands their rows to the main statement.
//
// For each walk: its start and end nodes come from two small SELECTs; each graph that has both is
// loaded once (its edges with share, the per-step check and the flag conditions as columns) and
// walked in memory (WalkSearch); the rows go to the statement as one JSON argument. Strongest
// first, paths are produced in batches until the statement returns its LIMIT from paths that
// include every tie of the weakest one given, which makes the top k exact even when conditions
// outside the walk reject some of them.

import Foundation
import GraphStore

/// The loaded graphs of one walk, and its spec in each.
struct LoadedWalk {
    var plan: WalkPlan
    var graphs: [(id: Int64, graph: WalkGraph, spec: WalkSpec)]
    /// Steppable edges over all graphs (for --explain).
    var edges: Int { graphs.reduce(0) { $0 + $1.graph.targets.count } }
    var starts: Int { graphs.reduce(0) { $0 + $1.spec.starts.count } }
}

extension CircuitQL {
    /// The most paths a listed walk may produce (more needs an aggregate or a strongest-k order).
    public static let listedPathCap = 250_000
    /// The most kept edges one statement reads for a walk (about 200 MB of numbers).
    nonisolated(unsafe) static var edgesPerStatement: Int64 = 4_000_000

    static func load(_ plan: WalkPlan, from store: GraphStore, functions: SQLFunctions, deadline: Deadline) throws -> LoadedWalk {
        func integer(_ v: StoreValue) -> Int64? { if case let .integer(i) = v { i } else { nil } }
        let remaining = { deadline.end.map { max($0 - Deadline.now(), 0) } }
        var starts = [Int64: [Int64]]()
        for row in try store.select(sql: plan.start.sql(functions), arguments: plan.startArguments, timeLimit: remaining()) {
            if let g = integer(row[0]), let i = integer(row[1]) { starts[g, default: []].append(i) }
        }
        var ends: [Int64: [Int64]]?
        if let endSQL = plan.end?.sql(functions) {
            var found = [Int64: [Int64]]()
            for row in try store.select(sql: endSQL, arguments: plan.endArguments, timeLimit: remaining()) {
                if let g = integer(row[0]), let i = integer(row[1]) { found[g, default: []].append(i) }
            }
            ends = found
        }
        var loaded = LoadedWalk(plan: plan, graphs: [])
        let edgeSQL = plan.edges.sql(functions)
        var andFlags: UInt32 = 0
        for (f, isAnd) in plan.flagCombinesWithAnd.enumerated() where isAnd { andFlags |= 1 << UInt32(f) }
        let candidates = starts.keys.sorted().filter { ends == nil || ends![$0] != nil }
        // Graphs are read in runs of consecutive ids, one statement a run (a walk over every graph
        // of a 10,000-graph store is a few statements, not 10,000), each run holding at most
        // `edgesPerStatement` kept edges (or one graph).
        var sizes = [Int64: Int64]()
        if candidates.count > 1 {
            for row in try store.select(sql: "SELECT id, edges_kept FROM graph", arguments: [], timeLimit: remaining()) {
                if let g = integer(row[0]), let n = integer(row[1]) { sizes[g] = n }
            }
        }
        var runs = [[Int64]]()
        var total: Int64 = 0
        for g in candidates {
            let size = sizes[g] ?? 0
            if let last = runs.last?.last, last + 1 == g, total + size <= edgesPerStatement {
                runs[runs.count - 1].append(g)
                total += size
            } else {
                runs.append([g])
                total = size
            }
        }
        for run in runs {
            try deadline.check()
            var edges = [Int64: [(source: Int64, target: Int64, weight: Double, share: Double, flags: UInt32)]]()
            let (width, values) = try store.selectNumbers(sql: edgeSQL, arguments: plan.edgeArguments + [.integer(run.first!), .integer(run.last!)],
                                                          timeLimit: remaining())
            for r in stride(from: 0, to: values.count, by: max(width, 1)) where values[r + 5] == 1 {
                guard abs(values[r + 1]) < 0x1p52, abs(values[r + 2]) < 0x1p52, values[r + 1] == values[r + 1].rounded(),
                      values[r + 2] == values[r + 2].rounded() else {
                    throw GraphStoreError.damagedRow(graph: String(Int64(values[r])), reason: "an edge joins node \(values[r + 1]) to \(values[r + 2])")
                }
                var flags: UInt32 = 0
                for f in plan.flagCombinesWithAnd.indices where values[r + 6 + f] == 1 { flags |= 1 << UInt32(f) }
                let share = values[r + 4]
                edges[Int64(values[r]), default: []].append((Int64(values[r + 1]), Int64(values[r + 2]), values[r + 3], share.isFinite ? share : 0, flags))
            }
            for g in run {
                let endNodes = ends?[g] ?? []
                let graph = WalkGraph(edges: edges[g] ?? [], nodes: starts[g]! + endNodes)
                let spec = WalkSpec(starts: starts[g]!.map { graph.localNumber[$0]! },
                                    ends: ends.map { _ in Set(endNodes.map { graph.localNumber[$0]! }) },
                                    minHops: plan.hops.min, maxHops: plan.hops.max, andFlags: andFlags)
                loaded.graphs.append((g, graph, spec))
            }
        }
        return loaded
    }

    /// One row of a walk's CTE, as JSON.
    static func row(graph g: Int64, _ w: WalkGraph, start: Int32, finish: Int32, hops: Int, edges: [Int], strength: Double,
                    mult: Int64, flags: UInt32, flagCount: Int, into out: inout String) {
        if !out.isEmpty { out += "," }
        out += "[\(g),\(w.nodeIndex[Int(start)]),\(w.nodeIndex[Int(finish)]),\(hops),\""
        out += edges.map { String(w.nodeIndex[Int(w.targets[$0])]) }.joined(separator: ",")
        out += "\",\""
        out += edges.map { String(w.weights[$0]) }.joined(separator: ",")
        out += "\",\(strength.isFinite ? String(strength) : "null"),\(mult)"
        for f in 0..<flagCount { out += flags & (1 << UInt32(f)) != 0 ? ",1" : ",0" }
        out += "]"
    }

    /// Every row of a listed or counted walk, as a JSON array.
    static func rows(_ walk: LoadedWalk, deadline: Deadline) throws -> String {
        var out = "", listed = 0
        let flagCount = walk.plan.flagCombinesWithAnd.count
        for (g, graph, spec) in walk.graphs {
            switch walk.plan.mode {
            case .counting:
                for c in try graph.pathCounts(spec, deadline: deadline) {
                    row(graph: g, graph, start: c.start, finish: c.finish, hops: c.hops, edges: [], strength: 0,
                        mult: c.paths, flags: c.flags, flagCount: flagCount, into: &out)
                }
            case .listing, .strongest:
                try graph.allPaths(spec, cap: listedPathCap - listed, deadline: deadline) { p in
                    listed += 1
                    row(graph: g, graph, start: p.start, finish: p.finish, hops: p.edges.count, edges: p.edges, strength: p.strength,
                        mult: 1, flags: p.flags, flagCount: flagCount, into: &out)
                }
            }
        }
        return "[" + out + "]"
    }

    /// Runs a statement whose single walk goes strongest first: paths in growing batches until the
    /// statement's LIMIT is reached from a batch that ends on a complete tie (or none are left).
    static func runStrongest(_ compiled: CompiledQuery, walk: LoadedWalk, limit: Int, store: GraphStore,
                             deadline: Deadline) throws -> [[StoreValue]] {
        var searches = walk.graphs.map { StrongestPaths(graph: $0.graph, spec: $0.spec) }
        let flagCount = walk.plan.flagCombinesWithAnd.count
        var out = "", produced = 0, batch = max(64, 4 * limit)
        var arguments = compiled.arguments
        let sql = compiled.sql
        while true {
            // Take paths best-first across graphs until the batch is full and the next path is weaker.
            var last: Double?
            while true {
                var bestGraph: Int?, bestStrength = -Double.infinity
                for i in searches.indices {
                    if let s = try searches[i].peekStrength(deadline), s > bestStrength { (bestGraph, bestStrength) = (i, s) }
                }
                guard let i = bestGraph else { break }
                if produced >= batch, let last, bestStrength < last { break }
                let p = try searches[i].next(deadline)!
                produced += 1
                last = p.strength
                row(graph: walk.graphs[i].id, walk.graphs[i].graph, start: p.start, finish: p.finish, hops: p.edges.count,
                    edges: p.edges, strength: p.strength, mult: 1, flags: p.flags, flagCount: flagCount, into: &out)
            }
            let exhausted = produced < batch
            arguments[walk.plan.rowsArgument] = .text("[" + out + "]")
            let rows = try store.select(sql: sql, arguments: arguments, timeLimit: deadline.end.map { max($0 - Deadline.now(), 0) })
            if rows.count >= limit || exhausted { return rows }
            batch *= 4
        }
    }

    /// Runs a compiled statement, computing its walks first.
    static func execute(_ compiled: CompiledQuery, on store: GraphStore, deadline: Deadline) throws -> [[StoreValue]] {
        let remaining = { deadline.end.map { max($0 - Deadline.now(), 0) } }
        guard !compiled.walks.isEmpty else { return try store.select(sql: compiled.sql, arguments: compiled.arguments, timeLimit: remaining()) }
        let loaded = try compiled.walks.map { try load($0, from: store, functions: compiled.functions, deadline: deadline) }
        if let limit = compiled.strongestLimit, loaded.count == 1 {
            return try runStrongest(compiled, walk: loaded[0], limit: limit, store: store, deadline: deadline)
        }
        var arguments = compiled.arguments
        for walk in loaded { arguments[walk.plan.rowsArgument] = .text(try rows(walk, deadline: deadline)) }
        return try store.select(sql: compiled.sql, arguments: arguments, timeLimit: remaining())
    }

    /// What each walk would do, for --explain: its mode, graphs, start nodes, edges and the number
    /// of paths it spans (counted, not listed).
    public static func walkCosts(_ text: String, on store: GraphStore, maxRows: Int = defaultMaxRows,
                                 timeout: Double? = defaultTimeout) throws -> [String] {
        let compiled = try compile(text, for: store, maxRows: maxRows)
        let deadline = Deadline(seconds: timeout)
        return try compiled.walks.map { plan in
            let walk = try load(plan, from: store, functions: compiled.functions, deadline: deadline)
            var paths: Int64 = 0
            for (_, graph, spec) in walk.graphs {
                for c in try graph.pathCounts(spec, deadline: deadline) { paths = paths.addingReportingOverflow(c.paths).partialValue }
            }
            let how = switch plan.mode {
            case .strongest: "strongest first (exact top \(compiled.strongestLimit ?? 0) by strength, A* over the paths)"
            case .counting: "counted by dynamic programming (paths are not listed)"
            case .listing: "listed (at most \(listedPathCap) paths)"
            }
            return "walk \(plan.alias) *\(plan.hops.min)..\(plan.hops.max): \(how); \(walk.graphs.count) graph(s), \(walk.starts) start node(s), "
                + "\(walk.edges) steppable edge(s), \(paths) path(s) in all"
        }
    }
}
