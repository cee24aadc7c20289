// Variable-length relationships as recursive CTEs ("walks").

import GraphStore

extension Compiler {
    /// Adds a walk from nodes matching `startNode` along 1…max edges. Conditions on the start node
    /// alone start it; ALL conditions over the path are checked at every step; other quantifiers
    /// over the path get a flag column each.
    mutating func addWalk(from startNode: NodePattern, hops: (min: Int, max: Int), startConditions: [Expression],
                          quantifiers: [Expression], pushed: Set<Int>) throws -> (alias: String, flags: [Int: String]) {
        let w = alias("w")
        let saved = (bindings, insideWalk)
        defer { (bindings, insideWalk) = saved }

        // The start: the node pattern's own constraints and WHERE conditions on it alone.
        var startWhere = try nodeConstraints(startNode, alias: "s")
        if let v = startNode.variable {
            bindings = [v: .node("s")]
            for condition in startConditions { startWhere.append(try expression(condition)) }
        }
        let joinStart = !startWhere.isEmpty
        // The graph restriction goes on the start node when there is one, so the plan walks the few
        // start nodes and their edges instead of every edge of the graph.
        if let graphId { startWhere.append("\(joinStart ? "s" : "e").graph_id = \(bind(.integer(graphId)))") }

        // Per-step checks and flags.
        insideWalk = true
        var stepChecks = [String](), flagColumns = [(name: String, anchor: String, step: String)](), flags = [Int: String]()
        var joinTarget = false
        for q in quantifiers {
            guard case let .quantifier(kind, variable, .call(function, _, _, _), predicate, location) = q else { continue }
            let overNodes = function.lowercased() == "nodes"
            bindings = [variable: .element(overNodes ? "t" : "e", isNode: overNodes)]
            let check = try expression(predicate)
            if overNodes { joinTarget = true }
            if kind == "ALL" && pushed.contains(location.offset) {
                stepChecks.append(check)
            } else {
                let name = "f\(flagColumns.count)"
                let combine = kind == "ALL" ? "AND" : "OR"
                flagColumns.append((name, "(\(check))", "(c.\(name) \(combine) (\(check)))"))
                flags[location.offset] = "\(w).\(name)"
            }
        }
        let share = Compiler.share("e")
        let columns = ["graph_id", "start", "finish", "hops", "nodes", "weights", "strength"] + flagColumns.map(\.name)
        let targetJoin = joinTarget ? " JOIN node t ON t.graph_id = e.graph_id AND t.idx = e.target" : ""
        let anchorWhere = startWhere + stepChecks
        let anchor = """
            SELECT e.graph_id, e.source, e.target, 1, CAST(e.target AS TEXT), CAST(e.weight AS TEXT), \(needsStrength ? share : "1.0")\
            \(flagColumns.map { ", " + $0.anchor }.joined())
            FROM edge e\(joinStart ? " JOIN node s ON s.graph_id = e.graph_id AND s.idx = e.source" : "")\(targetJoin)\
            \(anchorWhere.isEmpty ? "" : "\n    WHERE " + anchorWhere.map { "(\($0))" }.joined(separator: " AND "))
            """
        let step = """
            SELECT c.graph_id, c.start, e.target, c.hops + 1, c.nodes || ',' || e.target, c.weights || ',' || e.weight, \
            \(needsStrength ? "c.strength * " + share : "1.0")\(flagColumns.map { ", " + $0.step }.joined())
            FROM \(w) c JOIN edge e ON e.graph_id = c.graph_id AND e.source = c.finish\(targetJoin)
                WHERE c.hops < \(hops.max)\(stepChecks.map { " AND (\($0))" }.joined())
            """
        ctes.append("\(w)(\(columns.joined(separator: ", "))) AS (\n\(anchor)\nUNION ALL\n\(step))")
        from.append(w)
        return (w, flags)
    }
}
