// CircuitQL's syntax tree: what the parser builds and the compiler reads.

/// A whole query: `[USE 'graph'] MATCH pattern, … [WHERE expr] RETURN [DISTINCT] items [ORDER BY …] [SKIP n] [LIMIT n]`.
struct Query: Sendable {
    var use: (value: String, location: SourceLocation)?
    var patterns: [PathPattern]
    var whereClause: Expression?
    var distinct: Bool
    var items: [ReturnItem]
    var orderBy: [(expression: Expression, descending: Bool)]
    var skip: Int?
    var limit: Int?
}

/// `p = (a)-[r]->(b)-[*1..3]->(c)`: nodes joined by relationships, optionally named.
struct PathPattern: Sendable {
    var name: String?
    var nodes: [NodePattern]
    /// relationships[i] joins nodes[i] and nodes[i + 1].
    var relationships: [RelationshipPattern]
}

struct NodePattern: Sendable {
    var variable: String?
    var labels: [(name: String, location: SourceLocation)]
    var properties: [(key: String, value: Expression, location: SourceLocation)]
    var location: SourceLocation
}

struct RelationshipPattern: Sendable {
    var variable: String?
    /// nil for a single relationship; (min, max) hops for `*min..max`.
    var hops: (min: Int, max: Int)?
    var properties: [(key: String, value: Expression, location: SourceLocation)]
    /// true for `<-[…]-` (the pattern's right node is the source).
    var leftward: Bool
    var location: SourceLocation
}

struct ReturnItem: Sendable {
    var expression: Expression
    var alias: String?
    /// The expression as written (the column's name when there is no alias).
    var text: String
}

indirect enum Expression: Sendable {
    case integer(Int)
    case float(Double)
    case string(String)
    case boolean(Bool)
    case null
    case list([Expression])
    case variable(String, SourceLocation)
    case property(String, String, SourceLocation)
    case call(name: String, arguments: [Expression], distinct: Bool, location: SourceLocation)
    case countAll(SourceLocation)
    case unary(String, Expression, SourceLocation)
    case binary(String, Expression, Expression, SourceLocation)
    case isNull(Expression, negated: Bool)
    /// ALL / ANY / NONE (x IN list WHERE predicate).
    case quantifier(String, variable: String, list: Expression, predicate: Expression, location: SourceLocation)

    var location: SourceLocation? {
        switch self {
        case let .variable(_, l), let .property(_, _, l), let .countAll(l), let .unary(_, _, l), let .binary(_, _, _, l): l
        case let .call(_, _, _, l), let .quantifier(_, _, _, _, l): l
        case let .isNull(e, _): e.location
        default: nil
        }
    }

    /// Whether an aggregate function appears in the expression.
    var hasAggregate: Bool {
        switch self {
        case .countAll: true
        case let .call(name, arguments, _, _): Functions.aggregates.contains(name.lowercased()) || arguments.contains(where: \.hasAggregate)
        case let .unary(_, e, _), let .isNull(e, _): e.hasAggregate
        case let .binary(_, a, b, _): a.hasAggregate || b.hasAggregate
        case let .list(items): items.contains(where: \.hasAggregate)
        default: false
        }
    }

    /// Where the first aggregate call is.
    var aggregateLocation: SourceLocation? {
        switch self {
        case let .countAll(l): l
        case let .call(name, arguments, _, l): Functions.aggregates.contains(name.lowercased()) ? l : arguments.lazy.compactMap(\.aggregateLocation).first
        case let .unary(_, e, _), let .isNull(e, _): e.aggregateLocation
        case let .binary(_, a, b, _): a.aggregateLocation ?? b.aggregateLocation
        case let .list(items): items.lazy.compactMap(\.aggregateLocation).first
        default: nil
        }
    }

    /// Variables the expression refers to (not counting a quantifier's own variable).
    var variables: Set<String> {
        switch self {
        case let .variable(v, _), let .property(v, _, _): [v]
        case let .call(_, arguments, _, _): arguments.reduce(into: Set<String>()) { $0.formUnion($1.variables) }
        case let .unary(_, e, _), let .isNull(e, _): e.variables
        case let .binary(_, a, b, _): a.variables.union(b.variables)
        case let .list(items): items.reduce(into: Set<String>()) { $0.formUnion($1.variables) }
        case let .quantifier(_, v, list, predicate, _): list.variables.union(predicate.variables.subtracting([v]))
        default: []
        }
    }
}

enum Functions {
    static let aggregates: Set<String> = ["count", "sum", "avg", "min", "max", "collect"]
    static let path: Set<String> = ["nodes", "relationships", "length", "strength"]
    static let scalar: Set<String> = ["abs", "round", "tolower", "toupper", "coalesce", "size", "sign"]
    static var all: [String] { (aggregates.union(path).union(scalar)).sorted() }
}

extension Query {
    /// Every top-level expression: WHERE, the RETURN items, ORDER BY.
    var expressions: [Expression] { (whereClause.map { [$0] } ?? []) + items.map(\.expression) + orderBy.map(\.expression) }
}

extension Expression {
    /// The expressions directly inside this one.
    var children: [Expression] {
        switch self {
        case let .call(_, arguments, _, _): arguments
        case let .unary(_, a, _), let .isNull(a, _): [a]
        case let .binary(_, a, b, _): [a, b]
        case let .list(items): items
        case let .quantifier(_, _, list, predicate, _): [list, predicate]
        default: []
        }
    }
}
