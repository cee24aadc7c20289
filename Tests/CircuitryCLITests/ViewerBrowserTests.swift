// `circuitry serve` as a user meets it: the binary started on a free port over a store traced and
// labelled with the command line (the tiny feature fixture, with a hostile label), then
//   - raw requests the gate must refuse (foreign Host, a write without the token, "../", a body
//     over the limit), and the headers every answer carries;
//   - real headless Chromium (chromium-driver, W3C WebDriver): each page loads; the graph page draws
//     exactly the stored pruned nodes; clicking a node opens its feature page, with the hostile
//     label shown as text; a threshold re-prunes to what `graphs prune` keeps; pinning and grouping
//     a supernode survive a reload and reach the exported JSON; a query's nodes are highlighted;
//     a compare and a trace run.
// `make test` sets CIRCUITRY_BROWSER_TESTS=1 (and installs Chromium), so the browser part must run
// there; elsewhere it runs when Chromium is installed. CIRCUITRY_SCREENSHOTS=DIR keeps screenshots.

import Foundation
import Testing
import GraphStore
import TestSupport

final class ServeProcess {
    let process = Process()
    let port: Int
    let token = "browser-test-token-42"
    private let errors = Pipe()

    init(store: String, extra: [String] = []) throws {
        process.executableURL = CommandLineRun.executable
        process.arguments = ["serve", "--store", store, "--port", "0", "--token", token] + extra
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        var found: Int?
        while found == nil {
            let chunk = errors.fileHandleForReading.availableData
            if chunk.isEmpty { if !process.isRunning || Date() > deadline { break }; continue }
            text += String(decoding: chunk, as: UTF8.self)
            if let range = text.range(of: #"http://127\.0\.0\.1:(\d+)/\?token="#, options: .regularExpression) {
                let digits = text[range].split(separator: ":").last!.prefix { $0.isNumber }
                found = Int(digits)
            }
        }
        guard let found else { process.terminate(); throw WebDriverError("serve did not start: \(text)") }
        port = found
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func stop() -> Int32 {
        process.interrupt()      // Ctrl-C
        process.waitUntilExit()
        return process.terminationStatus
    }
}

enum ViewerBrowserFixture {
    static let hostile = #"<script>window.pwned=1</script>"><img src=x onerror="window.pwned=2">"#

    /// A store with feature pages, two traced graphs (the first keeping every node) and a hostile
    /// label on the first graph's first feature; and a copy for `graphs prune`.
    static func store() throws -> (path: String, copy: String, slugs: [String], labelled: Int) {
        let store = temporaryPath(".sqlite")
        func run(_ arguments: [String]) throws {
            let run = try FeatureCommandFixture.run(arguments, store: store)
            guard run.status == 0 else { throw WebDriverError("\(arguments): \(run.standardError)") }
        }
        try run(["features", "build"])
        try run(["trace", "abaXbaX", "--node-threshold", "1", "--edge-threshold", "1"])
        try run(["trace", "Xbab ab"])
        let slugs = try GraphStore(path: store, readOnly: true).list().map(\.slug).reversed().map { $0 }
        let first = try GraphStore(path: store, readOnly: true).graph(slugs[0])
        guard let feature = first.nodes.first(where: { $0.kind == .feature }) else { throw WebDriverError("the fixture graph has no feature") }
        try run(["features", "label", "\(feature.layer!)/\(feature.feature!)", hostile])
        let copy = temporaryPath(".sqlite")
        try FileManager.default.copyItem(atPath: store, toPath: copy)
        return (store, copy, slugs, feature.index)
    }
}

@Suite(.serialized) struct ViewerBrowserTests {
    @Test func gateRefusesWhatItMust() throws {
        let (store, _, slugs, _) = try ViewerBrowserFixture.store()
        let serve = try ServeProcess(store: store)
        defer { _ = serve.stop() }
        let p = serve.port
        let ok = try rawHTTP(port: p, "GET /api/graphs HTTP/1.1\r\nHost: 127.0.0.1:\(p)\r\nConnection: close\r\n\r\n")
        #expect(ok.status == 200)
        #expect(ok.text.lowercased().contains("content-security-policy: default-src 'self'"))
        #expect(ok.text.lowercased().contains("x-content-type-options: nosniff"))
        let foreign = try rawHTTP(port: p, "GET /api/graphs HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n")
        #expect(foreign.status == 403, "DNS rebinding: \(foreign.text.prefix(200))")
        let noToken = try rawHTTP(port: p, "DELETE /api/graphs/\(slugs[0]) HTTP/1.1\r\nHost: localhost:\(p)\r\nConnection: close\r\n\r\n")
        #expect(noToken.status == 401)
        let badToken = try rawHTTP(port: p, "DELETE /api/graphs/\(slugs[0]) HTTP/1.1\r\nHost: localhost:\(p)\r\nX-Circuitry-Token: nope-nope-nope\r\nConnection: close\r\n\r\n")
        #expect(badToken.status == 403)
        for path in ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/app.js%2f..%2f..%2fetc%2fpasswd"] {
            let climb = try rawHTTP(port: p, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(p)\r\nConnection: close\r\n\r\n")
            #expect(climb.status == 400 || climb.status == 404, "\(path): \(climb.status)")
            #expect(!climb.text.contains("root:"), "\(path)")
        }
        let body = String(repeating: "x", count: 2 << 20)
        let big = try rawHTTP(port: p, "PUT /api/graphs/\(slugs[0])/subgraphs/a HTTP/1.1\r\nHost: 127.0.0.1:\(p)\r\nX-Circuitry-Token: \(serve.token)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        #expect(big.status == 413)
        #expect(try GraphStore(path: store, readOnly: true).list().count == 2, "nothing was deleted")
        #expect(serve.stop() == 0, "Ctrl-C stops the server cleanly")
    }

    @Test func pagesInARealBrowser() throws {
        let required = ProcessInfo.processInfo.environment["CIRCUITRY_BROWSER_TESTS"] == "1"
        guard WebDriver.installed != nil else {
            #expect(!required, "CIRCUITRY_BROWSER_TESTS=1 but chromium and chromium-driver are not installed")
            return
        }
        let (store, copy, slugs, labelledIndex) = try ViewerBrowserFixture.store()
        let f = FeatureCommandFixture.fixture
        let serve = try ServeProcess(store: store, extra: ["--model", f.modelPath, "--transcoders", f.transcoderFolder])
        defer { _ = serve.stop() }
        let browser = try WebDriver()
        defer { browser.quit() }
        let shots = ProcessInfo.processInfo.environment["CIRCUITRY_SCREENSHOTS"]
        func shot(_ name: String) throws {
            if let shots { try browser.screenshot(to: "\(shots)/\(name).png") }
            if ProcessInfo.processInfo.environment["CIRCUITRY_TEST_TRACE"] != nil { FileHandle.standardError.write(Data("browser test: \(name)\n".utf8)) }
        }

        // Graphs page.
        try browser.open("\(serve.url)/?token=\(serve.token)#/graphs")
        try browser.wait("return document.querySelectorAll('#graph-table tbody tr').length === 2", "the graph list")
        #expect(try browser.run("return location.search") as? String == "", "the token leaves the address bar")
        try shot("graphs")

        // Graph page: exactly the stored pruned nodes.
        let slug = slugs[0]
        let stored = try GraphStore(path: copy, readOnly: true).graph(slug)
        try shot("store read")
        try browser.click("a.graph-link[href='#/graph/\(slug)']")
        try shot("clicked")
        try browser.wait("return document.body.dataset.page === 'graph' && document.body.dataset.ready", "the graph page")
        try shot("graph ready")
        let drawn = try browser.run("return Array.from(document.querySelectorAll('#nodes .node')).map(e => Number(e.dataset.index))") as? [Int]
        #expect(drawn == stored.nodes.map(\.index))

        // Clicking the labelled feature opens its page; the hostile label is text.
        try browser.click("#nodes .node[data-index='\(labelledIndex)']")
        try browser.wait("return document.querySelector('#node-panel #feature-page .contexts .context')", "the feature page")
        #expect(try browser.run("return document.getElementById('feature-label').textContent") as? String == ViewerBrowserFixture.hostile)
        #expect(try browser.run("return window.pwned === undefined && document.querySelectorAll('img').length === 0 && document.scripts.length === 1") as? Bool == true)
        try shot("graph")

        // Pin two features, group them, drag a third onto the group, reload: the supernode is
        // still there, and in the export.
        let features = try browser.run("return window.circuitry.view.nodes.filter(n => n.kind === 'feature').slice(0, 3).map(n => n.i)") as? [Int] ?? []
        #expect(features.count == 3)
        for i in features.prefix(2) {
            try browser.click("#nodes .node[data-index='\(i)']")
            try browser.wait("return window.circuitry.selected === \(i) && document.getElementById('node-panel')", "selecting \(i)")
            try browser.press("p")
        }
        try browser.press("g")
        try browser.answerPrompt("an X detector \"<b>\"")
        try browser.wait("return document.body.dataset.saved === '2 pinned, 1 supernodes'", "the subgraph saved")
        try browser.drag("#nodes .node[data-index='\(features[2])']", onto: "#nodes .node[data-index='\(features[0])']")
        try browser.wait("return document.body.dataset.saved === '3 pinned, 1 supernodes'", "the dragged node grouped and saved")
        try browser.run("location.reload()")
        try browser.wait("return document.body.dataset.ready && document.querySelectorAll('#supernodes li').length === 1", "the reloaded subgraph")
        #expect(try browser.run("return document.querySelectorAll('#nodes .node.grouped').length") as? Int == 3)
        let exported = try httpExchange("GET", URL(string: "\(serve.url)/api/graphs/\(slug)/export.json?subgraph=default")!, headers: ["Host": "127.0.0.1:\(serve.port)"])
        let q = (try JSONSerialization.jsonObject(with: exported.body) as? [String: Any])?["qParams"] as? [String: Any]
        #expect((q?["supernodes"] as? [[String]])?.first?.first == "an X detector \"<b>\"")
        #expect((q?["pinnedIds"] as? [String])?.count == 3)
        #expect((q?["supernodes"] as? [[String]])?.first?.count == 4)   // the name and three nodes

        // A threshold re-prunes as `graphs prune` does.
        try browser.run("const s = document.getElementById('node-threshold'); s.value = '0.6'; s.dispatchEvent(new Event('input'))")
        try browser.wait("return window.circuitry.view && window.circuitry.view.nodeThreshold === 0.6 && document.body.dataset.ready", "re-pruning")
        let edgeThreshold = stored.summary.edgeThreshold
        let prune = try CommandLineRun.circuitry(["graphs", "prune", slug, "--node-threshold", "0.6", "--edge-threshold", String(edgeThreshold), "--store", copy, "--json"])
        #expect(prune.status == 0, "\(prune.standardError)")
        let kept = try GraphStore(path: copy, readOnly: true).graph(slug).nodes.map(\.index)
        #expect(try browser.run("return document.querySelectorAll('#nodes .node').length") as? Int == kept.count)

        // A query highlights the nodes it returns (in a fresh page: the stored pruning again).
        try browser.open("about:blank")
        try browser.open("\(serve.url)/#/query")
        try browser.wait("return document.getElementById('query-text')", "the query page")
        try browser.run("document.getElementById('query-text').value = arguments[0]",
                        ["USE '\(slug)'\nMATCH (f:Feature)\nRETURN f, f.influence AS influence\nORDER BY influence DESC LIMIT 3"])
        try browser.click("#query-run")
        try browser.wait("return document.querySelectorAll('#query-table tbody tr').length === 3", "the query's rows")
        try shot("query")
        try browser.run("document.getElementById('query-graph').value = arguments[0]", [slug])
        try browser.click("#query-show")
        try browser.wait("return document.body.dataset.page === 'graph' && document.body.dataset.highlighted === '3'", "three highlighted nodes")

        // Compare two graphs.
        try browser.open("\(serve.url)/#/compare")
        try browser.wait("return document.querySelectorAll('.compare-pick').length === 2", "the compare page")
        try browser.run("document.querySelectorAll('.compare-pick').forEach(b => b.click())")
        try browser.click("#compare-run")
        try browser.wait("return document.querySelectorAll('#compare-metrics tr').length > 5 && document.getElementById('compare-svg').naturalWidth > 0", "the comparison")
        try shot("compare")

        // Trace a prompt in the background; the graph joins the list.
        try browser.open("\(serve.url)/#/trace")
        try browser.type("#trace-prompt", "Xaab")
        try browser.click("#trace-start")
        try browser.wait("return document.getElementById('trace-status').dataset.state === 'done' && document.getElementById('trace-result')", timeout: 60, "the trace")
        try shot("trace")
        #expect(try GraphStore(path: store, readOnly: true).list().count == 3)
        let traced = try browser.run("return document.getElementById('trace-result').textContent") as? String ?? ""

        // Delete it from the graph list, confirming the question.
        try browser.click("#trace-result")
        try browser.wait("return document.body.dataset.page === 'graph' && document.body.dataset.ready", "the traced graph")
        try browser.open("\(serve.url)/#/graphs")
        try browser.wait("return document.querySelectorAll('#graph-table tbody tr').length === 3", "three graphs")
        try browser.click("tr[data-slug='\(traced)'] button.danger")
        try browser.acceptAlert()
        try browser.wait("return document.querySelectorAll('#graph-table tbody tr').length === 2", "the deleted graph gone")
        #expect(try GraphStore(path: store, readOnly: true).list().map(\.slug).contains(traced) == false)
    }
}

/// The viewer on a real store (opt-in: CIRCUITRY_VIEWER_STORE=Graphs/circuits.sqlite, run by
/// Benchmarks/viewer.sh): time to interactive for a real graph page, re-pruning round trips from
/// the browser, and screenshots of each page (CIRCUITRY_SCREENSHOTS). Reports; asserts nothing
/// about speed.
@Suite(.serialized) struct ViewerRealStoreBenchmark {
    static let source = ProcessInfo.processInfo.environment["CIRCUITRY_VIEWER_STORE"]

    @Test(.enabled(if: source != nil && WebDriver.installed != nil))
    func realStore() throws {
        let environment = ProcessInfo.processInfo.environment
        let slug = environment["CIRCUITRY_VIEWER_GRAPH"] ?? "the-capital-of-texas-is"
        let other = environment["CIRCUITRY_VIEWER_OTHER"] ?? "gallery-france"
        let copy = temporaryPath(".sqlite")
        try FileManager.default.copyItem(atPath: Self.source!, toPath: copy)
        let serve = try ServeProcess(store: copy, extra: ["--no-trace"])
        defer { _ = serve.stop() }
        let browser = try WebDriver(width: 1800, height: 1100)
        defer { browser.quit() }
        let shots = environment["CIRCUITRY_SCREENSHOTS"]
        func shot(_ name: String) throws { if let shots { try browser.screenshot(to: "\(shots)/\(name).png") } }
        var report = [String: Any]()

        try browser.open("\(serve.url)/?token=\(serve.token)#/graphs")
        try browser.wait("return document.querySelectorAll('#graph-table tbody tr').length > 0", "the graph list")
        try shot("viewer-graphs")

        // Time to interactive: a fresh page load of the graph, to the picture drawn and handlers on.
        var loads = [Double]()
        for _ in 0..<3 {
            try browser.open("about:blank")
            try browser.open("\(serve.url)/#/graph/\(slug)")
            try browser.wait("return window.circuitry && window.circuitry.readyAt", timeout: 30, "the graph page")
            loads.append(try browser.run("return window.circuitry.readyAt") as? Double ?? -1)
        }
        report["interactive_ms"] = loads
        report["nodes_drawn"] = try browser.run("return document.querySelectorAll('#nodes .node').length")
        report["edges_sent"] = try browser.run("return window.circuitry.view.edges.length")
        report["edges_total"] = try browser.run("return window.circuitry.view.edgesTotal")
        // Click the most influential feature: its page opens.
        let top = try browser.run("return window.circuitry.view.nodes.filter(n => n.kind === 'feature').sort((a, b) => b.infl - a.infl)[0].i") as? Int ?? 0
        try browser.click("#nodes .node[data-index='\(top)']")
        try browser.wait("return document.getElementById('node-panel')", "the node panel")
        try shot("viewer-graph")

        // Re-pruning from the browser: a synchronous request per threshold pair, round trip and server time.
        var reprunes = [[String: Any]]()
        for (nt, et) in [(0.7, 0.95), (0.8, 0.99), (0.9, 0.99), (0.95, 0.995), (1.0, 1.0)] {
            let result = try browser.run("""
                const x = new XMLHttpRequest();
                x.open('GET', '/api/graphs/' + encodeURIComponent(arguments[0]) + '?node_threshold=' + arguments[1] + '&edge_threshold=' + arguments[2], false);
                const t = performance.now(); x.send(); const ms = performance.now() - t;
                const v = JSON.parse(x.responseText);
                return [ms, v.milliseconds, v.nodes.length, v.edgesTotal];
                """, [slug, nt, et]) as? [Double] ?? []
            reprunes.append(["node_threshold": nt, "edge_threshold": et, "round_trip_ms": result.first ?? -1, "server_ms": result.count > 1 ? result[1] : -1,
                             "nodes": result.count > 2 ? result[2] : -1, "edges": result.count > 3 ? result[3] : -1])
        }
        report["reprune"] = reprunes

        try browser.open("\(serve.url)/#/query")
        try browser.wait("return document.getElementById('query-text')", "the query page")
        try browser.run("document.getElementById('query-text').value = arguments[0]",
                        ["USE '\(slug)'\nMATCH p = (t:Token)-[*1..4]->(l:Logit)\nRETURN t.token AS token, l.token AS logit, nodes(p) AS path, strength(p) AS strength\nORDER BY strength DESC LIMIT 5"])
        try browser.click("#query-run")
        try browser.wait("return document.querySelectorAll('#query-table tbody tr').length > 0", timeout: 30, "the query")
        try shot("viewer-query")

        try browser.open("\(serve.url)/#/compare")
        try browser.wait("return document.querySelectorAll('.compare-pick').length > 1", "the compare page")
        try browser.run("document.querySelectorAll('.compare-pick').forEach(b => { if (b.value === arguments[0] || b.value === arguments[1]) b.click(); })", [slug, other])
        try browser.click("#compare-run")
        try browser.wait("return document.getElementById('compare-svg') && document.getElementById('compare-svg').naturalWidth > 0", timeout: 60, "the comparison")
        try shot("viewer-compare")

        let json = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
        FileHandle.standardError.write(Data("viewer benchmark: ".utf8) + json + Data("\n".utf8))
        if let out = environment["CIRCUITRY_VIEWER_REPORT"] { try json.write(to: URL(fileURLWithPath: out)) }
    }
}
