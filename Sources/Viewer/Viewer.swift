// The viewer: a JSON API over a graph store and the single-page app that uses it.
//
// Every request passes the same gate before any handler runs:
//   1. the Host header must name the bound address or localhost (DNS rebinding): 403 otherwise;
//   2. the decoded path may not climb out of its folder ("..", "\" or NUL): 400;
//   3. writes (any method but GET and HEAD, except the read-only query) need the token printed at
//      start-up in `X-Circuitry-Token`: 401 without it, 403 with a wrong one;
//   4. bodies are bounded (413) and JSON bodies must say so in their content type (which a foreign
//      page cannot send without the browser asking first).
// Static files come only from the app's own set, compiled into the binary.

import CircuitCompare
import CircuitQL
import Foundation
import GraphExport
import GraphStore

public final class Viewer: @unchecked Sendable {
    public let store: GraphStore
    public let configuration: ViewerConfiguration
    private let lock = NSLock()
    /// The port actually bound (set once the server runs; the configured one until then).
    private var boundPort: Int
    let cache = ViewCache()
    let traces: TraceJobs

    public init(store: GraphStore, configuration: ViewerConfiguration) {
        self.store = store
        self.configuration = configuration
        boundPort = configuration.port
        traces = TraceJobs(command: configuration.traceCommand, storePath: store.openedFrom)
    }

    public var port: Int {
        get { lock.withLock { boundPort } }
        set { lock.withLock { boundPort = newValue } }
    }

    /// Answers one request; never throws (failures become JSON errors with their status).
    public func respond(_ request: ViewerRequest) -> ViewerResponse {
        var response: ViewerResponse
        do {
            response = try route(request)
        } catch let error as ViewerError {
            response = .error(error.status, error.message)
        } catch let error as GraphStoreError {
            if case .unknownGraph = error { response = .error(404, String(describing: error)) } else { response = .error(400, String(describing: error)) }
        } catch {
            response = .error(400, String(describing: error).replacingOccurrences(of: "\n", with: " "))
        }
        if request.method == "HEAD" { response.body = Data() }
        return response
    }

    static let writeFree: Set<String> = ["/api/query"]

    func route(_ request: ViewerRequest) throws -> ViewerResponse {
        // 1. Host.
        guard let host = request.host?.lowercased(), !host.isEmpty else { throw ViewerError(400, "the request has no Host header") }
        guard configuration.allowedHosts(port: port).contains(host) else {
            throw ViewerError(403, "requests for host \"\(host)\" are refused; open the viewer at http://127.0.0.1:\(port)/")
        }
        // 2. Path.
        let segments = try Self.segments(request.path)
        // 3. Token.
        let method = request.method.uppercased()
        let isRead = method == "GET" || method == "HEAD"
        if !isRead && !Self.writeFree.contains("/" + segments.joined(separator: "/")) {
            guard let token = request.token, !token.isEmpty else {
                throw ViewerError(401, "this change needs the viewer's token (printed when `circuitry serve` started)")
            }
            guard Self.constantTimeEqual(token, configuration.token) else { throw ViewerError(403, "the token is wrong") }
        }
        // 4. Body.
        guard request.body.count <= configuration.maxBody else {
            throw ViewerError(413, "the request body is \(request.body.count) bytes; the limit is \(configuration.maxBody)")
        }
        if segments.first != "api" { return try Assets.file(segments, method: method) }
        return try api(Array(segments.dropFirst()), method: method, request: request)
    }

    /// The path's segments, percent-decoded; anything that could step outside a folder is refused.
    static func segments(_ path: String) throws -> [String] {
        guard path.hasPrefix("/") else { throw ViewerError.badRequest("the path must start with /") }
        var out = [String]()
        for raw in path.split(separator: "/", omittingEmptySubsequences: true) {
            guard let segment = raw.removingPercentEncoding else { throw ViewerError.badRequest("the path is not valid percent-encoding") }
            if segment == ".." || segment == "." || segment.contains("/") || segment.contains("\\") || segment.contains("\0") {
                throw ViewerError.badRequest("the path may not contain \"..\", \".\", \"\\\" or encoded slashes")
            }
            out.append(segment)
        }
        return out
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }

    // MARK: API routes

    func api(_ s: [String], method: String, request: ViewerRequest) throws -> ViewerResponse {
        let q = request.query
        switch (method, s.count, s.first) {
        case ("GET", 1, "info"), ("HEAD", 1, "info"):
            return .json(Info(store: store.path, version: Self.version, canTrace: configuration.traceCommand != nil))
        case ("GET", 1, "graphs"), ("HEAD", 1, "graphs"):
            return .json(try graphList(search: q["q"]))
        case ("POST", 1, "query"):
            return try query(request)
        case ("GET", 1, "compare"), ("HEAD", 1, "compare"):
            return try compare(q["graphs"] ?? "", svg: false)
        case ("GET", 1, "compare.svg"):
            return try compare(q["graphs"] ?? "", svg: true)
        case (_, 1, "trace"):
            return try trace(method: method, request: request)
        case (_, _, "features") where s.count >= 4:
            return try feature(Array(s.dropFirst()), method: method, request: request)
        case (_, _, "graphs") where s.count >= 2:
            return try graphRoute(s[1], Array(s.dropFirst(2)), method: method, request: request)
        default:
            throw ViewerError.notFound("no API \(method) /api/\(s.joined(separator: "/"))")
        }
    }

    func graphRoute(_ key: String, _ rest: [String], method: String, request: ViewerRequest) throws -> ViewerResponse {
        let q = request.query
        switch (method, rest.count, rest.first) {
        case ("GET", 0, _), ("HEAD", 0, _):
            return try graphView(key, query: q)
        case ("DELETE", 0, _):
            let id = try store.graphId(key)
            try store.delete(key)
            cache.forget(graph: id)
            return .json(["deleted": key])
        case ("GET", 2, "nodes"):
            guard let index = Int(rest[1]) else { throw ViewerError.badRequest("a node is named by its index, not \"\(rest[1])\"") }
            return try nodeDetail(key, index: index, query: q)
        case ("GET", 1, "export.json"):
            return try export(key, subgraph: q["subgraph"], svg: false)
        case ("GET", 1, "subgraph.svg"):
            return try export(key, subgraph: q["subgraph"], svg: true)
        case ("GET", 1, "suggestions"):
            return try suggestions(key, query: q)
        case ("GET", 1, "subgraphs"):
            return .json(try store.subgraphs(key))
        case ("PUT", 2, "subgraphs"):
            let body = try Self.decode(SubgraphBody.self, request)
            let saved = try store.saveSubgraph(StoredSubgraph(name: rest[1], pinned: body.pinned, supernodes: body.supernodes), of: key)
            cache.changed()
            return .json(saved)
        case ("DELETE", 2, "subgraphs"):
            try store.deleteSubgraph(rest[1], of: key)
            cache.changed()
            return .json(["deleted": rest[1]])
        default:
            throw ViewerError.notFound("no API \(method) for graph \"\(key)\"/\(rest.joined(separator: "/"))")
        }
    }

    static let version = "0.1.0"

    struct Info: Encodable { var store: String; var version: String; var canTrace: Bool }
    struct SubgraphBody: Decodable { var pinned: [Int]; var supernodes: [StoredSubgraph.Supernode] }

    /// A JSON body, which must be declared as JSON.
    static func decode<T: Decodable>(_ type: T.Type, _ request: ViewerRequest) throws -> T {
        guard request.contentType?.lowercased().hasPrefix("application/json") == true else {
            throw ViewerError(415, "the request body must be sent as application/json")
        }
        do { return try JSONDecoder().decode(T.self, from: request.body) } catch {
            throw ViewerError.badRequest("the request body is not the JSON this call takes")
        }
    }
}
