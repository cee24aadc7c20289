// Plain text from HTML: tags removed, entities decoded, block elements on their own lines,
// whitespace inside <pre> kept (code), collapsed elsewhere; <script>, <style>, <head> and <nav>
// dropped. For Sphinx pages (Python's documentation) only the main body is kept. Works on UTF-8
// bytes: tags and entities are ASCII, every other byte is copied through unchanged.

import Foundation

enum HTMLText {
    static let blockTags: Set<String> = ["p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
                                         "tr", "table", "pre", "section", "blockquote", "hr", "title", "caption"]
    static let droppedTags: Set<String> = ["script", "style", "head", "nav"]

    static func extract(_ html: String) -> String {
        var bytes = Array(html.utf8)
        if let mainAttribute = find(Array("role=\"main\"".utf8), in: bytes, from: 0),
           let main = firstIndex(of: 0x3E, in: bytes, from: mainAttribute).map({ $0 + 1 }) {
            var end = bytes.count
            for marker in ["<div class=\"sphinxsidebar\"", "<div class=\"footer\"", "<footer"] {
                if let m = find(Array(marker.utf8), in: bytes, from: main) { end = min(end, m) }
            }
            bytes = Array(bytes[main..<end])
        }
        var out = [UInt8]()
        out.reserveCapacity(bytes.count / 2)
        var inPre = 0
        var pendingSpace = false
        var i = 0
        func newline() {
            pendingSpace = false
            while out.last == 0x20 { out.removeLast() }
            if !out.isEmpty && !(out.count >= 2 && out[out.count - 1] == 0x0A && out[out.count - 2] == 0x0A) { out.append(0x0A) }
        }
        func emit(_ b: UInt8) {
            if pendingSpace, let last = out.last, last != 0x0A, last != 0x20 { out.append(0x20) }
            pendingSpace = false
            out.append(b)
        }
        while i < bytes.count {
            let c = bytes[i]
            if c == 0x3C {                                   // '<'
                if i + 3 < bytes.count, bytes[i + 1] == 0x21, bytes[i + 2] == 0x2D, bytes[i + 3] == 0x2D {   // "<!--"
                    i = (find(Array("-->".utf8), in: bytes, from: i + 4) ?? bytes.count) + 3
                    continue
                }
                var j = i + 1
                let closing = j < bytes.count && bytes[j] == 0x2F
                if closing { j += 1 }
                var name = ""
                while j < bytes.count, isAlphanumeric(bytes[j]) { name.append(Character(Unicode.Scalar(lower(bytes[j])))); j += 1 }
                guard let close = firstIndex(of: 0x3E, in: bytes, from: j) else { break }
                i = close + 1
                if !closing && droppedTags.contains(name) {
                    if let end = find(Array("</\(name)".utf8), in: bytes, from: i) {
                        i = (firstIndex(of: 0x3E, in: bytes, from: end) ?? bytes.count - 1) + 1
                    }
                    continue
                }
                if name == "pre" { inPre = max(0, inPre + (closing ? -1 : 1)) }
                if blockTags.contains(name) { newline() }
                continue
            }
            if c == 0x26, let semicolon = firstIndex(of: 0x3B, in: bytes, from: i + 1), semicolon - i <= 10 {   // '&'
                let entity = String(decoding: bytes[(i + 1)..<semicolon], as: UTF8.self)
                if let decoded = decodeEntity(entity) {
                    for b in decoded.utf8 { if inPre > 0 { out.append(b) } else { emit(b) } }
                    i = semicolon + 1
                    continue
                }
            }
            if inPre > 0 {
                out.append(c)
            } else if c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D {
                pendingSpace = true
            } else {
                emit(c)
            }
            i += 1
        }
        // Trim trailing spaces of lines and keep at most one blank line in a row.
        var text = ""
        var blank = 0
        for line in String(decoding: out, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            var end = line.endIndex
            while end > line.startIndex, line[line.index(before: end)] == " " { end = line.index(before: end) }
            let trimmed = line[..<end]
            if trimmed.isEmpty { blank += 1; if blank > 1 { continue } } else { blank = 0 }
            text += trimmed
            text += "\n"
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @inline(__always) static func isAlphanumeric(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b)
    }

    @inline(__always) static func lower(_ b: UInt8) -> UInt8 { (0x41...0x5A).contains(b) ? b + 32 : b }

    static func firstIndex(of byte: UInt8, in bytes: [UInt8], from start: Int) -> Int? {
        var i = start
        while i < bytes.count { if bytes[i] == byte { return i }; i += 1 }
        return nil
    }

    /// Index of the first occurrence of `pattern` (ASCII, case-insensitive) at or after `start`.
    static func find(_ pattern: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard let first = pattern.first, pattern.count <= bytes.count else { return nil }
        var i = start
        while i + pattern.count <= bytes.count {
            if lower(bytes[i]) == lower(first) {
                var j = 1
                while j < pattern.count, lower(bytes[i + j]) == lower(pattern[j]) { j += 1 }
                if j == pattern.count { return i }
            }
            i += 1
        }
        return nil
    }

    static let namedEntities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": " ", "para": "¶", "copy": "©",
        "mdash": "—", "ndash": "–", "hellip": "…", "lsquo": "‘", "rsquo": "’", "ldquo": "“", "rdquo": "”", "laquo": "«",
        "raquo": "»", "times": "×", "middot": "·", "bull": "•", "rarr": "→", "larr": "←", "deg": "°", "sect": "§",
    ]

    static func decodeEntity(_ entity: String) -> String? {
        if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
            return UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map { String(Character($0)) }
        }
        if entity.hasPrefix("#") {
            return UInt32(entity.dropFirst()).flatMap(Unicode.Scalar.init).map { String(Character($0)) }
        }
        return namedEntities[entity]
    }
}
