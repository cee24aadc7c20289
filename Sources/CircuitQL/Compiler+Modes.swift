// How each walk of a query is computed (see Compiler+Walks): strongest first, counted, or listed.

extension Compiler {
    /// Sets each walk's mode; returns true when the query's single walk runs strongest first.
    ///   - strongest first: no aggregate, one walk, which is the whole of a path p, ORDER BY starts
    ///     with strength(p) DESC (or its alias), and a LIMIT: the k best paths are exact;
    ///   - counted: an aggregating query whose paths are used only through length(p) and
    ///     quantifiers, and whose aggregates can weigh rows (count, sum, avg, min, max; collect
    ///     only with DISTINCT);
    ///   - listed otherwise.
    mutating func chooseWalkModes(_ query: Query) -> Bool {
        guard !walks.isEmpty else { return false }
        let aggregated = query.items.contains { $0.expression.hasAggregate }
        if aggregated {
            let uses = Compiler.pathUses(in: query)
            let onlyLength = paths.keys.allSatisfy { name in
                Compiler.walkAliases(paths[name]!).isEmpty || uses[name, default: []].isSubset(of: ["length"])
            }
            let aggregates = query.items.map(\.expression) + query.orderBy.map(\.expression)
            if onlyLength && aggregates.allSatisfy(Compiler.weighable) {
                for i in walks.indices { walks[i].mode = .counting }
                multiplicity = .chain("*", walks.map { .column($0.alias, "mult") })
            }
            return false
        }
        guard walks.count == 1, query.limit != nil, let first = query.orderBy.first, first.descending,
              let p = strengthPath(first.expression, items: query.items),
              let path = paths[p], path.segments.count == 1, case let .walk(w, _) = path.segments[0], w == walks[0].alias
        else { return false }
        walks[0].mode = .strongest
        return true
    }

    /// p when `e` is strength(p), or the alias of a RETURN item that is.
    func strengthPath(_ e: Expression, items: [ReturnItem]) -> String? {
        switch e {
        case let .call(name, arguments, _, _) where name.lowercased() == "strength" && arguments.count == 1:
            if case let .variable(p, _) = arguments[0], paths[p] != nil { return p }
            return nil
        case let .variable(name, _):
            guard let item = items.first(where: { $0.alias == name }) else { return nil }
            if case .variable = item.expression { return nil }
            return strengthPath(item.expression, items: [])
        default:
            return nil
        }
    }

    /// Whether every aggregate in `e` gives the same answer on rows weighted by multiplicity.
    static func weighable(_ e: Expression) -> Bool {
        if case let .call(name, _, distinct, _) = e, name.lowercased() == "collect" && !distinct { return false }
        return e.children.allSatisfy(weighable)
    }

    /// For each path name, the functions applied to it outside quantifier lists ("" for the bare path).
    static func pathUses(in query: Query) -> [String: Set<String>] {
        var uses = [String: Set<String>]()
        func visit(_ e: Expression) {
            switch e {
            case let .variable(v, _): uses[v, default: []].insert("")
            case let .call(name, arguments, _, _):
                if arguments.count == 1, case let .variable(p, _) = arguments[0], Functions.path.contains(name.lowercased()) {
                    uses[p, default: []].insert(name.lowercased())
                } else {
                    arguments.forEach(visit)
                }
            case let .quantifier(_, _, list, predicate, _):
                if pathListArgument(list) == nil { visit(list) }
                visit(predicate)
            default:
                e.children.forEach(visit)
            }
        }
        query.expressions.forEach(visit)
        return uses
    }
}
