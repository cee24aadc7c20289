// Expressions, properties and functions as SQL.

import GraphStore

extension Compiler {
    static let nodeProperties: [String: String] = [
        "layer": "layer", "pos": "position", "feature": "feature", "token": "token_text", "token_id": "token_id",
        "activation": "activation", "influence": "influence", "prob": "probability", "kind": "kind", "index": "idx",
    ]
    static var nodePropertyNames: String { (Array(nodeProperties.keys) + ["graph", "label", "prompt"]).sorted().joined(separator: ", ") }

    func nodeProperty(_ key: String, _ a: String, _ location: SourceLocation?) throws -> String {
        if let column = Compiler.nodeProperties[key] { return "\(a).\(column)" }
        switch key {
        case "graph": return "(SELECT slug FROM graph WHERE id = \(a).graph_id)"
        case "prompt": return "(SELECT p.text FROM graph g JOIN prompt p ON p.id = g.prompt_id WHERE g.id = \(a).graph_id)"
        case "label":
            return "(SELECT COALESCE(f.user_label, f.label) FROM graph g JOIN feature f ON f.transcoder_set_id = g.transcoder_set_id "
                + "WHERE g.id = \(a).graph_id AND f.layer = \(a).layer AND f.idx = \(a).feature)"
        default: throw error("nodes have no property \"\(key)\" (they have \(Compiler.nodePropertyNames))", location)
        }
    }

    func edgeProperty(_ key: String, _ e: String, _ location: SourceLocation?) throws -> String {
        switch key {
        case "weight": return "\(e).weight"
        case "share": return Compiler.share(e)
        default: throw error("relationships have no property \"\(key)\" (they have weight and share)", location)
        }
    }

    /// An edge's share of its target's total absolute input (the stored `input_abs`).
    static func share(_ e: String) -> String {
        "(abs(\(e).weight) / (SELECT x.input_abs FROM node x WHERE x.graph_id = \(e).graph_id AND x.idx = \(e).target))"
    }

    static func nodeName(_ a: String) -> String {
        "(CASE \(a).kind WHEN 'feature' THEN 'L' || \(a).layer || '/F' || \(a).feature || '@' || \(a).position "
            + "WHEN 'error' THEN 'error L' || \(a).layer || '@' || \(a).position "
            + "WHEN 'token' THEN '\"' || \(a).token_text || '\"@' || \(a).position ELSE 'logit \"' || \(a).token_text || '\"' END)"
    }

    /// SQL for an expression. `output` allows whole nodes, relationships and paths (shown by name).
    mutating func expression(_ e: Expression, output: Bool = false) throws -> String {
        switch e {
        case let .integer(i): return bind(.integer(Int64(i)))
        case let .float(d): return bind(.double(d))
        case let .string(s): return bind(.text(s))
        case let .boolean(b): return b ? functions.trueValue : functions.falseValue
        case .null: return "NULL"
        case .list: throw error("a list can only follow IN, as in n.layer IN [1, 2, 3]", e.location)
        case .countAll: return multiplicity.map { "coalesce(sum(\($0)), 0)" } ?? "count(*)"
        case let .variable(v, location):
            guard let binding = bindings[v] else { throw unknownVariable(v, location) }
            switch binding {
            case let .node(a), let .element(a, true):
                guard output else { throw error("compare a property of \(v), such as \(v).layer, not the node itself", location) }
                return Compiler.nodeName(a)
            case let .edge(a, source, target):
                guard output else { throw error("compare a property of \(v), such as \(v).weight, not the relationship itself", location) }
                return "(\(Compiler.nodeName(source)) || ' → ' || \(Compiler.nodeName(target)) || \(functions.weightLabel("\(a).weight")))"
            case let .element(a, false):
                guard output else { throw error("compare a property of \(v), such as \(v).weight", location) }
                return "\(a).weight"
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
            return op == "NOT" ? "(NOT \(try expression(a)))" : "(-\(try expression(a)))"
        case let .isNull(a, negated):
            return "(\(try expression(a)) IS \(negated ? "NOT " : "")NULL)"
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

    mutating func binary(_ op: String, _ a: Expression, _ b: Expression, _ location: SourceLocation) throws -> String {
        switch op {
        case "AND", "OR": return "(\(try expression(a)) \(op) \(try expression(b)))"
        case "XOR": return functions.xor(try expression(a), try expression(b))
        case "=":
            // A graph named by slug is found through the unique slug index, not per node.
            if case let .property(v, "graph", _) = a, case let .node(alias)? = bindings[v] {
                return "(\(alias).graph_id = (SELECT id FROM graph WHERE slug = \(try expression(b))))"
            }
            return "(\(try expression(a)) = \(try expression(b)))"
        case "<>", "<", "<=", ">", ">=", "-", "*", "/", "%":
            return "(\(try expression(a)) \(op) \(try expression(b)))"
        case "+":
            let concatenate = { (e: Expression) -> Bool in if case .string = e { return true } else { return false } }
            return "(\(try expression(a)) \(concatenate(a) || concatenate(b) ? "||" : "+") \(try expression(b)))"
        case "IN":
            guard case let .list(items) = b else { throw error("IN needs a list of values, as in n.layer IN [10, 11]", location) }
            if items.isEmpty { return "0" }
            return "(\(try expression(a)) IN (\(try items.map { try expression($0) }.joined(separator: ", "))))"
        case "STARTS WITH":
            let (x, y) = (try expression(a), try expression(b))
            return "(substr(\(x), 1, length(\(y))) = \(y))"
        case "ENDS WITH":
            let (x, y) = (try expression(a), try expression(b))
            return "(length(\(y)) = 0 OR \(functions.endsWith(x, y)))"
        case "CONTAINS":
            return functions.contains(try expression(a), try expression(b))
        default:
            throw error("unknown operator \(op)", location)
        }
    }

    mutating func call(_ name: String, _ arguments: [Expression], distinct: Bool, location: SourceLocation) throws -> String {
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
                return "count(\(distinct ? "DISTINCT " : "")\(a).graph_id)"
            }
            let argument = try expression(arguments[0], output: f == "collect" || f == "count")
            // Counted walks: each row stands for `mult` paths, so count, sum and avg weigh by it.
            if let m = multiplicity, !distinct {
                switch f {
                case "count": return "coalesce(sum(CASE WHEN \(argument) IS NOT NULL THEN \(m) ELSE 0 END), 0)"
                case "sum": return "sum((\(argument)) * (\(m)))"
                case "avg": return functions.real("(sum((\(argument)) * (\(m))) * 1.0 / sum(CASE WHEN \(argument) IS NOT NULL THEN \(m) END))")
                default: break
                }
            }
            let inner = (distinct ? "DISTINCT " : "") + argument
            switch f {
            case "collect": return functions.collect(inner)
            case "avg": return functions.real("avg(\(inner))")
            default: return "\(f)(\(inner))"
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
        case "abs": try arity(1...1); return "abs(\(try expression(arguments[0])))"
        case "sign":
            try arity(1...1)
            let x = try expression(arguments[0])
            return "(CASE WHEN \(x) > 0 THEN 1 WHEN \(x) < 0 THEN -1 WHEN \(x) = 0 THEN 0 END)"
        case "round": try arity(1...2); return functions.round(try expression(arguments[0]), try arguments.count > 1 ? expression(arguments[1]) : nil)
        case "tolower": try arity(1...1); return "lower(\(try expression(arguments[0])))"
        case "toupper": try arity(1...1); return "upper(\(try expression(arguments[0])))"
        case "coalesce": try arity(1...8); return "coalesce(\(try arguments.map { try expression($0) }.joined(separator: ", ")), NULL)"
        case "size":
            try arity(1...1)
            guard isList(arguments[0]) else { throw error("size() takes a list such as nodes(p) or collect(…)", location) }
            return functions.arrayLength(try expression(arguments[0], output: true))
        default:
            throw error("unknown function \(name)() (functions: \(Functions.all.joined(separator: ", ")))", location)
        }
    }

    // MARK: Paths

    func pathNodes(_ p: String, _ location: SourceLocation) throws -> String {
        let path = paths[p]!
        var list = "\(path.start).idx"
        for segment in path.segments {
            switch segment {
            case let .edge(_, target): list += " || ',' || \(target).idx"
            case let .walk(w, _): list += " || ',' || \(w).nodes"
            }
        }
        return "(SELECT \(functions.collect("name")) FROM (SELECT \(Compiler.nodeName("nn")) AS name FROM \(functions.arrayElements("'[' || \(list) || ']'", "j")) "
            + "JOIN node nn ON nn.graph_id = \(path.start).graph_id AND nn.idx = j.value ORDER BY j.key) names)"
    }

    func pathRelationships(_ p: String) -> String {
        let parts = paths[p]!.segments.map { segment -> String in
            switch segment {
            case let .edge(e, _): functions.numberText("\(e).weight")
            case let .walk(w, _): "\(w).weights"
            }
        }
        return functions.json("'[' || \(parts.joined(separator: " || ',' || ")) || ']'")
    }

    func pathLength(_ p: String) -> String {
        let parts = paths[p]!.segments.map { segment -> String in
            switch segment {
            case .edge: "1"
            case let .walk(w, _): "\(w).hops"
            }
        }
        return "(\(parts.joined(separator: " + ")))"
    }

    func pathStrength(_ p: String) -> String {
        let parts = paths[p]!.segments.map { segment -> String in
            switch segment {
            case let .edge(e, _): (try? edgeProperty("share", e, nil)) ?? "1"
            case let .walk(w, _): "\(w).strength"
            }
        }
        return "(\(parts.joined(separator: " * ")))"
    }

    /// ALL / ANY / NONE over nodes(p) or relationships(p): single edges and nodes are checked in
    /// place, walks contribute their flag (or nothing, when the ALL was checked inside the walk).
    mutating func quantifier(_ kind: String, _ variable: String, _ list: Expression, _ predicate: Expression,
                             _ location: SourceLocation) throws -> String {
        guard case let .call(function, arguments, _, _) = list, ["nodes", "relationships"].contains(function.lowercased()),
              arguments.count == 1, case let .variable(p, _) = arguments[0], let path = paths[p] else {
            throw error("\(kind)(…) works over nodes(p) or relationships(p) of a named path p", list.location ?? location)
        }
        guard !insideWalk else { throw error("\(kind)(…) cannot be nested inside another quantifier over a path", location) }
        let overNodes = function.lowercased() == "nodes"
        var parts = [String]()
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
        if parts.isEmpty { return kind == "ANY" ? functions.falseValue : functions.trueValue }
        switch kind {
        case "ALL": return "(" + parts.map { "(\($0))" }.joined(separator: " AND ") + ")"
        case "ANY": return "(" + parts.map { "(\($0))" }.joined(separator: " OR ") + ")"
        default: return "(NOT (" + parts.map { "(\($0))" }.joined(separator: " OR ") + "))"
        }
    }
}
