// Where a PostgreSQL store is: `postgres://user[:password]@host[:port]/database[?schema=…&sslmode=…]`.
// The password comes from the URL, else $PGPASSWORD, else the password file ($PGPASSFILE or
// ~/.pgpass, PostgreSQL's own format); it is never printed: messages show the URL without it.

import Foundation
import GraphStore

public struct PostgresLocation: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// Tables go into this schema (made when missing) instead of the server's default search path.
    public var schema: String?
    public var sslMode: SSLMode

    public enum SSLMode: String, Sendable {
        case disable, prefer, require
    }

    /// The URL as messages show it: no password.
    public var redacted: String {
        var query = [String]()
        if let schema { query.append("schema=\(schema)") }
        if sslMode != .prefer { query.append("sslmode=\(sslMode.rawValue)") }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)@\(hostPart):\(port)/\(database)" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }

    /// Parses a store URL; `environment` supplies PGPASSWORD, PGPASSFILE, PGUSER and HOME.
    public init(url text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let shown = GraphStore.redactedURL(text)
        func bad(_ reason: String) -> GraphStoreError { .cannotOpen(path: shown, reason: reason) }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "postgres" || scheme == "postgresql" else {
            throw bad("not a PostgreSQL URL (postgres://user@host[:port]/database)")
        }
        guard let host = components.host, !host.isEmpty else { throw bad("the URL names no host") }
        self.host = host
        port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw bad("port \(port) is out of range") }
        user = components.user.flatMap { $0.removingPercentEncoding } ?? environment["PGUSER"] ?? "postgres"
        let name = String(components.path.drop(while: { $0 == "/" }))
        database = name.removingPercentEncoding ?? name
        guard !database.isEmpty, !database.contains("/") else { throw bad("the URL names no database (postgres://user@host/database)") }
        schema = nil
        sslMode = .prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "schema":
                guard let value = item.value, value.range(of: "^[A-Za-z_][A-Za-z0-9_]{0,62}$", options: .regularExpression) != nil else {
                    throw bad("schema must be a plain name (letters, digits, underscores)")
                }
                schema = value
            case "sslmode":
                guard let mode = item.value.flatMap(SSLMode.init(rawValue:)) else { throw bad("sslmode must be disable, prefer or require") }
                sslMode = mode
            default:
                throw bad("unknown URL parameter \"\(item.name)\" (known: schema, sslmode)")
            }
        }
        if let given = components.password {
            password = given.removingPercentEncoding ?? given
        } else if let fromEnvironment = environment["PGPASSWORD"], !fromEnvironment.isEmpty {
            password = fromEnvironment
        } else {
            let file = environment["PGPASSFILE"] ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.pgpass")
            password = PostgresLocation.passwordFile(file, host: host, port: port, database: database, user: user)
        }
    }

    /// The first matching line of a password file (host:port:database:user:password, `*` matches
    /// anything, `\` escapes `:` and `\`); the file is ignored when others can read it, as libpq does.
    static func passwordFile(_ path: String, host: String, port: Int, database: String, user: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & 0o077 == 0, let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            var fields = [String](), current = "", escaped = false
            for c in line {
                if escaped { current.append(c); escaped = false } else if c == "\\" { escaped = true } else if c == ":" && fields.count < 4 {
                    fields.append(current); current = ""
                } else { current.append(c) }
            }
            fields.append(current)
            guard fields.count == 5 else { continue }
            let wanted = [host, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }
}
