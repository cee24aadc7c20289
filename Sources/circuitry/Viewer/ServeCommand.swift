import ArgumentParser
import Foundation
import GraphStore
import Viewer

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Explore stored graphs in the browser: an interactive viewer on this machine.",
        discussion: """
            Serves a single-page viewer and its JSON API over the graph store: the graph list, each graph with tokens along the bottom and layers upward, node and edge thresholds that re-prune from the stored adjacency, feature pages, pinned nodes and supernodes (saved in the store, exported in interchange JSON), CircuitQL queries, comparisons and traces.

            It listens on 127.0.0.1 unless --host says otherwise, answers only requests addressed to that host or localhost, and prints an address with a token: changes (labels, subgraphs, deletes, traces) need the token; reading does not. Ctrl-C stops it.

            Examples:
              circuitry serve                          # http://127.0.0.1:8765/?token=…
              circuitry serve --store lab.sqlite --port 9000
              circuitry serve --model gemma-3-270m \\
                  --transcoders models/transcoders/gemma-3-270m-default
            """)

    @Option(name: .long, help: "The port (0: any free port; the one chosen is printed).") var port = 8765
    @Option(name: .long, help: "The address to listen on. Anything but loopback exposes the viewer to the network.") var host = "127.0.0.1"
    @Option(name: .long, help: ArgumentHelp("The write token (default: $CIRCUITRY_TOKEN, else a new random one).", valueName: "token"))
    var token: String?
    @Option(name: .long, help: ArgumentHelp("The model traces use (as `circuitry trace --model`).", valueName: "path|name")) var model: String?
    @Option(name: .long, help: ArgumentHelp("The transcoders traces use (as `circuitry trace --transcoders`).", valueName: "dir")) var transcoders: String?
    @Flag(name: .long, help: "Do not offer tracing from the browser.") var noTrace = false
    @Option(name: .long, help: "How long a query may run (seconds).") var queryTimeout = 5.0
    @OptionGroup var storeOptions: StoreOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0–65535") }
        guard queryTimeout > 0 && queryTimeout <= 600 else { throw ValidationError("--query-timeout must be between 0 and 600 seconds") }
        if let token, token.count < 8 || token.contains(where: { $0.isWhitespace }) {
            throw ValidationError("--token must be at least 8 characters without spaces")
        }
    }

    func run() throws {
        let store = try storeOptions.open(creating: true)
        let environmentToken = ProcessInfo.processInfo.environment["CIRCUITRY_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        var configuration = ViewerConfiguration(host: host, port: port, token: token ?? environmentToken ?? ViewerConfiguration.newToken())
        configuration.queryTimeout = queryTimeout
        if !noTrace {
            let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
            var command = [FileManager.default.isExecutableFile(atPath: executable) ? executable : CommandLine.arguments[0], "trace"]
            if let model { command += ["--model", model] }
            if let transcoders { command += ["--transcoders", transcoders] }
            configuration.traceCommand = command
        }
        if !ViewerConfiguration.isLoopback(host) {
            FileHandle.standardError.write(Data("warning: listening on \(host): anyone who can reach this machine can read the store; writes still need the token\n".utf8))
        }
        let viewer = Viewer(store: store, configuration: configuration)
        let graphs = try store.list().count
        let done = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        let shown = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : (host.contains(":") ? "[\(host)]" : host)
        let token = configuration.token
        let path = storeOptions.shownLocation
        Task.detached {
            do {
                try await ViewerServer.run(viewer) { port in
                    FileHandle.standardError.write(Data("""
                        serving \(path) (\(graphs) graph\(graphs == 1 ? "" : "s")); Ctrl-C stops
                        open http://\(shown):\(port)/?token=\(token)

                        """.utf8))
                }
            } catch {
                failure.set("could not serve on \(host):\(port): \(error)")
            }
            done.signal()
        }
        done.wait()
        if let message = failure.message { throw CommandError(message) }
    }
}

final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: String?
    func set(_ m: String) { lock.withLock { stored = m } }
    var message: String? { lock.withLock { stored } }
}
