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

/// One compiled walk: the SQL that feeds it and how to combine what it returns.
struct WalkPlan: Sendable {
    var alias: String
    /// `SELECT graph_id, idx FROM node s …`: where the walk may start.
    var startSQL: String
    var startArguments: [StoreValue]
    /// `SELECT graph_id, idx FROM node n …`: where it may end (nil: anywhere).
    var endSQL: String?
    var endArguments: [StoreValue]
    /// `SELECT source, target, weight, share, ok, flag… FROM edge e … WHERE e.graph_id = ?last`: one
    /// graph's edges; `ok` is whether the edge may be stepped on (pushed ALL conditions).
    var edgeSQL: String
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
                          quantifiers: [Expression], pushed: Set<Int>) throws -> (alias: String, flags: [Int: String]) {
        let w = alias("w")
        let saved = (bindings, insideWalk)
        defer { (bindings, insideWalk) = saved }

        let (startSQL, startArguments) = try withOwnArguments { c in
            try c.endpointSQL(startNode, alias: "s", conditions: startConditions)
        }
        let (endSQL, endArguments) = try withOwnArguments { c -> String? in
            endNode.labels.isEmpty && endNode.properties.isEmpty && endConditions.isEmpty && c.graphId == nil
                ? nil : try c.endpointSQL(endNode, alias: "s", conditions: endConditions)
        }

        // Per-step checks and flags, evaluated on each edge e and its target node t.
        insideWalk = true
        var flags = [Int: String](), flagCombinesWithAnd = [Bool]()
        let ((checks, flagSQL), edgeArguments) = try withOwnArguments { c -> ([String], [String]) in
            var checks = [String](), flagSQL = [String]()
            for q in quantifiers {
                guard case let .quantifier(kind, variable, .call(function, _, _, _), predicate, location) = q else { continue }
                let overNodes = function.lowercased() == "nodes"
                c.bindings = [variable: .element(overNodes ? "t" : "e", isNode: overNodes)]
                let check = try c.expression(predicate)
                if kind == "ALL" && pushed.contains(location.offset) {
                    checks.append(check)
                } else {
                    flags[location.offset] = "\(w).f\(flagSQL.count)"
                    flagCombinesWithAnd.append(kind == "ALL")
                    flagSQL.append(c.functions.truth(check))
                }
            }
            return (checks, flagSQL)
        }
        let ok = checks.isEmpty ? "1" : "(" + checks.map { functions.truth($0) }.joined(separator: " AND ") + ")"
        let edgeSQL = """
            SELECT e.source, e.target, e.weight, abs(e.weight) / t.input_abs, \(ok)\(flagSQL.map { ", " + $0 }.joined())
            FROM edge e JOIN node t ON t.graph_id = e.graph_id AND t.idx = e.target
            WHERE e.graph_id = ?\(edgeArguments.count + 1)
            """

        let rowsArgument = arguments.count
        let slot = bind(.text("[]"))
        let columns = ["graph_id", "start", "finish", "hops", "nodes", "weights", "strength", "mult"]
            + flagCombinesWithAnd.indices.map { "f\($0)" }
        let types: [JSONColumnType] = [.integer, .integer, .integer, .integer, .text, .text, .real, .integer]
            + flagCombinesWithAnd.map { _ in .flag }
        let reads = types.enumerated().map { functions.jsonRowColumn($0.offset, $0.element) }.joined(separator: ", ")
        ctes.append("\(w)(\(columns.joined(separator: ", "))) AS MATERIALIZED (SELECT \(reads) FROM \(functions.jsonRows(slot)))")
        from.append(w)
        walks.append(WalkPlan(alias: w, startSQL: startSQL, startArguments: startArguments, endSQL: endSQL,
                              endArguments: endArguments, edgeSQL: edgeSQL, edgeArguments: edgeArguments, hops: hops,
                              flagCombinesWithAnd: flagCombinesWithAnd, rowsArgument: rowsArgument))
        return (w, flags)
    }

    /// `SELECT s.graph_id, s.idx FROM node s WHERE …` for a walk's end: the node pattern's own
    /// labels and properties, WHERE conditions on its variable alone, and USE.
    mutating func endpointSQL(_ node: NodePattern, alias a: String, conditions: [Expression]) throws -> String {
        var clauses = try nodeConstraints(node, alias: a)
        if let v = node.variable {
            bindings = [v: .node(a)]
            for condition in conditions { clauses.append(try expression(condition)) }
        }
        if let graphId { clauses.append("\(a).graph_id = \(bind(.integer(graphId)))") }
        return "SELECT \(a).graph_id, \(a).idx FROM node \(a)" + (clauses.isEmpty ? "" : " WHERE " + clauses.map { "(\($0))" }.joined(separator: " AND "))
    }
}
