// Queries, comparisons, feature pages and labels, and the trace job.

import CircuitCompare
import CircuitQL
import Foundation
import GraphExport
import GraphStore

extension Viewer {
    struct QueryBody: Decodable { var query: String }

    func query(_ request: ViewerRequest) throws -> ViewerResponse {
        let body = try Self.decode(QueryBody.self, request)
        let start = Date()
        let result = try CircuitQL.run(body.query, on: store, maxRows: configuration.maxRows, timeout: configuration.queryTimeout)
        let rows: [[Any]] = result.rows.indices.map { r in result.columns.indices.map { result.jsonValue(row: r, column: $0) } }
        let object: [String: Any] = ["columns": result.columns, "rows": rows, "lists": Array(result.listColumns).sorted(),
                                     "milliseconds": Date().timeIntervalSince(start) * 1000]
        guard JSONSerialization.isValidJSONObject(object) else { throw ViewerError(500, "the query's answer is not valid JSON") }
        return ViewerResponse(status: 200, contentType: "application/json", body: try JSONSerialization.data(withJSONObject: object))
    }

    func compare(_ list: String, svg: Bool) throws -> ViewerResponse {
        let keys = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard keys.count >= 2 else { throw ViewerError.badRequest("compare needs at least two graphs: ?graphs=a,b") }
        guard keys.count <= 12 else { throw ViewerError.badRequest("compare takes at most 12 graphs at a time") }
        let comparison = try CircuitComparison.compare(keys, in: store)
        if svg {
            let labels = try labels(try store.graph(keys[0]))
            let text = try SVGRenderer.svg(fromDOT: DifferenceDOT.dot(comparison, labels: labels))
            return ViewerResponse(status: 200, contentType: "image/svg+xml", body: Data(text.utf8))
        }
        return .json(comparison.report)
    }

    struct LabelBody: Decodable { var label: String? }

    /// /api/features/SET/LAYER/INDEX (GET: the page) and …/label (PUT: set or clear the user's label).
    func feature(_ s: [String], method: String, request: ViewerRequest) throws -> ViewerResponse {
        let set = s[0]
        guard let layer = Int(s[1]), let index = Int(s[2]) else { throw ViewerError.badRequest("a feature is named by its layer and index numbers") }
        let setName = try store.featureScans().first { $0.setFingerprint == set }?.setName ?? set
        switch (method, s.count) {
        case ("GET", 3):
            return .json(try store.featurePage(setFingerprint: set, setName: setName, layer: layer, index: index))
        case ("PUT", 4) where s[3] == "label":
            let body = try Self.decode(LabelBody.self, request)
            if let label = body.label, label.count > 500 { throw ViewerError.badRequest("a label may have at most 500 characters") }
            try store.setUserLabel(body.label, layer: layer, index: index, setFingerprint: set)
            cache.forgetLabels()
            let labels = try store.featureLabels(transcoderFingerprint: set)
            return .json(["label": labels[LayerFeature(layer: layer, feature: index)] ?? ""])
        default:
            throw ViewerError.notFound("no API \(method) /api/features/\(s.joined(separator: "/"))")
        }
    }

    struct TraceBody: Decodable { var prompt: String; var slug: String? }

    func trace(method: String, request: ViewerRequest) throws -> ViewerResponse {
        switch method {
        case "GET", "HEAD":
            return .json(traces.status)
        case "POST":
            let body = try Self.decode(TraceBody.self, request)
            return .json(try traces.start(prompt: body.prompt, slug: body.slug), status: 202)
        case "DELETE":
            return .json(try traces.cancel())
        default:
            throw ViewerError.notFound("no API \(method) /api/trace")
        }
    }
}
