// A compiled query's plan: relational statements over the store's tables in no engine's spelling.
//
//   text → Lexer → Parser (AST) → Compiler (plan) → Plan+SQL (SQL in one dialect) → the store
//
// The compiler decides what to read and how to join and filter it (node and edge rows, walks fed
// back as rows, subqueries for a node's graph, prompt or label); a plan names what engines spell
// differently (collecting into a JSON array, substring tests, rounding, truth values, reading JSON
// rows) as `PlanCall`s, which each backend's `SQLFunctions` spells. Values from the query are
// parameters (their number in the argument list), never text in the plan.

import GraphStore

/// A scalar expression.
indirect enum PlanExpr: Sendable {
    /// alias.column
    case column(String, String)
    /// A column of the statement's own output or of a CTE, unqualified (c0, value).
    case name(String)
    /// The n-th bound argument (1-based).
    case parameter(Int)
    case integer(Int)
    case real(Double)
    /// A constant the compiler writes (node kinds, separators), not a value from the query.
    case text(String)
    case boolean(Bool)
    case null
    case not(PlanExpr)
    case negate(PlanExpr)
    /// AND OR = <> < <= > >= + - * / % || — always parenthesised when rendered.
    case binary(String, PlanExpr, PlanExpr)
    case isNull(PlanExpr, negated: Bool)
    case inList(PlanExpr, [PlanExpr])
    /// CASE [subject] WHEN … THEN … [ELSE …] END
    case caseWhen(subject: PlanExpr?, [(PlanExpr, PlanExpr)], otherwise: PlanExpr?)
    /// A function every engine spells alike (abs, lower, upper, coalesce, length, substr).
    case function(String, [PlanExpr])
    /// count/sum/min/max/avg; nil argument: count(*).
    case aggregate(String, distinct: Bool, PlanExpr?)
    /// What engines spell differently.
    case call(PlanCall)
    /// A scalar subquery.
    case subquery(SelectPlan)

    /// a op b op …, left to right; `empty` when there are no parts.
    static func chain(_ op: String, _ parts: [PlanExpr], empty: PlanExpr = .null) -> PlanExpr {
        guard let first = parts.first else { return empty }
        return parts.dropFirst().reduce(first) { .binary(op, $0, $1) }
    }

    static func and(_ parts: [PlanExpr]) -> PlanExpr { chain("AND", parts, empty: .boolean(true)) }
    static func or(_ parts: [PlanExpr]) -> PlanExpr { chain("OR", parts, empty: .boolean(false)) }
    /// a || b || …
    static func concat(_ parts: [PlanExpr]) -> PlanExpr { chain("||", parts) }

    static func equal(_ a: PlanExpr, _ b: PlanExpr) -> PlanExpr { .binary("=", a, b) }
}

/// Operations each dialect spells its own way (see SQLFunctions).
enum PlanCall: Sendable {
    case rarely(PlanExpr)
    case truth(PlanExpr)
    case xor(PlanExpr, PlanExpr)
    case contains(PlanExpr, PlanExpr)
    case endsWith(PlanExpr, PlanExpr)
    case collect(PlanExpr, distinct: Bool)
    case arrayLength(PlanExpr)
    case json(PlanExpr)
    case real(PlanExpr)
    case round(PlanExpr, digits: PlanExpr?)
    case weightLabel(PlanExpr)
    case numberText(PlanExpr)
    /// Element k of the current JSON row (a walk's rows, read from `PlanSource.jsonRows`).
    case jsonRowColumn(Int, JSONColumnType)
}

/// A FROM item. Several items are joined by the statement's filters.
enum PlanSource: Sendable {
    case table(String, alias: String)
    /// A CTE of the statement, by name.
    case cte(String)
    /// A subquery's rows under an alias.
    case derived(SelectPlan, alias: String)
    /// The numbers of a JSON array (text) as rows with columns `value` and `key` (position).
    case arrayElements(PlanExpr, alias: String)
    /// The rows of a JSON array bound as a parameter, one JSON row each.
    case jsonRows(PlanExpr)
}

/// A named subquery before the statement (a walk's rows), computed once, not inlined.
struct PlanCTE: Sendable {
    var name: String
    var columns: [String]
    var body: SelectPlan
}

/// One SELECT.
struct SelectPlan: Sendable {
    var ctes = [PlanCTE]()
    var distinct = false
    /// Output expressions, with their column names when they need one.
    var items: [(PlanExpr, alias: String?)]
    var sources: [PlanSource]
    var filters = [PlanExpr]()
    var groups = [PlanExpr]()
    var order = [(PlanExpr, descending: Bool)]()
    var limit: Int?
    var offset: Int?
}
