// Expressions, properties and functions as plan expressions.

import GraphStore

extension Compiler {
    static let nodeProperties: [String: String] = [
        "layer": "layer", "pos": "position", "feature": "feature", "token": "token_text", "token_id": "token_id",
        "activation": "activation", "influence": "influence", "prob": "probability", "kind": "kind", "index": "idx",
    ]
    static var nodePropertyNames: String { (Array(nodeProperties.keys) + ["graph", "label", "prompt"]).sorted().joined(separator: ", ") }

    func nodeProperty(_ key: String, _ a: String, _ location: SourceLocation?) throws -> PlanExpr {
        if let column = Compiler.nodeProperties[key] { return .column(a, column) }
        let graph = PlanExpr.equal(.column("g", "id"), .column(a, "graph_id"))
        switch key {
        case "graph":
            return .subquery(SelectPlan(items: [(.column("g", "slug"), alias: nil)], sources: [.table("graph", alias: "g")], filters: [graph]))
        case "prompt":
            return .subquery(SelectPlan(items: [(.column("p", "text"), alias: nil)], sources: [.table("graph", alias: "g"), .table("prompt", alias: "p")],
                                        filters: [graph, .equal(.column("p", "id"), .column("g", "prompt_id"))]))
        case "label":
            return .subquery(SelectPlan(
                items: [(.function("COALESCE", [.column("f", "user_label"), .column("f", "label")]), alias: nil)],
                sources: [.table("graph", alias: "g"), .table("feature", alias: "f")],
                filters: [graph, .equal(.column("f", "transcoder_set_id"), .column("g", "transcoder_set_id")),
                          .equal(.column("f", "layer"), .column(a, "layer")), .equal(.column("f", "idx"), .column(a, "feature"))]))
        default: throw error("nodes have no property \"\(key)\" (they have \(Compiler.nodePropertyNames))", location)
        }
    }

    func edgeProperty(_ key: String, _ e: String, _ location: SourceLocation?) throws -> PlanExpr {
        switch key {
        case "weight": return .column(e, "weight")
        case "share": return Compiler.share(e)
        default: throw error("relationships have no property \"\(key)\" (they have weight and share)", location)
        }
    }

    /// An edge's share of its target's total absolute input (the stored `input_abs`).
    static func share(_ e: String) -> PlanExpr {
        let total = SelectPlan(items: [(.column("x", "input_abs"), alias: nil)], sources: [.table("node", alias: "x")],
                               filters: [.equal(.column("x", "graph_id"), .column(e, "graph_id")), .equal(.column("x", "idx"), .column(e, "target"))])
        return .binary("/", .function("abs", [.column(e, "weight")]), .subquery(total))
    }

    /// A node as text: L12/F345@3, error L2@1, "tok"@0, logit "tok".
    static func nodeName(_ a: String) -> PlanExpr {
        let (layer, position, text) = (PlanExpr.column(a, "layer"), PlanExpr.column(a, "position"), PlanExpr.column(a, "token_text"))
        return .caseWhen(subject: .column(a, "kind"), [
            (.text("feature"), .concat([.text("L"), layer, .text("/F"), .column(a, "feature"), .text("@"), position])),
            (.text("error"), .concat([.text("error L"), layer, .text("@"), position])),
            (.text("token"), .concat([.text("\""), text, .text("\"@"), position])),
        ], otherwise: .concat([.text("logit \""), text, .text("\"")]))
    }

    /// An expression in the plan. `output` allows whole nodes, relationships and paths (shown by name).
    mutating func expression(_ e: Expression, output: Bool = false) throws -> PlanExpr {
        switch e {
        case let .integer(i): return bind(.integer(Int64(i)))
        case let .float(d): return bind(.double(d))
        case let .string(s): return bind(.text(s))
        case let .boolean(b): return .boolean(b)
        case .null: return .null
        case .list: throw error("a list can only follow IN, as in n.layer IN [1, 2, 3]", e.location)
        case .countAll:
            return multiplicity.map { .function("coalesce", [.aggregate("sum", distinct: false, $0), .integer(0)]) }
                ?? .aggregate("count", distinct: false, nil)
        case let .variable(v, location):
            guard let binding = bindings[v] else { throw unknownVariable(v, location) }
            switch binding {
            case let .node(a), let .element(a, true):
                guard output else { throw error("compare a property of \(v), such as \(v).layer, not the node itself", location) }
                return Compiler.nodeName(a)
            case let .edge(a, source, target):
                guard output else { throw error("compare a property of \(v), such as \(v).weight, not the relationship itself", location) }
                return .concat([Compiler.nodeName(source), .text(" → "), Compiler.nodeName(target), .call(.weightLabel(.column(a, "weight")))])
            case let .element(a, false):
                guard output else { throw error("compare a property of \(v), such as \(v).weight", location) }
                return .column(a, "weight")
            case .path:
                guard output else { throw error("use a function of the path \(v), such as length(\(v))", location) }
                return try pathNodes(v, location)
            }
        case let .property(v, key, location):
            guard let binding = bindings[v] else { throw unknownVariable(v, location) }
            switch binding {
            case let .node(a), let .element(a, true): return try nodeProperty(key, a, location)
            case let .edge(a, _, _), let .element(a, false): return try edgeProperty(key, a, location)
            case .path: throw error("paths have no properties; use length(\(v)), nodes(\(v)), relationships(\(v)) or strength(\(v))", location)
            }
        case let .unary(op, a, _):
            return op == "NOT" ? .not(try expression(a)) : .negate(try expression(a))
        case let .isNull(a, negated):
            return .isNull(try expression(a), negated: negated)
        case let .binary(op, a, b, location):
            return try binary(op, a, b, location)
        case let .call(name, arguments, distinct, location):
            return try call(name, arguments, distinct: distinct, location: location)
        case let .quantifier(kind, variable, list, predicate, location):
            return try quantifier(kind, variable, list, predicate, location)
        }
    }

    func unknownVariable(_ v: String, _ location: SourceLocation) -> CircuitQLError {
        if insideWalk {
            return error("inside ALL/ANY/NONE over a variable-length path only the quantifier's own variable can be used, not \(v)", location)
        }
        let known = bindings.keys.sorted()
        return error("unknown variable \(v)\(known.isEmpty ? "" : " (the pattern names \(known.joined(separator: ", ")))")", location)
    }

    mutating func binary(_ op: String, _ a: Expression, _ b: Expression, _ location: SourceLocation) throws -> PlanExpr {
        switch op {
        case "AND", "OR", "<>", "<", "<=", ">", ">=", "-", "*", "/", "%": return .binary(op, try expression(a), try expression(b))
        case "XOR": return .call(.xor(try expression(a), try expression(b)))
        case "=":
            // A graph named by slug is found through the unique slug index, not per node.
            if case let .property(v, "graph", _) = a, case let .node(alias)? = bindings[v] {
                return .equal(.column(alias, "graph_id"), Compiler.graphNamed(try expression(b)))
            }
            return .equal(try expression(a), try expression(b))
        case "+":
            let concatenate = { (e: Expression) -> Bool in if case .string = e { return true } else { return false } }
            return .binary(concatenate(a) || concatenate(b) ? "||" : "+", try expression(a), try expression(b))
        case "IN":
            guard case let .list(items) = b else { throw error("IN needs a list of values, as in n.layer IN [10, 11]", location) }
            if items.isEmpty { return .boolean(false) }
            return .inList(try expression(a), try items.map { try expression($0) })
        case "STARTS WITH":
            let (x, y) = (try expression(a), try expression(b))
            return .equal(.function("substr", [x, .integer(1), .function("length", [y])]), y)
        case "ENDS WITH":
            let (x, y) = (try expression(a), try expression(b))
            return .binary("OR", .equal(.function("length", [y]), .integer(0)), .call(.endsWith(x, y)))
        case "CONTAINS":
            return .call(.contains(try expression(a), try expression(b)))
        default:
            throw error("unknown operator \(op)", location)
        }
    }

    mutating func call(_ name: String, _ arguments: [Expression], distinct: Bool, location: SourceLocation) throws -> PlanExpr {
        let f = name.lowercased()
        func arity(_ counts: ClosedRange<Int>) throws {
            guard counts.contains(arguments.count) else {
                throw error("\(name)() takes \(counts.lowerBound == counts.upperBound ? "\(counts.lowerBound)" : "\(counts.lowerBound) to \(counts.upperBound)") argument\(counts.upperBound == 1 ? "" : "s")", location)
            }
        }
        if distinct && !Functions.aggregates.contains(f) { throw error("DISTINCT only goes inside an aggregate such as count(DISTINCT …)", location) }
        if Functions.aggregates.contains(f) {
            try arity(1...1)
            if arguments[0].hasAggregate { throw error("aggregates cannot be nested", location) }
            // Counting graphs counts their ids (the same as their unique slugs, without the lookup).
            if case let .property(v, "graph", _) = arguments[0], case let .node(a)? = bindings[v], f == "count" {
                return .aggregate("count", distinct: distinct, .column(a, "graph_id"))
            }
            let argument = try expression(arguments[0], output: f == "collect" || f == "count")
            // Counted walks: each row stands for `mult` paths, so count, sum and avg weigh by it.
            if let m = multiplicity, !distinct {
                let known = PlanExpr.isNull(argument, negated: true)
                switch f {
                case "count":
                    return .function("coalesce", [.aggregate("sum", distinct: false, .caseWhen(subject: nil, [(known, m)], otherwise: .integer(0))), .integer(0)])
                case "sum": return .aggregate("sum", distinct: false, .binary("*", argument, m))
                case "avg":
                    let weighted = PlanExpr.binary("*", .aggregate("sum", distinct: false, .binary("*", argument, m)), .real(1.0))
                    return .call(.real(.binary("/", weighted, .aggregate("sum", distinct: false, .caseWhen(subject: nil, [(known, m)], otherwise: nil)))))
                default: break
                }
            }
            switch f {
            case "collect": return .call(.collect(argument, distinct: distinct))
            case "avg": return .call(.real(.aggregate("avg", distinct: distinct, argument)))
            default: return .aggregate(f, distinct: distinct, argument)
            }
        }
        if Functions.path.contains(f) {
            try arity(1...1)
            guard case let .variable(p, pathLocation) = arguments[0], paths[p] != nil else {
                throw error("\(name)() takes a named path, as in p = (a)-[*1..3]->(b) then \(name)(p)", arguments[0].location ?? location)
            }
            switch f {
            case "nodes": return try pathNodes(p, pathLocation)
            case "relationships": return pathRelationships(p)
            case "length": return pathLength(p)
            default: return pathStrength(p)
            }
        }
        switch f {
        case "abs": try arity(1...1); return .function("abs", [try expression(arguments[0])])
        case "sign":
            try arity(1...1)
            let x = try expression(arguments[0])
            return .caseWhen(subject: nil, [(.binary(">", x, .integer(0)), .integer(1)), (.binary("<", x, .integer(0)), .integer(-1)),
                                            (.equal(x, .integer(0)), .integer(0))], otherwise: nil)
        case "round": try arity(1...2); return .call(.round(try expression(arguments[0]), digits: try arguments.count > 1 ? expression(arguments[1]) : nil))
        case "tolower": try arity(1...1); return .function("lower", [try expression(arguments[0])])
        case "toupper": try arity(1...1); return .function("upper", [try expression(arguments[0])])
        case "coalesce": try arity(1...8); return .function("coalesce", try arguments.map { try expression($0) } + [.null])
        case "size":
            try arity(1...1)
            guard isList(arguments[0]) else { throw error("size() takes a list such as nodes(p) or collect(…)", location) }
            return .call(.arrayLength(try expression(arguments[0], output: true)))
        default:
            throw error("unknown function \(name)() (functions: \(Functions.all.joined(separator: ", ")))", location)
        }
    }

    // MARK: Paths

    /// A JSON array from parts that are JSON numbers or comma-separated runs of them.
    static func jsonArray(_ parts: [PlanExpr]) -> PlanExpr {
        .concat([.text("[")] + parts.enumerated().flatMap { $0.offset == 0 ? [$0.element] : [.text(","), $0.element] } + [.text("]")])
    }

    func pathNodes(_ p: String, _ location: SourceLocation) throws -> PlanExpr {
        let path = paths[p]!
        var list: [PlanExpr] = [.column(path.start, "idx")]
        for segment in path.segments {
            switch segment {
            case let .edge(_, target): list.append(.column(target, "idx"))
            case let .walk(w, _): list.append(.column(w, "nodes"))
            }
        }
        let names = SelectPlan(items: [(Compiler.nodeName("nn"), alias: "name")],
                               sources: [.arrayElements(Compiler.jsonArray(list), alias: "j"), .table("node", alias: "nn")],
                               filters: [.equal(.column("nn", "graph_id"), .column(path.start, "graph_id")), .equal(.column("nn", "idx"), .column("j", "value"))],
                               order: [(.column("j", "key"), descending: false)])
        return .subquery(SelectPlan(items: [(.call(.collect(.name("name"), distinct: false)), alias: nil)], sources: [.derived(names, alias: "names")]))
    }

    func pathRelationships(_ p: String) -> PlanExpr {
        let parts = paths[p]!.segments.map { segment -> PlanExpr in
            switch segment {
            case let .edge(e, _): .call(.numberText(.column(e, "weight")))
            case let .walk(w, _): .column(w, "weights")
            }
        }
        return .call(.json(Compiler.jsonArray(parts)))
    }

    func pathLength(_ p: String) -> PlanExpr {
        let parts = paths[p]!.segments.map { segment -> PlanExpr in
            switch segment {
            case .edge: .integer(1)
            case let .walk(w, _): .column(w, "hops")
            }
        }
        return .chain("+", parts)
    }

    func pathStrength(_ p: String) -> PlanExpr {
        let parts = paths[p]!.segments.map { segment -> PlanExpr in
            switch segment {
            case let .edge(e, _): Compiler.share(e)
            case let .walk(w, _): .column(w, "strength")
            }
        }
        return .chain("*", parts)
    }

    /// ALL / ANY / NONE over nodes(p) or relationships(p): single edges and nodes are checked in
    /// place, walks contribute their flag (or nothing, when the ALL was checked inside the walk).
    mutating func quantifier(_ kind: String, _ variable: String, _ list: Expression, _ predicate: Expression,
                             _ location: SourceLocation) throws -> PlanExpr {
        guard case let .call(function, arguments, _, _) = list, ["nodes", "relationships"].contains(function.lowercased()),
              arguments.count == 1, case let .variable(p, _) = arguments[0], let path = paths[p] else {
            throw error("\(kind)(…) works over nodes(p) or relationships(p) of a named path p", list.location ?? location)
        }
        guard !insideWalk else { throw error("\(kind)(…) cannot be nested inside another quantifier over a path", location) }
        let overNodes = function.lowercased() == "nodes"
        var parts = [PlanExpr]()
        let saved = bindings[variable]
        defer { bindings[variable] = saved }
        if overNodes {
            bindings[variable] = .element(path.start, isNode: true)
            parts.append(try expression(predicate))
        }
        for segment in path.segments {
            switch segment {
            case let .edge(e, target):
                bindings[variable] = overNodes ? .element(target, isNode: true) : .element(e, isNode: false)
                parts.append(try expression(predicate))
            case let .walk(_, flags):
                if let flag = flags[location.offset] { parts.append(flag) } else if !pushedQuantifiers.contains(location.offset) {
                    throw error("internal: the walk has no flag for this condition", location)
                }
            }
        }
        if parts.isEmpty { return .boolean(kind != "ANY") }
        switch kind {
        case "ALL": return .and(parts)
        case "ANY": return .or(parts)
        default: return .not(.or(parts))
        }
    }
}
