// A plan as SQL text in one dialect: the engine-neutral parts written once here, the rest asked of
// the backend's SQLFunctions.

import GraphStore

extension SelectPlan {
    /// The statement in the spelling of `functions`.
    func sql(_ functions: SQLFunctions) -> String { PlanRenderer(functions: functions).statement(self) }
}

extension PlanExpr {
    func sql(_ functions: SQLFunctions) -> String { PlanRenderer(functions: functions).expression(self) }
}

struct PlanRenderer {
    let functions: SQLFunctions

    /// A statement; clauses on lines of their own at the top level, on one line inside another.
    func statement(_ plan: SelectPlan, _ newline: String = "\n") -> String {
        var sql = ""
        if !plan.ctes.isEmpty {
            sql += "WITH RECURSIVE " + plan.ctes.map { cte in
                "\(cte.name)(\(cte.columns.joined(separator: ", "))) AS MATERIALIZED (\(statement(cte.body)))"
            }.joined(separator: "," + newline) + newline
        }
        sql += "SELECT " + (plan.distinct ? "DISTINCT " : "")
        sql += plan.items.map { item in expression(item.0) + (item.alias.map { " AS \($0)" } ?? "") }.joined(separator: ", ")
        if !plan.sources.isEmpty { sql += newline + "FROM " + plan.sources.map(source).joined(separator: ", ") }
        if !plan.filters.isEmpty { sql += newline + "WHERE " + plan.filters.map(condition).joined(separator: " AND ") }
        if !plan.groups.isEmpty { sql += newline + "GROUP BY " + plan.groups.map(expression).joined(separator: ", ") }
        if !plan.order.isEmpty {
            sql += newline + "ORDER BY " + plan.order.map { term in
                expression(term.0) + (term.descending ? " DESC" : "") + functions.nullsOrder(term.descending)
            }.joined(separator: ", ")
        }
        if let limit = plan.limit { sql += newline + "LIMIT \(limit)" }
        if let offset = plan.offset { sql += " OFFSET \(offset)" }
        return sql
    }

    func source(_ s: PlanSource) -> String {
        switch s {
        case let .table(name, alias): "\(name) \(alias)"
        case let .cte(name): name
        case let .derived(plan, alias): "(\(statement(plan, " "))) \(alias)"
        case let .arrayElements(array, alias): functions.arrayElements(expression(array), alias)
        case let .jsonRows(array): functions.jsonRows(expression(array))
        }
    }

    func expression(_ e: PlanExpr) -> String {
        switch e {
        case let .column(alias, column): return "\(alias).\(column)"
        case let .name(name): return name
        case let .parameter(n): return "?\(n)"
        case let .integer(i): return String(i)
        case let .real(d): return String(d)
        case let .text(s): return "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
        case let .boolean(b): return b ? functions.trueValue : functions.falseValue
        case .null: return "NULL"
        case let .not(a): return "(NOT \(expression(a)))"
        case let .negate(a): return "(-\(expression(a)))"
        case let .binary(op, a, b): return "(\(expression(a)) \(op) \(expression(b)))"
        case let .isNull(a, negated): return "(\(expression(a)) IS \(negated ? "NOT " : "")NULL)"
        case let .inList(a, items): return "(\(expression(a)) IN (\(items.map(expression).joined(separator: ", "))))"
        case let .caseWhen(subject, branches, otherwise):
            var sql = "(CASE" + (subject.map { " " + expression($0) } ?? "")
            for (when, then) in branches { sql += " WHEN \(expression(when)) THEN \(expression(then))" }
            if let otherwise { sql += " ELSE \(expression(otherwise))" }
            return sql + " END)"
        case let .function(name, arguments): return "\(name)(\(arguments.map(expression).joined(separator: ", ")))"
        case let .aggregate(name, distinct, argument):
            return "\(name)(\(distinct ? "DISTINCT " : "")\(argument.map(expression) ?? "*"))"
        case let .call(call): return self.call(call)
        case let .subquery(plan): return "(\(statement(plan, " ")))"
        }
    }

    /// A WHERE term, parenthesised unless it already is.
    func condition(_ e: PlanExpr) -> String {
        switch e {
        case .binary, .not, .negate, .isNull, .inList, .caseWhen: expression(e)
        default: "(\(expression(e)))"
        }
    }

    func call(_ c: PlanCall) -> String {
        switch c {
        case let .rarely(x): functions.rarely(expression(x))
        case let .truth(x): functions.truth(expression(x))
        case let .xor(a, b): functions.xor(expression(a), expression(b))
        case let .contains(x, y): functions.contains(expression(x), expression(y))
        case let .endsWith(x, y): functions.endsWith(expression(x), expression(y))
        case let .collect(x, distinct): functions.collect((distinct ? "DISTINCT " : "") + expression(x))
        case let .arrayLength(x): functions.arrayLength(expression(x))
        case let .json(x): functions.json(expression(x))
        case let .real(x): functions.real(expression(x))
        case let .round(x, digits): functions.round(expression(x), digits.map(expression))
        case let .weightLabel(x): functions.weightLabel(expression(x))
        case let .numberText(x): functions.numberText(expression(x))
        case let .jsonRowColumn(i, type): functions.jsonRowColumn(i, type)
        }
    }
}
