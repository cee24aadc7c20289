// CircuitQL's planner: a parsed Query becomes a plan (Plan.swift) of one SQL statement over the
// store, with every value bound as a numbered parameter (?1, ?2, …), never spliced into the text;
// Plan+SQL writes it in the store's dialect.
//
// Plan
//   - every node pattern is a row of `node` (key graph_id, idx), every single relationship a row
//     of `edge` (key graph_id, source, target; edge_by_target serves the other direction), joined
//     so a connected pattern stays inside one graph;
//   - every variable-length relationship is a recursive CTE over `edge` that starts from the
//     nodes its left end may be (labels, property maps, USE and WHERE conditions on that node
//     alone are pushed into the start), follows edges forward up to the maximum length, and
//     checks `ALL(… IN relationships(p) / nodes(p) WHERE …)` conditions at every step, so paths
//     that fail are cut where they fail instead of being enumerated;
//   - RETURN with an aggregate groups by the other items; results are capped (`maxRows`).
//
// Path strength: the product over a path's edges of each edge's share of its target's total
// absolute input in the stored (pruned) graph, |w(s→t)| / Σ_s' |w(s'→t)|, as in `trace`'s
// "strongest paths".

import GraphStore

/// A compiled query: its plan, the dialect that spells it, its parameters, and how to show its columns.
public struct CompiledQuery: Sendable {
    /// The statement before any dialect spells it.
    var plan: SelectPlan
    /// How the store it runs on spells SQL.
    public var functions: SQLFunctions
    /// The statement in that spelling.
    public var sql: String { plan.sql(functions) }
    public var arguments: [StoreValue]
    public var columns: [String]
    /// Columns whose values are JSON arrays (nodes(p), relationships(p), collect(…)).
    public var listColumns: Set<Int>
    /// Rows past this many are an error (the compiled LIMIT asks for one more to tell).
    public var maxRows: Int
    /// Variable-length relationships, computed before the statement runs (their rows are arguments).
    var walks: [WalkPlan] = []
    /// Rows the statement must return (LIMIT, capped) when a walk runs strongest first.
    var strongestLimit: Int?
    /// Columns that are collect(…): their values count against the row cap too.
    var collectColumns = Set<Int>()
}

struct Compiler {
    let source: String
    var arguments = [StoreValue]()
    var from = [PlanSource]()
    var conditions = [PlanExpr]()
    var ctes = [PlanCTE]()
    var bindings = [String: Binding]()
    var paths = [String: PathBinding]()
    var aliasCounter = 0
    /// The graph every node must be in (from USE), by id.
    let graphId: Int64?
    /// ALL conditions checked inside walks (by the quantifier's offset in the source).
    var pushedQuantifiers = Set<Int>()
    /// Set while compiling inside a walk's step, where only the quantifier's element is in scope.
    var insideWalk = false
    var walks = [WalkPlan]()
    /// When walks are counted: the product of their rows' multiplicities (aggregates weigh by it).
    var multiplicity: PlanExpr?

    enum Binding {
        case node(String)
        case edge(String, source: String, target: String)
        case path
        /// Inside a CTE step: a quantifier's element (a node or edge alias).
        case element(String, isNode: Bool)
    }

    /// A named path: its start node alias and segments, left to right.
    struct PathBinding {
        var start: String
        var segments: [Segment]
    }

    enum Segment {
        case edge(String, target: String)
        /// A recursive CTE alias (columns graph_id, start, finish, hops, nodes, weights, strength, and a
        /// flag column per quantifier, by the quantifier's offset in the source).
        case walk(String, flags: [Int: PlanExpr])
    }

    /// The walk aliases of a path, left to right.
    static func walkAliases(_ path: PathBinding) -> [String] {
        path.segments.compactMap { if case let .walk(w, _) = $0 { w } else { nil } }
    }

    init(source: String, graphId: Int64?) {
        self.source = source
        self.graphId = graphId
    }

    func error(_ message: String, _ location: SourceLocation?) -> CircuitQLError { CircuitQLError(message, at: location, in: source) }

    mutating func bind(_ value: StoreValue) -> PlanExpr {
        arguments.append(value)
        return .parameter(arguments.count)
    }

    mutating func alias(_ prefix: String) -> String {
        aliasCounter += 1
        return "\(prefix)\(aliasCounter)"
    }

    // MARK: Query

    static func compile(_ query: Query, source: String, graphId: Int64?, maxRows: Int, functions: SQLFunctions) throws -> CompiledQuery {
        var c = Compiler(source: source, graphId: graphId)
        let conjuncts = query.whereClause.map(Compiler.conjuncts) ?? []
        // Conditions on one node variable alone, by variable: pushed into walks that start there.
        var single = [String: [Expression]]()
        for conjunct in conjuncts {
            let vars = conjunct.variables
            if vars.count == 1, !conjunct.hasAggregate, !Compiler.hasQuantifier(conjunct) { single[vars.first!, default: []].append(conjunct) }
        }
        // Top-level ALL(… IN nodes(p) / relationships(p) WHERE …) conditions are checked inside walks.
        let pushed = Set(conjuncts.compactMap { conjunct -> Int? in
            if case let .quantifier("ALL", _, list, _, location) = conjunct, Compiler.pathListArgument(list) != nil { return location.offset }
            return nil
        })
        c.pushedQuantifiers = pushed
        let quantifiers = Compiler.quantifiers(in: query)
        for pattern in query.patterns {
            try c.addPattern(pattern, singleConditions: single, quantifiers: quantifiers, pushed: pushed)
        }
        for conjunct in conjuncts {
            if conjunct.hasAggregate { throw c.error("aggregates such as count(…) belong in RETURN, not WHERE", conjunct.aggregateLocation) }
            c.conditions.append(try c.expression(conjunct))
        }
        let strongest = c.chooseWalkModes(query)
        var compiled = try c.finish(query, maxRows: maxRows, functions: functions)
        compiled.walks = c.walks
        compiled.collectColumns = Set(query.items.indices.filter {
            if case let .call(name, _, _, _) = query.items[$0].expression { return name.lowercased() == "collect" }
            return false
        })
        if strongest, let limit = query.limit { compiled.strongestLimit = min(limit, maxRows + 1) }
        return compiled
    }

    static func conjuncts(_ e: Expression) -> [Expression] {
        if case let .binary("AND", a, b, _) = e { return conjuncts(a) + conjuncts(b) }
        return [e]
    }

    /// Every ALL/ANY/NONE over a path in the query, keyed by its text position.
    static func quantifiers(in query: Query) -> [Expression] {
        var found = [Expression]()
        func visit(_ e: Expression) {
            if case .quantifier = e { found.append(e) }
            e.children.forEach(visit)
        }
        query.expressions.forEach(visit)
        return found
    }

    // MARK: Patterns

    mutating func addPattern(_ pattern: PathPattern, singleConditions: [String: [Expression]], quantifiers: [Expression],
                             pushed: Set<Int>) throws {
        var aliases = [String]()
        for node in pattern.nodes { aliases.append(try addNode(node)) }
        var path = PathBinding(start: aliases[0], segments: [])
        for (i, rel) in pattern.relationships.enumerated() {
            let (left, right) = (aliases[i], aliases[i + 1])
            let (source, target) = rel.leftward ? (right, left) : (left, right)
            if let hops = rel.hops {
                if rel.variable != nil {
                    throw error("name the path instead of a variable-length relationship: p = (a)-[*\(hops.min)..\(hops.max)]->(b), then relationships(p)", rel.location)
                }
                let (startNode, endNode) = rel.leftward ? (pattern.nodes[i + 1], pattern.nodes[i]) : (pattern.nodes[i], pattern.nodes[i + 1])
                let own = pattern.name.map { name in quantifiers.filter { Compiler.quantifierPath($0) == name } } ?? []
                let walk = try addWalk(from: startNode, to: endNode, hops: hops,
                                       startConditions: startNode.variable.flatMap { singleConditions[$0] } ?? [],
                                       endConditions: endNode.variable.flatMap { singleConditions[$0] } ?? [],
                                       quantifiers: own, pushed: pushed)
                conditions.append(Compiler.joins(walk.alias, "start", to: source))
                conditions.append(Compiler.joins(target, "idx", to: walk.alias, "finish"))
                conditions.append(.binary(">=", .column(walk.alias, "hops"), .integer(hops.min)))
                path.segments.append(.walk(walk.alias, flags: walk.flags))
            } else {
                let e = alias("e")
                from.append(.table("edge", alias: e))
                conditions.append(Compiler.joins(e, "source", to: source))
                conditions.append(Compiler.joins(target, "idx", to: e, "target"))
                if let v = rel.variable {
                    guard bindings[v] == nil else { throw error("the variable \(v) is already used", rel.location) }
                    bindings[v] = .edge(e, source: source, target: target)
                }
                for (key, value, location) in rel.properties {
                    conditions.append(.equal(try edgeProperty(key, e, location), try expression(value)))
                }
                path.segments.append(.edge(e, target: right))
            }
        }
        if let name = pattern.name {
            guard bindings[name] == nil else { throw error("the variable \(name) is already used", pattern.nodes[0].location) }
            bindings[name] = .path
            paths[name] = path
        }
    }

    static func hasQuantifier(_ e: Expression) -> Bool {
        switch e {
        case .quantifier: true
        default: e.children.contains(where: hasQuantifier)
        }
    }

    static func quantifierPath(_ q: Expression) -> String? {
        if case let .quantifier(_, _, list, _, _) = q { return pathListArgument(list) }
        return nil
    }

    /// p, for nodes(p) or relationships(p).
    static func pathListArgument(_ e: Expression) -> String? {
        guard case let .call(name, arguments, _, _) = e, ["nodes", "relationships"].contains(name.lowercased()), arguments.count == 1,
              case let .variable(p, _) = arguments[0] else { return nil }
        return p
    }

    static let labels = ["token": "token", "feature": "feature", "error": "error", "logit": "logit"]

    /// The node's alias, adding its row and its pattern's conditions (reusing a bound variable).
    mutating func addNode(_ node: NodePattern) throws -> String {
        let a: String
        if let v = node.variable, let bound = bindings[v] {
            guard case let .node(existing) = bound else { throw error("\(v) is not a node", node.location) }
            a = existing
        } else {
            a = alias("n")
            from.append(.table("node", alias: a))
            if let graphId { conditions.append(.equal(.column(a, "graph_id"), bind(.integer(graphId)))) }
            if let v = node.variable { bindings[v] = .node(a) }
        }
        conditions += try nodeConstraints(node, alias: a)
        return a
    }

    /// Labels and the property map of a node pattern, as conditions on `alias`.
    mutating func nodeConstraints(_ node: NodePattern, alias a: String) throws -> [PlanExpr] {
        var out = [PlanExpr]()
        for (label, location) in node.labels {
            guard let kind = Compiler.labels[label.lowercased()] else {
                throw error("unknown label :\(label) (labels are :Token, :Feature, :Error and :Logit)", location)
            }
            // Tokens, errors and logits are a small share of a graph's nodes: the hint lets SQLite start there.
            let test = PlanExpr.equal(.column(a, "kind"), .text(kind))
            out.append(kind == "feature" ? test : .call(.rarely(test)))
        }
        for (key, value, location) in node.properties {
            if key == "graph" {
                out.append(.equal(.column(a, "graph_id"), Compiler.graphNamed(try expression(value))))
            } else {
                out.append(.equal(try nodeProperty(key, a, location), try expression(value)))
            }
        }
        return out
    }

    // MARK: Finishing

    mutating func finish(_ query: Query, maxRows: Int, functions: SQLFunctions) throws -> CompiledQuery {
        var columns = [String](), select = [(PlanExpr, alias: String?)](), groups = [PlanExpr](), lists = Set<Int>()
        let aggregated = query.items.contains { $0.expression.hasAggregate }
        for (i, item) in query.items.enumerated() {
            let sql = try expression(item.expression, output: true)
            select.append((sql, alias: "c\(i)"))
            columns.append(item.alias ?? item.text)
            if isList(item.expression) { lists.insert(i) }
            if aggregated && !item.expression.hasAggregate {
                // n.graph groups by the graph's id (one slug per id), so the slug is looked up once
                // per group instead of once per row.
                if case let .property(v, "graph", _) = item.expression, case let .node(a)? = bindings[v] {
                    groups.append(.column(a, "graph_id"))
                } else {
                    groups.append(sql)
                }
            }
        }
        var order = [(PlanExpr, descending: Bool)]()
        for (e, descending) in query.orderBy {
            let term: PlanExpr
            if case let .variable(name, _) = e, let i = query.items.firstIndex(where: { $0.alias == name }) {
                term = .name("c\(i)")
            } else if let i = query.items.firstIndex(where: { $0.text == Compiler.text(of: e, in: source, items: query.items) }) {
                term = .name("c\(i)")
            } else {
                term = try expression(e, output: true)
            }
            order.append((term, descending: descending))
        }
        let plan = SelectPlan(ctes: ctes, distinct: query.distinct, items: select, sources: from, filters: conditions, groups: groups,
                              order: order, limit: min(query.limit ?? Int.max, maxRows + 1), offset: query.skip)
        return CompiledQuery(plan: plan, functions: functions, arguments: arguments, columns: columns, listColumns: lists, maxRows: maxRows)
    }

    /// `a` joined to `b` in the same graph: a.column = b.idx (or b.other).
    static func joins(_ a: String, _ column: String, to b: String, _ other: String = "idx") -> PlanExpr {
        .and([.equal(.column(a, "graph_id"), .column(b, "graph_id")), .equal(.column(a, column), .column(b, other))])
    }

    /// The id of the graph with this slug (through the unique slug index).
    static func graphNamed(_ slug: PlanExpr) -> PlanExpr {
        .subquery(SelectPlan(items: [(.name("id"), alias: nil)], sources: [.table("graph", alias: "g")],
                             filters: [.equal(.column("g", "slug"), slug)]))
    }

    /// The source text of an ORDER BY expression, to match it to a RETURN item written the same way.
    static func text(of e: Expression, in source: String, items: [ReturnItem]) -> String? {
        switch e {
        case let .property(v, p, _): "\(v).\(p)"
        case let .variable(v, _): v
        default: nil
        }
    }

    func isList(_ e: Expression) -> Bool {
        switch e {
        case let .call(name, _, _, _): ["nodes", "relationships", "collect"].contains(name.lowercased())
        case let .variable(v, _): paths[v] != nil
        default: false
        }
    }
}
