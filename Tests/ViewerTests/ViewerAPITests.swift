// The viewer's API without a socket: the security gate (Host, path, token, body size, content
// type), graph views at stored and other thresholds against what the store would keep, node
// details, subgraphs carried into interchange JSON and SVG, labels as data, queries, comparisons.

import Attribution
import Foundation
import Testing
@testable import Viewer
@testable import GraphExport
import GraphStore
import TestSupport

struct ViewerFixture {
    static let hostile = #"<script>alert(1)</script> "><img src=x onerror=alert(2)>"#
    let store: GraphStore
    let viewer: Viewer
    let slugs: [String]
    let token = "test-token-0123456789"

    init() throws {
        let tiny = try TinyTrace()
        store = try GraphStore(path: temporaryPath(".sqlite"))
        var options = AttributionOptions()
        var made = [String]()
        for prompt in ["abcab", "the cat sat", "bca"] {
            options.nodeThreshold = 0.9
            options.edgeThreshold = 0.95
            let summary = try store.save(try tiny.graph(prompt, options: options), context: GraphContext(
                architecture: "llama", layers: 2, width: 16, transcoderName: "tiny-set", transcoderFeatures: 24), tokenText: tiny.tokenText)
            made.append(summary.slug)
        }
        slugs = made
        let g = try store.graph(slugs[0])
        let feature = g.nodes.first { $0.kind == .feature }!
        try store.setUserLabel(Self.hostile, layer: feature.layer!, index: feature.feature!, setFingerprint: "tiny-set")
        var configuration = ViewerConfiguration(port: 8765, token: token)
        configuration.maxBody = 4096
        viewer = Viewer(store: store, configuration: configuration)
    }

    func get(_ path: String, host: String? = "127.0.0.1:8765") -> ViewerResponse {
        let parts = path.split(separator: "?", maxSplits: 1).map(String.init)
        return viewer.respond(ViewerRequest(method: "GET", path: parts[0], query: ViewerServer.parseQuery(parts.count > 1 ? parts[1] : nil), host: host))
    }

    func send(_ method: String, _ path: String, json: Any?, token: String? = nil, contentType: String = "application/json") -> ViewerResponse {
        let body = json.map { try! JSONSerialization.data(withJSONObject: $0) } ?? Data()
        return viewer.respond(ViewerRequest(method: method, path: path, host: "localhost:8765", token: token, contentType: contentType, body: body))
    }

    static func object(_ r: ViewerResponse) -> [String: Any] { (try? JSONSerialization.jsonObject(with: r.body)) as? [String: Any] ?? [:] }
    static func array(_ r: ViewerResponse) -> [Any] { (try? JSONSerialization.jsonObject(with: r.body)) as? [Any] ?? [] }
}

@Suite struct ViewerAPITests {
    let f: ViewerFixture
    init() throws { f = try ViewerFixture() }

    @Test func hostHeaderIsChecked() {
        #expect(f.get("/api/graphs").status == 200)
        #expect(f.get("/api/graphs", host: "localhost:8765").status == 200)
        #expect(f.get("/api/graphs", host: "[::1]:8765").status == 200)
        #expect(f.get("/api/graphs", host: "evil.example:8765").status == 403, "DNS rebinding")
        #expect(f.get("/api/graphs", host: "127.0.0.1:9999").status == 403, "another port")
        #expect(f.get("/api/graphs", host: nil).status == 400)
    }

    @Test func pathsCannotClimbOut() {
        for path in ["/../etc/passwd", "/%2e%2e/etc/passwd", "/app.js/../../x", "/a%2Fb", "/a%5Cb", "/%00", "/."] {
            #expect(f.get(path).status == 400, "\(path)")
        }
        #expect(f.get("/etc/passwd").status == 404)
        #expect(f.get("/").status == 200)
        #expect(f.get("/app.js").status == 200)
        #expect(String(decoding: f.get("/app.css").body, as: UTF8.self).contains(".node"))
    }

    @Test func writesNeedTheToken() throws {
        let slug = f.slugs[0]
        let body: [String: Any] = ["pinned": [Int](), "supernodes": [Any]()]
        #expect(f.send("PUT", "/api/graphs/\(slug)/subgraphs/s", json: body).status == 401)
        #expect(f.send("PUT", "/api/graphs/\(slug)/subgraphs/s", json: body, token: "wrong-token-000000").status == 403)
        #expect(f.send("DELETE", "/api/graphs/\(slug)", json: nil).status == 401)
        #expect(f.send("POST", "/api/trace", json: ["prompt": "x"]).status == 401)
        #expect(f.send("PUT", "/api/graphs/\(slug)/subgraphs/s", json: body, token: f.token).status == 200)
        // The store is unchanged by the refused delete.
        #expect(try f.store.list().count == 3)
        // Bodies must be declared as JSON and stay under the limit.
        #expect(f.send("PUT", "/api/graphs/\(slug)/subgraphs/s", json: body, token: f.token, contentType: "text/plain").status == 415)
        let big = f.viewer.respond(ViewerRequest(method: "PUT", path: "/api/graphs/\(slug)/subgraphs/s", host: "localhost:8765", token: f.token,
                                                 contentType: "application/json", body: Data(repeating: 32, count: 5000)))
        #expect(big.status == 413)
        // A query is a read: no token needed, but it must be JSON.
        #expect(f.send("POST", "/api/query", json: ["query": "MATCH (n:Token) RETURN count(*) AS n"]).status == 200)
    }

    @Test func storedViewIsTheStoredGraph() throws {
        for slug in f.slugs {
            let stored = try f.store.graph(slug)
            let view = ViewerFixture.object(f.get("/api/graphs/\(slug)"))
            let nodes = (view["nodes"] as? [[String: Any]] ?? []).compactMap { $0["i"] as? Int }
            #expect(nodes == stored.nodes.map(\.index))
            let edges = view["edges"] as? [[Double]] ?? []
            #expect(edges.count == stored.edges.count)
            #expect(view["edgesTotal"] as? Int == stored.edges.count)
            // Strongest first, every stored edge once.
            let magnitudes = edges.map { abs($0[2]) }
            #expect(magnitudes == magnitudes.sorted(by: >))
            #expect(Set(edges.map { "\(Int($0[0]))>\(Int($0[1]))" }) == Set(stored.edges.map { "\($0.source)>\($0.target)" }))
        }
    }

    @Test func thresholdsRepruneLikeTheStore() throws {
        let slug = f.slugs[1]
        for (nt, et) in [(0.5, 0.5), (0.8, 0.9), (1.0, 1.0)] {
            let view = ViewerFixture.object(f.get("/api/graphs/\(slug)?node_threshold=\(nt)&edge_threshold=\(et)"))
            let nodes = (view["nodes"] as? [[String: Any]] ?? []).compactMap { $0["i"] as? Int }
            let total = view["edgesTotal"] as? Int
            let summary = try f.store.reprune(slug, nodeThreshold: nt, edgeThreshold: et)
            let reread = try f.store.graph(slug)
            #expect(nodes == reread.nodes.map(\.index), "thresholds \(nt), \(et)")
            #expect(nodes.count == summary.nodesKept && total == summary.edgesKept)
        }
        // Edge pages: two pages of 5 are the first 10 in order.
        let all = ViewerFixture.object(f.get("/api/graphs/\(slug)?node_threshold=1&edge_threshold=1&edge_limit=10"))["edges"] as? [[Double]] ?? []
        let first = ViewerFixture.object(f.get("/api/graphs/\(slug)?node_threshold=1&edge_threshold=1&edge_limit=5"))["edges"] as? [[Double]] ?? []
        let second = ViewerFixture.object(f.get("/api/graphs/\(slug)?node_threshold=1&edge_threshold=1&edge_limit=5&edge_offset=5"))["edges"] as? [[Double]] ?? []
        #expect(all.count == 10 && first + second == all)
        #expect(f.get("/api/graphs/\(slug)?node_threshold=2").status == 400)
        #expect(f.get("/api/graphs/\(slug)?edge_limit=-3").status == 400)
        #expect(f.get("/api/graphs/no-such-graph").status == 404)
    }

    @Test func nodeDetailHasEdgesAndPaths() throws {
        let slug = f.slugs[0]
        let g = try f.store.graph(slug)
        let feature = g.nodes.first { $0.kind == .feature }!
        let detail = ViewerFixture.object(f.get("/api/graphs/\(slug)/nodes/\(feature.index)"))
        let node = detail["node"] as? [String: Any]
        #expect(node?["label"] as? String == ViewerFixture.hostile, "labels are data, returned exactly")
        let incoming = (detail["incoming"] as? [[String: Any]] ?? []).count
        #expect(incoming == min(12, g.edges.filter { $0.target == feature.index }.count))
        #expect(detail["pageError"] is String, "no feature pages were built for the tiny set: the panel says so")
        #expect(f.get("/api/graphs/\(slug)/nodes/999999").status == 404)
        #expect(f.get("/api/graphs/\(slug)/nodes/abc").status == 400)
    }

    @Test func subgraphsSurviveAndAreExported() throws {
        let slug = f.slugs[0]
        let g = try f.store.graph(slug)
        let features = g.nodes.filter { $0.kind == .feature }.prefix(3).map(\.index)
        let logit = g.nodes.first { $0.kind == .logit }!.index
        let body: [String: Any] = ["pinned": features + [logit], "supernodes": [["name": "say \"<b>\"", "members": Array(features.prefix(2))]]]
        #expect(f.send("PUT", "/api/graphs/\(slug)/subgraphs/main", json: body, token: f.token).status == 200)
        // Refused: a member that is not pinned, a node in two supernodes, a node outside the graph.
        let bad1: [String: Any] = ["pinned": [features[0]], "supernodes": [["name": "x", "members": [features[1]]]]]
        let bad2: [String: Any] = ["pinned": features, "supernodes": [["name": "x", "members": [features[0]]], ["name": "y", "members": [features[0]]]]]
        let bad3: [String: Any] = ["pinned": [10_000_000], "supernodes": [Any]()]
        for bad in [bad1, bad2, bad3] { #expect(f.send("PUT", "/api/graphs/\(slug)/subgraphs/main", json: bad, token: f.token).status == 400) }

        let view = ViewerFixture.object(f.get("/api/graphs/\(slug)"))
        let saved = (view["subgraphs"] as? [[String: Any]])?.first
        #expect(saved?["name"] as? String == "main")
        #expect(saved?["pinned"] as? [Int] == features + [logit])

        let exported = ViewerFixture.object(f.get("/api/graphs/\(slug)/export.json?subgraph=main"))
        let q = exported["qParams"] as? [String: Any]
        let ids = Dictionary(uniqueKeysWithValues: g.nodes.map { ($0.index, InterchangeExport.nodeId($0, layers: g.layout.layers)) })
        #expect(q?["pinnedIds"] as? [String] == (features + [logit]).map { ids[$0]! })
        #expect(q?["supernodes"] as? [[String]] == [["say \"<b>\""] + features.prefix(2).map { ids[$0]! }])

        let svg = f.get("/api/graphs/\(slug)/subgraph.svg?subgraph=main")
        #expect(svg.status == 200 && svg.contentType == "image/svg+xml")
        let text = String(decoding: svg.body, as: UTF8.self)
        #expect(text.contains("say &quot;&lt;b&gt;&quot;") && !text.contains("<b>"), "the supernode's name is escaped in the SVG")
        #expect(f.send("DELETE", "/api/graphs/\(slug)/subgraphs/main", json: nil, token: f.token).status == 200)
        #expect(f.send("DELETE", "/api/graphs/\(slug)/subgraphs/main", json: nil, token: f.token).status == 400)
    }

    @Test func labelsQueriesAndComparisons() throws {
        let slug = f.slugs[0]
        let g = try f.store.graph(slug)
        let feature = g.nodes.first { $0.kind == .feature }!
        let put = f.send("PUT", "/api/features/tiny-set/\(feature.layer!)/\(feature.feature!)/label", json: ["label": "  cats & <dogs>  "], token: f.token)
        #expect(put.status == 200)
        #expect(ViewerFixture.object(put)["label"] as? String == "cats & <dogs>")
        let node = ViewerFixture.object(f.get("/api/graphs/\(slug)/nodes/\(feature.index)"))["node"] as? [String: Any]
        #expect(node?["label"] as? String == "cats & <dogs>", "the cached view shows the new label")

        let query = f.send("POST", "/api/query", json: ["query": "USE '\(slug)' MATCH (f:Feature) RETURN f, f.layer AS layer ORDER BY layer LIMIT 3"])
        let result = ViewerFixture.object(query)
        #expect(result["columns"] as? [String] == ["f", "layer"])
        #expect((result["rows"] as? [[Any]])?.count == min(3, g.nodes.filter { $0.kind == .feature }.count))
        let broken = f.send("POST", "/api/query", json: ["query": "MATCH (f:Feature RETURN f"])
        #expect(broken.status == 400 && (ViewerFixture.object(broken)["error"] as? String)?.isEmpty == false)

        let compare = ViewerFixture.object(f.get("/api/compare?graphs=\(f.slugs[0]),\(f.slugs[1])"))
        #expect(compare["feature_iou"] is Double)
        #expect(f.get("/api/compare?graphs=\(f.slugs[0])").status == 400)
        #expect(f.get("/api/compare.svg?graphs=\(f.slugs[0]),\(f.slugs[1])").contentType == "image/svg+xml")
        #expect(f.send("POST", "/api/trace", json: ["prompt": "x"], token: f.token).status == 501, "no trace command given")
        #expect(f.get("/api/graphs/\(slug)/suggestions").status == 200)
    }

    @Test func deleteRemovesTheGraph() throws {
        let slug = f.slugs[2]
        _ = f.get("/api/graphs/\(slug)")
        #expect(f.send("DELETE", "/api/graphs/\(slug)", json: nil, token: f.token).status == 200)
        #expect(f.get("/api/graphs/\(slug)").status == 404)
        #expect(try f.store.list().map(\.slug) == [f.slugs[1], f.slugs[0]])
        let listed = ViewerFixture.array(f.get("/api/graphs?q=CAT"))
        #expect(listed.count == 1, "search ignores case")
    }

    /// The strongest token → logit paths through a node against every such path listed by brute force.
    @Test func pathsThroughANodeAreTheStrongest() throws {
        let g = try f.store.graph(f.slugs[1])
        let shares = g.edgeShares
        var outgoing = [Int: [(Int, Double)]]()
        for (t, list) in shares { for (s, share) in list { outgoing[s, default: []].append((t, share)) } }
        let kinds = Dictionary(uniqueKeysWithValues: g.nodes.map { ($0.index, $0.kind) })
        let logit = g.nodes.filter { $0.kind == .logit }.max { ($0.probability ?? 0) < ($1.probability ?? 0) }!.index
        var all = [(nodes: [Int], strength: Double)]()
        func walk(_ path: [Int], _ strength: Double) {
            let last = path.last!
            if last == logit { all.append((path, strength)); return }
            for (next, share) in outgoing[last] ?? [] { walk(path + [next], strength * share) }
        }
        for n in g.nodes where kinds[n.index] == .token { walk([n.index], 1) }
        var checked = 0
        for via in g.nodes.filter({ $0.kind == .feature || $0.kind == .error }).map(\.index) {
            let expected = all.filter { $0.nodes.contains(via) }.map(\.strength).sorted(by: >).prefix(5)
            let found = g.strongestPaths(through: via, to: logit, k: 5)
            #expect(found.count == expected.count, "node \(via)")
            for (a, b) in zip(found.map(\.strength), expected) { #expect(abs(a - b) <= 1e-12 * max(1, b), "node \(via)") }
            for p in found { #expect(p.nodes.contains(via) && p.nodes.last == logit && kinds[p.nodes[0]] == .token) }
            checked += 1
        }
        #expect(checked > 0)
    }

    /// The trace job: one at a time, its progress read from standard error, cancellable; a job
    /// that fails reports its last error line. (A shell stands in for `circuitry trace`.)
    @Test func traceJobsRunOneAtATimeAndCancel() throws {
        var configuration = ViewerConfiguration(port: 8765, token: f.token)
        configuration.traceCommand = ["/bin/sh", "-c", "echo 'tracing 50%' >&2; exec sleep 30", "sh"]
        let viewer = Viewer(store: f.store, configuration: configuration)
        func send(_ method: String, _ json: Any?) -> ViewerResponse {
            viewer.respond(ViewerRequest(method: method, path: "/api/trace", host: "127.0.0.1:8765", token: f.token, contentType: "application/json",
                                         body: json.map { try! JSONSerialization.data(withJSONObject: $0) } ?? Data()))
        }
        #expect(send("POST", ["prompt": "   "]).status == 400, "an empty prompt")
        #expect(send("POST", ["prompt": "The capital of Texas is"]).status == 202)
        #expect(send("POST", ["prompt": "again"]).status == 409, "one at a time")
        let deadline = Date().addingTimeInterval(10)
        while ViewerFixture.object(send("GET", nil))["progress"] as? String != "tracing 50%" && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(ViewerFixture.object(send("GET", nil))["progress"] as? String == "tracing 50%")
        #expect(send("DELETE", nil).status == 200)
        while ViewerFixture.object(send("GET", nil))["state"] as? String == "running" && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(ViewerFixture.object(send("GET", nil))["state"] as? String == "cancelled")
        #expect(send("DELETE", nil).status == 409, "nothing left to cancel")

        var failing = ViewerConfiguration(port: 8765, token: f.token)
        failing.traceCommand = ["/bin/sh", "-c", "echo 'error: the prompt is too long' >&2; exit 1", "sh"]
        let other = Viewer(store: f.store, configuration: failing)
        _ = other.respond(ViewerRequest(method: "POST", path: "/api/trace", host: "127.0.0.1:8765", token: f.token, contentType: "application/json",
                                        body: try JSONSerialization.data(withJSONObject: ["prompt": "x"])))
        var status = [String: Any]()
        while Date() < deadline {
            status = ViewerFixture.object(other.respond(ViewerRequest(method: "GET", path: "/api/trace", host: "127.0.0.1:8765")))
            if status["state"] as? String != "running" { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(status["state"] as? String == "failed")
        #expect(status["error"] as? String == "error: the prompt is too long")

        // The store goes to the trace by environment, never on its command line (a URL may carry a password).
        var echoing = ViewerConfiguration(port: 8765, token: f.token)
        echoing.traceCommand = ["/bin/sh", "-c", "echo \"error: $CIRCUITRY_STORE|$*\" >&2; exit 1", "sh"]
        let third = Viewer(store: f.store, configuration: echoing)
        _ = third.respond(ViewerRequest(method: "POST", path: "/api/trace", host: "127.0.0.1:8765", token: f.token, contentType: "application/json",
                                        body: try JSONSerialization.data(withJSONObject: ["prompt": "x"])))
        while Date() < deadline {
            status = ViewerFixture.object(third.respond(ViewerRequest(method: "GET", path: "/api/trace", host: "127.0.0.1:8765")))
            if status["state"] as? String != "running" { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(status["error"] as? String == "error: \(f.store.openedFrom)|x --json")
    }
}
