// CircuitQL's lexer: the query text as tokens, each with its line and column for error messages.

/// A place in the query text (1-based line and column) and its offset.
public struct SourceLocation: Sendable, Equatable {
    public var line: Int
    public var column: Int
    public var offset: Int
}

/// An error in a query, shown with the line and a caret under the spot.
public struct CircuitQLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var location: SourceLocation?
    public var source: String

    public init(_ message: String, at location: SourceLocation? = nil, in source: String) {
        self.message = message
        self.location = location
        self.source = source
    }

    public var description: String {
        guard let location else { return message }
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        let text = location.line - 1 < lines.count ? String(lines[location.line - 1]) : ""
        return "line \(location.line), column \(location.column): \(message)\n  \(text)\n  \(String(repeating: " ", count: max(location.column - 1, 0)))^"
    }
}

enum TokenKind: Equatable, Sendable {
    case identifier(String)
    case keyword(String)        // upper-cased
    case string(String)
    case integer(Int)
    case float(Double)
    case symbol(String)         // ( ) [ ] { } : , . .. - -> <- * = <> != < <= > >= + / | %
    case end
}

struct Token: Sendable {
    var kind: TokenKind
    var location: SourceLocation
    /// Offset just past the token in the source.
    var endOffset: Int
}

enum Lexer {
    static let keywords: Set<String> = [
        "MATCH", "USE", "WHERE", "RETURN", "DISTINCT", "AS", "ORDER", "BY", "ASC", "ASCENDING", "DESC", "DESCENDING", "SKIP",
        "LIMIT", "AND", "OR", "NOT", "XOR", "IN", "STARTS", "ENDS", "WITH", "CONTAINS", "IS", "NULL", "TRUE", "FALSE", "ALL", "ANY",
        "NONE",
    ]

    static func tokens(_ source: String) throws -> [Token] {
        let chars = Array(source.unicodeScalars)
        var out = [Token]()
        var i = 0, line = 1, column = 1
        func here() -> SourceLocation { SourceLocation(line: line, column: column, offset: i) }
        func advance(_ n: Int = 1) {
            for _ in 0..<n where i < chars.count {
                if chars[i] == "\n" { line += 1; column = 1 } else { column += 1 }
                i += 1
            }
        }
        func fail(_ message: String, _ at: SourceLocation) -> CircuitQLError { CircuitQLError(message, at: at, in: source) }

        while i < chars.count {
            let c = chars[i]
            if c == " " || c == "\t" || c == "\n" || c == "\r" { advance(); continue }
            // Comments: // to the end of the line.
            if c == "/", i + 1 < chars.count, chars[i + 1] == "/" {
                while i < chars.count && chars[i] != "\n" { advance() }
                continue
            }
            let start = here()
            if c.properties.isAlphabetic || c == "_" {
                var word = ""
                while i < chars.count, chars[i].properties.isAlphabetic || chars[i] == "_" || ("0"..."9").contains(chars[i]) {
                    word.unicodeScalars.append(chars[i]); advance()
                }
                let upper = word.uppercased()
                out.append(Token(kind: keywords.contains(upper) ? .keyword(upper) : .identifier(word), location: start, endOffset: i))
            } else if c == "`" {
                advance()
                var word = ""
                while i < chars.count && chars[i] != "`" { word.unicodeScalars.append(chars[i]); advance() }
                guard i < chars.count else { throw fail("unterminated `quoted name`", start) }
                advance()
                out.append(Token(kind: .identifier(word), location: start, endOffset: i))
            } else if ("0"..."9").contains(c) {
                var text = ""
                var isFloat = false
                while i < chars.count {
                    let d = chars[i]
                    if ("0"..."9").contains(d) { text.unicodeScalars.append(d); advance(); continue }
                    // A "." starts a fraction unless it is the ".." of a range.
                    if d == ".", !isFloat, i + 1 < chars.count, ("0"..."9").contains(chars[i + 1]) {
                        isFloat = true; text += "."; advance(); continue
                    }
                    if (d == "e" || d == "E"), i + 1 < chars.count,
                       ("0"..."9").contains(chars[i + 1]) || ((chars[i + 1] == "-" || chars[i + 1] == "+") && i + 2 < chars.count && ("0"..."9").contains(chars[i + 2])) {
                        isFloat = true; text.unicodeScalars.append(d); advance()
                        text.unicodeScalars.append(chars[i]); advance()
                        continue
                    }
                    break
                }
                if isFloat {
                    guard let value = Double(text) else { throw fail("bad number \(text)", start) }
                    out.append(Token(kind: .float(value), location: start, endOffset: i))
                } else {
                    guard let value = Int(text) else { throw fail("the number \(text) is too large", start) }
                    out.append(Token(kind: .integer(value), location: start, endOffset: i))
                }
            } else if c == "'" || c == "\"" {
                let quote = c
                advance()
                var text = ""
                var closed = false
                while i < chars.count {
                    let d = chars[i]
                    if d == quote { advance(); closed = true; break }
                    if d == "\\", i + 1 < chars.count {
                        advance()
                        switch chars[i] {
                        case "n": text += "\n"
                        case "t": text += "\t"
                        case "r": text += "\r"
                        case "\\": text += "\\"
                        case "'": text += "'"
                        case "\"": text += "\""
                        default: throw fail("unknown escape \\\(chars[i]) in a string", here())
                        }
                        advance()
                        continue
                    }
                    text.unicodeScalars.append(d)
                    advance()
                }
                guard closed else { throw fail("unterminated string", start) }
                out.append(Token(kind: .string(text), location: start, endOffset: i))
            } else {
                let two = i + 1 < chars.count ? String(String.UnicodeScalarView([c, chars[i + 1]])) : ""
                if ["->", "<-", "..", "<>", "!=", "<=", ">="].contains(two) {
                    advance(2)
                    out.append(Token(kind: .symbol(two), location: start, endOffset: i))
                } else if "()[]{}:,.-*=<>+/|%".unicodeScalars.contains(c) {
                    advance()
                    out.append(Token(kind: .symbol(String(c)), location: start, endOffset: i))
                } else if c == ";" {
                    advance()   // a trailing semicolon is allowed and ignored
                } else {
                    throw fail("unexpected character \"\(c)\"", start)
                }
            }
        }
        out.append(Token(kind: .end, location: here(), endOffset: i))
        return out
    }
}
