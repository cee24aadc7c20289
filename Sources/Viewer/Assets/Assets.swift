// The single-page app's files, compiled into the binary: the only static files the viewer serves.

import Foundation

enum Assets {
    static let files: [String: (type: String, text: String)] = [
        "index.html": ("text/html; charset=utf-8", AppPage.html),
        "app.js": ("text/javascript; charset=utf-8", AppScript.source),
        "app.css": ("text/css; charset=utf-8", AppStyle.css),
        "favicon.svg": ("image/svg+xml", AppPage.icon),
    ]

    static func file(_ segments: [String], method: String) throws -> ViewerResponse {
        guard method == "GET" || method == "HEAD" else { throw ViewerError(405, "static files are read with GET") }
        let name = segments.isEmpty ? "index.html" : segments.joined(separator: "/")
        guard let file = files[name] else { throw ViewerError.notFound("no file /\(name)") }
        return ViewerResponse(status: 200, contentType: file.type, body: Data(file.text.utf8))
    }
}
