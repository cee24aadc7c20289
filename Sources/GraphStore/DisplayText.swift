// Text that came from a prompt or a vocabulary, shown on one line: control characters become
// visible escapes (\n, \t, \r, \xNN), everything else is kept as it is.

public enum DisplayText {
    public static func visible(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + String(scalar.value, radix: 16).leftPadded(to: 2)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}

extension DisplayText {
    /// A Graphviz DOT string literal whose label shows exactly `text`: quotes and backslashes
    /// escaped for the DOT parser and Graphviz's label escapes (\n, \N, \G, …), a newline as a line
    /// break, "&" as an entity (Graphviz decodes entities in labels), other control characters made
    /// visible. It works on Unicode scalars, not characters: a quote followed by a combining mark
    /// is one Character, and must still be escaped.
    public static func dotQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "&": out += "&amp;"
            // Other control characters as their visible escapes, whose backslash DOT must see doubled.
            default: out += visible(String(scalar)).replacingOccurrences(of: "\\", with: "\\\\")
            }
        }
        return out + "\""
    }
}

extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
