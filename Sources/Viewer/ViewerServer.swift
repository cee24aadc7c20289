// The viewer over HTTP (Hummingbird): each request's method, path, query, Host, token and body
// go to `Viewer.respond`; answers carry a strict content security policy (the page runs only its
// own script and never inline code), no caching for the API, and no content sniffing.

import Foundation
import HTTPTypes
import Hummingbird
import Logging

public enum ViewerServer {
    static let tokenHeader = HTTPField.Name("X-Circuitry-Token")!

    /// Serves until SIGINT or SIGTERM. `ready` is called with the bound port once listening.
    public static func run(_ viewer: Viewer, ready: @escaping @Sendable (Int) -> Void) async throws {
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            await handle(request, viewer: viewer)
        }
        var logger = Logger(label: "circuitry.serve")
        logger.logLevel = .warning
        let app = Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname(viewer.configuration.host, port: viewer.configuration.port),
                                                    serverName: "circuitry"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? viewer.configuration.port
                viewer.port = port
                ready(port)
            },
            logger: logger)
        defer { viewer.traces.stop() }
        try await app.runService()
    }

    static func handle(_ request: Request, viewer: Viewer) async -> Response {
        var request = request
        let limit = viewer.configuration.maxBody
        var body = Data()
        if request.method != .get && request.method != .head {
            do {
                let buffer = try await request.collectBody(upTo: limit)
                body = Data(buffer.readableBytesView)
            } catch {
                return respond(.error(413, "the request body is larger than \(limit) bytes"))
            }
        }
        let asked = ViewerRequest(method: request.method.rawValue, path: request.uri.path, query: parseQuery(request.uri.query),
                                  host: request.head.authority, token: request.headers[tokenHeader],
                                  contentType: request.headers[.contentType], body: body)
        // The store is synchronous: answer off the server's event loops.
        let answer = await withCheckedContinuation { (continuation: CheckedContinuation<ViewerResponse, Never>) in
            DispatchQueue.global().async { continuation.resume(returning: viewer.respond(asked)) }
        }
        return respond(answer)
    }

    static func respond(_ answer: ViewerResponse) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = answer.contentType
        headers[.contentSecurityPolicy] = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[.cacheControl] = "no-store"
        return Response(status: HTTPResponse.Status(code: answer.status), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    /// `a=1&b=x%20y` → ["a": "1", "b": "x y"] ('+' is a space, as forms send it).
    public static func parseQuery(_ query: String?) -> [String: String] {
        guard let query, !query.isEmpty else { return [:] }
        var out = [String: String]()
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s) }
            guard let key = parts.first.map(decode), !key.isEmpty else { continue }
            out[key] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return out
    }
}
