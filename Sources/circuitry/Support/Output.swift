import Foundation
import GraphStore

/// Writing results: JSON documents on standard output, progress and notes on standard error.
enum Output {
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        encoder.keyEncodingStrategy = .custom { path in JSONKey(snakeCase: path.last!.stringValue) }
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Writes a file the user named: a regular file is replaced atomically (nothing half-written is
    /// left on failure), a symbolic link is written through to its target, and a device, FIFO or
    /// folder is refused rather than replaced by a regular file.
    static func write(_ data: Data, to path: String) throws {
        var target = path
        var info = stat()
        if lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK {
            guard let resolved = realpath(path, nil) else { throw CommandError("\(path): a symbolic link to nowhere") }
            target = String(cString: resolved)
            free(resolved)
        }
        if stat(target, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG {
            throw CommandError("\(path): not a regular file (a device, FIFO or folder); give the path of a file to write")
        }
        do { try data.write(to: URL(fileURLWithPath: target), options: .atomic) } catch {
            throw CommandError("\(path): cannot write it (\((error as NSError).localizedFailureReason ?? error.localizedDescription))")
        }
    }

    static func note(_ message: String) {
        fflush(nil)    // so notes follow what was printed before them when both streams go to one place
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// A token's text shown on one line, with control characters escaped.
    static func visible(_ text: String) -> String { DisplayText.visible(text) }

    /// `text` padded with spaces to `width` characters (String(format:)'s %-20@ does not pad on Linux).
    static func padded(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// A score with `digits` decimals, or "—" when unknown (imported graphs).
    static func score(_ value: Double?, digits: Int = 2) -> String {
        guard let value, !value.isNaN else { return digits == 2 ? "  — " : "—" }
        return String(format: "%.\(digits)f", value)
    }
}

/// One key style for every --json document: snake_case, and `pos` for a token position.
struct JSONKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init?(intValue: Int) { return nil }
    init?(stringValue: String) { self.stringValue = stringValue }
    init(snakeCase key: String) {
        if key == "position" { stringValue = "pos"; return }
        var out = ""
        for (i, c) in key.enumerated() {
            if c.isUppercase && i > 0 { out += "_" }
            out += c.lowercased()
        }
        stringValue = out
    }
}
