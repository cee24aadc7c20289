// The viewer's requests and responses, independent of the HTTP server that carries them, so the
// whole API (security checks included) can be exercised without a socket.

import Foundation

public struct ViewerRequest: Sendable {
    public var method: String
    /// The path as sent, percent-encoded, without the query.
    public var path: String
    public var query: [String: String]
    /// The Host header (HTTP/1.1) or :authority (HTTP/2); nil when the client sent none.
    public var host: String?
    /// The write token from the `X-Circuitry-Token` header.
    public var token: String?
    public var contentType: String?
    public var body: Data

    public init(method: String, path: String, query: [String: String] = [:], host: String?, token: String? = nil,
                contentType: String? = nil, body: Data = Data()) {
        self.method = method
        self.path = path
        self.query = query
        self.host = host
        self.token = token
        self.contentType = contentType
        self.body = body
    }
}

public struct ViewerResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: Data

    public init(status: Int, contentType: String, body: Data) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return try encoder.encode(value)
    }

    static func json<T: Encodable>(_ value: T, status: Int = 200) -> ViewerResponse {
        do { return ViewerResponse(status: status, contentType: "application/json", body: try encode(value)) } catch {
            return .error(500, "the answer could not be encoded: \(error)")
        }
    }

    static func error(_ status: Int, _ message: String) -> ViewerResponse {
        let body = (try? JSONEncoder().encode(["error": message])) ?? Data("{\"error\":\"error\"}".utf8)
        return ViewerResponse(status: status, contentType: "application/json", body: body)
    }
}

/// A request the viewer refuses, with its HTTP status.
public struct ViewerError: Error, CustomStringConvertible, Sendable {
    public var status: Int
    public var message: String
    public init(_ status: Int, _ message: String) { self.status = status; self.message = message }
    public var description: String { message }

    static func badRequest(_ m: String) -> ViewerError { ViewerError(400, m) }
    static func notFound(_ m: String) -> ViewerError { ViewerError(404, m) }
}
