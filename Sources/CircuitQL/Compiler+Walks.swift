// Variable-length relationships ("walks").
//
// A recursive CTE that enumerates every path is exponential on a real graph (870 nodes, 128k
// edges: tens of millions of 4-hop paths), so a walk is not written as SQL. The compiler writes
// three small SELECTs instead — the nodes the walk may start from, the nodes it may end at, and
// each edge of a graph with the per-step conditions evaluated as columns — and the walk itself
// runs in Swift (WalkSearch) over the edges those return, in one of three modes:
//   - strongest first: the exact k best paths by strength(p), for ORDER BY strength(p) DESC LIMIT k;
//   - counting: paths counted by dynamic programming, for RETURN … count(*) and other aggregates;
//   - listing: every path, up to a cap, for everything else.
// The walk's rows reach the main statement through a CTE over a JSON parameter, with the columns
// the recursive CTE had: graph_id, start, finish, hops, nodes, weights, strength, mult (how many
// paths the row stands for: 1 except when counting) and a flag column per quantifier.

import GraphStore

/// How a walk is computed.
enum WalkMode: String, Sendable {
    case strongest, counting, listing
}

/// One compiled walk: the statements that feed it and how to combine what it returns.
struct WalkPlan: Sendable {
    var alias: String
    /// `SELECT graph_id, idx FROM node s …`: where the walk may start.
    var start: SelectPlan
    var startArguments: [StoreValue]
    /// `SELECT graph_id, idx FROM node n …`: where it may end (nil: anywhere).
    var end: SelectPlan?
    var endArguments: [StoreValue]
    /// `SELECT graph_id, source, target, weight, share, ok, flag… FROM edge e … WHERE e.graph_id
    /// BETWEEN ?first AND ?last` (the last two parameters): the edges of a run of graphs; `ok` is
    /// whether the edge may be stepped on (pushed ALL conditions).
    var edges: SelectPlan
    var edgeArguments: [StoreValue]
    var hops: (min: Int, max: Int)
    /// Per flag column: true when it combines with AND along the path (ALL), false for OR (ANY, NONE).
    var flagCombinesWithAnd: [Bool]
    /// The argument (0-based) of the main statement that receives the walk's rows as JSON.
    var rowsArgument: Int
    var mode: WalkMode = .listing
}

extension Compiler {
    /// Compiles `body` with its own parameter list (for a statement other than the main one).
    mutating func withOwnArguments<T>(_ body: (inout Compiler) throws -> T) rethrows -> (T, [StoreValue]) {
        let saved = arguments
        arguments = []
        defer { arguments = saved }
        let result = try body(&self)
        return (result, arguments)
    }

    /// Adds a walk from nodes matching `startNode` to nodes matching `endNode` along min…max
    /// edges. Conditions on either end alone narrow its ends; ALL conditions over the path are
    /// checked at every step; other quantifiers over the path get a flag column each.
    mutating func addWalk(from startNode: NodePattern, to endNode: NodePattern, hops: (min: Int, max: Int),
                          startConditions: [Expression], endConditions: [Expression],
                          quantifiers: [Expression], pushed: Set<Int>) throws -> (alias: String, flags: [Int: PlanExpr]) {
        let w = alias("w")
        let saved = (bindings, insideWalk)
        defer { (bindings, insideWalk) = saved }

        let (start, startArguments) = try withOwnArguments { c in
            try c.endpoint(startNode, alias: "s", conditions: startConditions)
        }
        let (end, endArguments) = try withOwnArguments { c -> SelectPlan? in
            endNode.labels.isEmpty && endNode.properties.isEmpty && endConditions.isEmpty && c.graphId == nil
                ? nil : try c.endpoint(endNode, alias: "s", conditions: endConditions)
        }

        // Per-step checks and flags, evaluated on each edge e and its target node t.
        insideWalk = true
        var flags = [Int: PlanExpr](), flagCombinesWithAnd = [Bool]()
        let ((checks, flagColumns), edgeArguments) = try withOwnArguments { c -> ([PlanExpr], [PlanExpr]) in
            var checks = [PlanExpr](), flagColumns = [PlanExpr]()
            for q in quantifiers {
                guard case let .quantifier(kind, variable, .call(function, _, _, _), predicate, location) = q else { continue }
                let overNodes = function.lowercased() == "nodes"
                c.bindings = [variable: .element(overNodes ? "t" : "e", isNode: overNodes)]
                let check = try c.expression(predicate)
                if kind == "ALL" && pushed.contains(location.offset) {
                    checks.append(check)
                } else {
                    flags[location.offset] = .column(w, "f\(flagColumns.count)")
                    flagCombinesWithAnd.append(kind == "ALL")
                    flagColumns.append(.call(.truth(check)))
                }
            }
            return (checks, flagColumns)
        }
        let ok: PlanExpr = checks.isEmpty ? .integer(1) : .and(checks.map { .call(.truth($0)) })
        let share = PlanExpr.binary("/", .function("abs", [.column("e", "weight")]), .column("t", "input_abs"))
        let graph = PlanExpr.column("e", "graph_id")
        let edges = SelectPlan(
            items: ([graph, .column("e", "source"), .column("e", "target"), .column("e", "weight"), share, ok] + flagColumns).map { ($0, alias: nil) },
            sources: [.table("edge", alias: "e"), .table("node", alias: "t")],
            filters: [Compiler.joins("t", "idx", to: "e", "target"), .binary(">=", graph, .parameter(edgeArguments.count + 1)),
                      .binary("<=", graph, .parameter(edgeArguments.count + 2))])

        let rowsArgument = arguments.count
        let slot = bind(.text("[]"))
        let columns = ["graph_id", "start", "finish", "hops", "nodes", "weights", "strength", "mult"]
            + flagCombinesWithAnd.indices.map { "f\($0)" }
        let types: [JSONColumnType] = [.integer, .integer, .integer, .integer, .text, .text, .real, .integer]
            + flagCombinesWithAnd.map { _ in .flag }
        let reads = types.enumerated().map { (PlanExpr.call(.jsonRowColumn($0.offset, $0.element)), alias: String?.none) }
        ctes.append(PlanCTE(name: w, columns: columns, body: SelectPlan(items: reads, sources: [.jsonRows(slot)])))
        from.append(.cte(w))
        walks.append(WalkPlan(alias: w, start: start, startArguments: startArguments, end: end,
                              endArguments: endArguments, edges: edges, edgeArguments: edgeArguments, hops: hops,
                              flagCombinesWithAnd: flagCombinesWithAnd, rowsArgument: rowsArgument))
        return (w, flags)
    }

    /// `SELECT s.graph_id, s.idx FROM node s WHERE …` for a walk's end: the node pattern's own
    /// labels and properties, WHERE conditions on its variable alone, and USE.
    mutating func endpoint(_ node: NodePattern, alias a: String, conditions: [Expression]) throws -> SelectPlan {
        var clauses = try nodeConstraints(node, alias: a)
        if let v = node.variable {
            bindings = [v: .node(a)]
            for condition in conditions { clauses.append(try expression(condition)) }
        }
        if let graphId { clauses.append(.equal(.column(a, "graph_id"), bind(.integer(graphId)))) }
        return SelectPlan(items: [(.column(a, "graph_id"), alias: nil), (.column(a, "idx"), alias: nil)], sources: [.table("node", alias: a)],
                          filters: clauses)
    }
}
