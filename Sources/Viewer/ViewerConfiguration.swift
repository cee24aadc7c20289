// How a viewer is set up: where it listens, who may write, and how it traces.

import CircuitQL
import Foundation

public struct ViewerConfiguration: Sendable {
    /// The address to bind (127.0.0.1 unless the user asks otherwise).
    public var host: String
    /// The port; 0 lets the system choose (the chosen one is printed).
    public var port: Int
    /// The token writes need (labels, subgraphs, deletes, traces).
    public var token: String
    /// The largest request body accepted (bytes).
    public var maxBody: Int = 1 << 20
    /// The most rows a query may return and how long it may run (seconds).
    public var maxRows: Int = CircuitQL.defaultMaxRows
    public var queryTimeout: Double = 5
    /// The most edges one graph view sends (the rest are paged with `edge_offset`).
    public var maxEdgesPerPage: Int = 50_000
    /// The command that traces a prompt into the store (the binary, "trace" and its model and
    /// transcoder options; the prompt, store and --json are added), or nil when it cannot trace.
    public var traceCommand: [String]?

    public init(host: String = "127.0.0.1", port: Int = 8765, token: String = ViewerConfiguration.newToken(), traceCommand: [String]? = nil) {
        self.host = host
        self.port = port
        self.token = token
        self.traceCommand = traceCommand
    }

    /// A random token of 32 hex digits.
    public static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(format: "%08x", UInt32.random(in: .min ... .max, using: &generator)) }.joined()
    }

    /// Whether `host` names a loopback address.
    public static func isLoopback(_ host: String) -> Bool {
        ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased()) || host.hasPrefix("127.")
    }

    /// Host headers the viewer answers: the bound address and the loopback names, at its port.
    func allowedHosts(port actual: Int) -> Set<String> {
        var names: Set<String> = ["127.0.0.1", "localhost", "[::1]"]
        if host != "0.0.0.0" && host != "::" { names.insert(host.contains(":") ? "[\(host)]" : host) }
        var out = Set<String>()
        for name in names { out.insert("\(name):\(actual)".lowercased()); if actual == 80 { out.insert(name.lowercased()) } }
        return out
    }
}
