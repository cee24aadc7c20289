// CircuitQL's parser: recursive descent over the lexer's tokens into a Query.
//
//   query    := [USE name] MATCH pattern {, pattern} {MATCH pattern {, pattern}} [WHERE expr]
//               RETURN [DISTINCT] item {, item} [ORDER BY expr [ASC|DESC] {, …}] [SKIP n] [LIMIT n]
//   pattern  := [var =] node {rel node}
//   node     := ( [var] {:Label} [{key: expr, …}] )
//   rel      := -[ [var] [:ATTR] [*[min][..max]] [{…}] ]->  |  <-[ … ]-  |  -->  |  <--
//   expr     := or-expression with NOT, comparisons, IN, STARTS WITH, ENDS WITH, CONTAINS,
//               IS [NOT] NULL, + - * / %, function calls, ALL/ANY/NONE(x IN list WHERE expr)

struct Parser {
    let source: String
    var tokens: [Token]
    var index = 0

    /// Default and hard maximum for variable-length relationships.
    static let defaultMaxHops = 4
    static let hardMaxHops = 8

    /// Bounds on what a query may nest or chain, so parsing and compiling never exhaust the stack.
    static let maxDepth = 64, maxOperators = 500
    var depth = 0, operators = 0

    init(_ source: String) throws {
        self.source = source
        if source.unicodeScalars.contains("\u{0}") {
            throw CircuitQLError("the query contains a NUL character (queries are text)", in: source.replacingOccurrences(of: "\u{0}", with: "␀"))
        }
        tokens = try Lexer.tokens(source)
    }

    /// Counts one more level of nesting (parentheses, NOT, signs, lists, calls).
    mutating func nest() throws {
        depth += 1
        if depth > Self.maxDepth { throw error("the query is nested too deeply (more than \(Self.maxDepth) levels)") }
    }

    /// Counts one more operator.
    mutating func countOperator(at location: SourceLocation) throws {
        operators += 1
        if operators > Self.maxOperators { throw error("the query has more than \(Self.maxOperators) operators", at: location) }
    }

    static func parse(_ source: String) throws -> Query {
        var parser = try Parser(source)
        return try parser.query()
    }

    // MARK: Token helpers

    var current: Token { tokens[index] }
    mutating func next() -> Token { defer { if index < tokens.count - 1 { index += 1 } }; return tokens[index] }

    func error(_ message: String, at location: SourceLocation? = nil) -> CircuitQLError {
        CircuitQLError(message, at: location ?? current.location, in: source)
    }

    func describe(_ token: Token) -> String {
        switch token.kind {
        case let .identifier(s): "\"\(s)\""
        case let .keyword(s): s
        case let .string(s): "the string '\(s)'"
        case let .integer(i): "\(i)"
        case let .float(d): "\(d)"
        case let .symbol(s): "\"\(s)\""
        case .end: "the end of the query"
        }
    }

    func isKeyword(_ k: String) -> Bool { current.kind == .keyword(k) }
    func isSymbol(_ s: String) -> Bool { current.kind == .symbol(s) }

    mutating func accept(keyword k: String) -> Bool {
        if isKeyword(k) { _ = next(); return true }
        return false
    }

    mutating func accept(symbol s: String) -> Bool {
        if isSymbol(s) { _ = next(); return true }
        return false
    }

    mutating func expect(keyword k: String, _ context: String) throws {
        guard accept(keyword: k) else { throw error("expected \(k) \(context), found \(describe(current))") }
    }

    mutating func expect(symbol s: String, _ context: String) throws {
        guard accept(symbol: s) else { throw error("expected \"\(s)\" \(context), found \(describe(current))") }
    }

    mutating func identifier(_ what: String) throws -> String {
        if case let .identifier(name) = current.kind { _ = next(); return name }
        throw error("expected \(what), found \(describe(current))")
    }

    mutating func integer(_ what: String) throws -> Int {
        if case let .integer(value) = current.kind { _ = next(); return value }
        throw error("expected \(what) (a whole number), found \(describe(current))")
    }

    // MARK: Clauses

    mutating func query() throws -> Query {
        var use: (String, SourceLocation)?
        if isKeyword("USE") {
            _ = next()
            let location = current.location
            switch next().kind {
            case let .string(s), let .identifier(s): use = (s, location)
            case let .integer(i): use = (String(i), location)
            default: throw error("expected a graph's slug or id after USE", at: location)
            }
        }
        guard isKeyword("MATCH") else { throw error("a query starts with MATCH (or USE 'graph' then MATCH), found \(describe(current))") }
        var patterns = [PathPattern]()
        while accept(keyword: "MATCH") {
            repeat { patterns.append(try pattern()) } while accept(symbol: ",")
        }
        var whereClause: Expression?
        if accept(keyword: "WHERE") { whereClause = try expression() }
        try expect(keyword: "RETURN", "after the patterns\(whereClause == nil ? " (or WHERE)" : "")")
        let distinct = accept(keyword: "DISTINCT")
        var items = [ReturnItem]()
        repeat {
            let start = current.location.offset
            let e = try expression()
            let end = tokens[index - 1].endOffset
            let text = String(source.unicodeScalars[source.unicodeScalars.index(source.unicodeScalars.startIndex, offsetBy: start)..<source.unicodeScalars.index(source.unicodeScalars.startIndex, offsetBy: end)])
            var alias: String?
            if accept(keyword: "AS") { alias = try identifier("a column name after AS") }
            items.append(ReturnItem(expression: e, alias: alias, text: text))
        } while accept(symbol: ",")
        var orderBy = [(Expression, Bool)]()
        if accept(keyword: "ORDER") {
            try expect(keyword: "BY", "after ORDER")
            repeat {
                let e = try expression()
                var descending = false
                if accept(keyword: "DESC") || accept(keyword: "DESCENDING") { descending = true } else { _ = accept(keyword: "ASC") || accept(keyword: "ASCENDING") }
                orderBy.append((e, descending))
            } while accept(symbol: ",")
        }
        var skip: Int?, limit: Int?
        if accept(keyword: "SKIP") { skip = try integer("a row count after SKIP") }
        if accept(keyword: "LIMIT") { limit = try integer("a row count after LIMIT") }
        guard current.kind == .end else { throw error("unexpected \(describe(current)) after the end of the query") }
        return Query(use: use, patterns: patterns, whereClause: whereClause, distinct: distinct, items: items, orderBy: orderBy,
                     skip: skip, limit: limit)
    }

    mutating func pattern() throws -> PathPattern {
        var name: String?
        if case let .identifier(n) = current.kind, tokens[index + 1].kind == .symbol("=") {
            name = n
            index += 2
        }
        var nodes = [try node()]
        var relationships = [RelationshipPattern]()
        while isSymbol("-") || isSymbol("<-") {
            relationships.append(try relationship())
            nodes.append(try node())
        }
        return PathPattern(name: name, nodes: nodes, relationships: relationships)
    }

    mutating func node() throws -> NodePattern {
        let location = current.location
        try expect(symbol: "(", "to start a node pattern")
        var variable: String?
        if case let .identifier(v) = current.kind { variable = v; _ = next() }
        var labels = [(String, SourceLocation)]()
        while accept(symbol: ":") {
            let at = current.location
            labels.append((try identifier("a label (Token, Feature, Error or Logit)"), at))
        }
        let properties = isSymbol("{") ? try propertyMap() : []
        try expect(symbol: ")", "to close the node pattern")
        return NodePattern(variable: variable, labels: labels, properties: properties, location: location)
    }

    mutating func propertyMap() throws -> [(String, Expression, SourceLocation)] {
        try expect(symbol: "{", "")
        var out = [(String, Expression, SourceLocation)]()
        if accept(symbol: "}") { return out }
        repeat {
            let at = current.location
            let key = try identifier("a property name")
            try expect(symbol: ":", "after the property name")
            out.append((key, try expression(), at))
        } while accept(symbol: ",")
        try expect(symbol: "}", "to close the property map")
        return out
    }

    mutating func relationship() throws -> RelationshipPattern {
        let location = current.location
        let leftward = next().kind == .symbol("<-")
        var variable: String?
        var hops: (Int, Int)?
        var properties = [(String, Expression, SourceLocation)]()
        if accept(symbol: "[") {
            if case let .identifier(v) = current.kind { variable = v; _ = next() }
            if accept(symbol: ":") {
                let at = current.location
                let type = try identifier("a relationship type")
                guard type.uppercased() == "ATTR" else { throw error("unknown relationship type :\(type) (the only one is :ATTR)", at: at) }
            }
            if isSymbol("*") {
                let star = next().location
                var low: Int?, high: Int?
                if case let .integer(i) = current.kind { low = i; _ = next() }
                if accept(symbol: "..") {
                    if case let .integer(i) = current.kind { high = i; _ = next() } else {
                        throw error("variable-length relationships need an upper bound, as in *1..4 (at most \(Self.hardMaxHops))", at: star)
                    }
                } else {
                    high = low ?? Self.defaultMaxHops
                }
                let lo = low ?? 1, hi = high!
                guard lo >= 1, hi >= lo else { throw error("the path length range *\(lo)..\(hi) is empty or starts below 1", at: star) }
                guard hi <= Self.hardMaxHops else {
                    throw error("paths of up to \(hi) relationships are too long to search; the maximum is \(Self.hardMaxHops)", at: star)
                }
                hops = (lo, hi)
            }
            if isSymbol("{") { properties = try propertyMap() }
            try expect(symbol: "]", "to close the relationship")
        }
        if leftward {
            try expect(symbol: "-", "after <-[…] (relationships are directed: <-[…]- or -[…]->)")
        } else if !accept(symbol: "->") {
            throw error("relationships are directed: write -[…]-> or <-[…]-, not an undirected -[…]-")
        }
        if hops != nil && !properties.isEmpty { throw error("a variable-length relationship cannot have a property map; use ALL(r IN relationships(p) WHERE …)", at: location) }
        return RelationshipPattern(variable: variable, hops: hops, properties: properties, leftward: leftward, location: location)
    }

    // MARK: Expressions

    mutating func expression() throws -> Expression {
        try nest()
        defer { depth -= 1 }
        return try orExpression()
    }

    mutating func orExpression() throws -> Expression {
        var left = try xorExpression()
        while isKeyword("OR") {
            let at = next().location
            try countOperator(at: at)
            left = .binary("OR", left, try xorExpression(), at)
        }
        return left
    }

    mutating func xorExpression() throws -> Expression {
        var left = try andExpression()
        while isKeyword("XOR") {
            let at = next().location
            try countOperator(at: at)
            left = .binary("XOR", left, try andExpression(), at)
        }
        return left
    }

    mutating func andExpression() throws -> Expression {
        var left = try notExpression()
        while isKeyword("AND") {
            let at = next().location
            try countOperator(at: at)
            left = .binary("AND", left, try notExpression(), at)
        }
        return left
    }

    mutating func notExpression() throws -> Expression {
        if isKeyword("NOT") {
            let at = next().location
            try nest()
            try countOperator(at: at)
            defer { depth -= 1 }
            return .unary("NOT", try notExpression(), at)
        }
        return try comparison()
    }

    mutating func comparison() throws -> Expression {
        var left = try additive()
        while true {
            let at = current.location
            if case let .symbol(s) = current.kind, ["=", "<>", "!=", "<", "<=", ">", ">="].contains(s) {
                _ = next()
                try countOperator(at: at)
                left = .binary(s == "!=" ? "<>" : s, left, try additive(), at)
            } else if accept(keyword: "IN") {
                try countOperator(at: at)
                left = .binary("IN", left, try additive(), at)
            } else if accept(keyword: "STARTS") {
                try expect(keyword: "WITH", "after STARTS")
                try countOperator(at: at)
                left = .binary("STARTS WITH", left, try additive(), at)
            } else if accept(keyword: "ENDS") {
                try expect(keyword: "WITH", "after ENDS")
                try countOperator(at: at)
                left = .binary("ENDS WITH", left, try additive(), at)
            } else if accept(keyword: "CONTAINS") {
                try countOperator(at: at)
                left = .binary("CONTAINS", left, try additive(), at)
            } else if accept(keyword: "IS") {
                let negated = accept(keyword: "NOT")
                try expect(keyword: "NULL", "after IS\(negated ? " NOT" : "")")
                try countOperator(at: at)
                left = .isNull(left, negated: negated)
            } else {
                return left
            }
        }
    }

    mutating func additive() throws -> Expression {
        var left = try multiplicative()
        while isSymbol("+") || isSymbol("-") {
            let token = next()
            guard case let .symbol(s) = token.kind else { break }
            try countOperator(at: token.location)
            left = .binary(s, left, try multiplicative(), token.location)
        }
        return left
    }

    mutating func multiplicative() throws -> Expression {
        var left = try unary()
        while isSymbol("*") || isSymbol("/") || isSymbol("%") {
            let token = next()
            guard case let .symbol(s) = token.kind else { break }
            try countOperator(at: token.location)
            left = .binary(s, left, try unary(), token.location)
        }
        return left
    }

    mutating func unary() throws -> Expression {
        if isSymbol("-") || isSymbol("+") {
            try nest()
        } else {
            return try primary()
        }
        defer { depth -= 1 }
        if isSymbol("-") {
            let at = next().location
            try countOperator(at: at)
            switch try unary() {
            case let .integer(i): return .integer(-i)
            case let .float(d): return .float(-d)
            case let e: return .unary("-", e, at)
            }
        }
        if accept(symbol: "+") { return try unary() }
        return try primary()
    }

    mutating func primary() throws -> Expression {
        let token = current
        let at = token.location
        switch token.kind {
        case let .integer(i): _ = next(); return .integer(i)
        case let .float(d): _ = next(); return .float(d)
        case let .string(s): _ = next(); return .string(s)
        case .keyword("TRUE"): _ = next(); return .boolean(true)
        case .keyword("FALSE"): _ = next(); return .boolean(false)
        case .keyword("NULL"): _ = next(); return .null
        case .symbol("["):
            _ = next()
            var items = [Expression]()
            if !isSymbol("]") {
                repeat { items.append(try expression()) } while accept(symbol: ",")
            }
            try expect(symbol: "]", "to close the list")
            return .list(items)
        case .symbol("("):
            _ = next()
            let e = try expression()
            try expect(symbol: ")", "to close the parenthesis")
            return e
        case .keyword("ALL"), .keyword("ANY"), .keyword("NONE"):
            guard case let .keyword(quantifier) = next().kind else { break }
            try expect(symbol: "(", "after \(quantifier)")
            let variable = try identifier("a variable, as in \(quantifier)(r IN relationships(p) WHERE …)")
            try expect(keyword: "IN", "after \(quantifier)(\(variable)")
            let list = try expression()
            try expect(keyword: "WHERE", "in \(quantifier)(\(variable) IN … WHERE …)")
            let predicate = try expression()
            try expect(symbol: ")", "to close \(quantifier)(…)")
            return .quantifier(quantifier, variable: variable, list: list, predicate: predicate, location: at)
        case let .identifier(name):
            _ = next()
            if accept(symbol: "(") {
                if name.lowercased() == "count", accept(symbol: "*") {
                    try expect(symbol: ")", "after count(*")
                    return .countAll(at)
                }
                let distinct = accept(keyword: "DISTINCT")
                var arguments = [Expression]()
                if !isSymbol(")") {
                    repeat { arguments.append(try expression()) } while accept(symbol: ",")
                }
                try expect(symbol: ")", "to close \(name)(…)")
                return .call(name: name, arguments: arguments, distinct: distinct, location: at)
            }
            if accept(symbol: ".") {
                let propertyAt = current.location
                return .property(name, try identifier("a property name after \"\(name).\""), propertyAt)
            }
            return .variable(name, at)
        default: break
        }
        throw error("expected a value, a variable or a function call, found \(describe(token))")
    }
}
