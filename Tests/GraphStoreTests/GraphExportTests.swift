// Exports: interchange JSON round trips and import errors; DOT and SVG that render and keep
// prompt and vocabulary text as data.

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import Attribution
import GraphStore
@testable import GraphExport
import TestSupport

/// Collects the text content of an XML document (after entity decoding), or the parse error.
final class XMLText: NSObject, XMLParserDelegate {
    var text = ""
    var elements = [String]()
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        elements.append(name)
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    static func parse(_ document: String) throws -> XMLText {
        let collector = XMLText()
        let parser = XMLParser(data: Data(document.utf8))
        parser.delegate = collector
        guard parser.parse() else { throw parser.parserError ?? CocoaError(.coderReadCorrupt) }
        return collector
    }
}

@Suite struct InterchangeTests {
    @Test(arguments: TestStores.backends) func exportImportExportIsIdentical(backend: String) throws {
        let store = try StoreFixture.store(backend)
        let saved = try StoreFixture.save(into: store)
        let first = InterchangeExport.graph(try store.graph(saved.slug), promptTokens: try store.tokenTexts(saved.slug).prompt)
        #expect(first.nodes.contains { $0.feature_type == "cross layer transcoder" })
        #expect(first.links.count == saved.edgesKept)
        let file = temporaryPath(".json")
        try first.encoded().write(to: URL(fileURLWithPath: file))

        let other = try StoreFixture.store(backend)
        let imported = try InterchangeImport.load(file: file, into: other)
        #expect(imported.slug == saved.slug)
        #expect(imported.replacementScore == saved.replacementScore && imported.completenessScore == saved.completenessScore)
        let second = InterchangeExport.graph(try other.graph(imported.slug), promptTokens: try other.tokenTexts(imported.slug).prompt)
        #expect(second == first)
        #expect(try second.encoded() == first.encoded())

        // Importing again into the same store gets a fresh slug; an explicit one is strict.
        #expect(try InterchangeImport.load(file: file, into: other).slug == "\(saved.slug)-2")
        #expect(throws: GraphStoreError.self) { try InterchangeImport.load(file: file, into: other, slug: saved.slug) }
    }

    @Test(arguments: TestStores.backends) func aFileWithItsUnprunedGraphRePrunesLikeTheOriginal(backend: String) throws {
        let store = try StoreFixture.store(backend)
        let saved = try StoreFixture.save(into: store)
        var file = InterchangeExport.graph(try store.graph(saved.slug), promptTokens: try store.tokenTexts(saved.slug).prompt)
        let (facts, adjacency) = try store.unprunedBlobs(saved.slug)
        file.metadata.circuitry?.unpruned_facts = facts.base64EncodedString()
        file.metadata.circuitry?.unpruned_adjacency = adjacency.base64EncodedString()
        let path = temporaryPath(".json")
        try file.encoded().write(to: URL(fileURLWithPath: path))
        let other = try StoreFixture.store(backend)
        let imported = try InterchangeImport.load(file: path, into: other)
        func same(_ a: StoredGraph, _ b: StoredGraph) -> Bool {
            a.nodes.map(\.index) == b.nodes.map(\.index) && a.nodes.map(\.influence) == b.nodes.map(\.influence)
                && a.edges.map { [$0.source, $0.target] } == b.edges.map { [$0.source, $0.target] } && a.edges.map(\.weight) == b.edges.map(\.weight)
        }
        #expect(same(try store.graph(saved.slug), try other.graph(imported.slug)))
        var changed = false
        for (node, edge) in [(0.5, 0.9), (0.95, 0.99), (0.3, 0.6)] {
            let a = try store.reprune(saved.slug, nodeThreshold: node, edgeThreshold: edge)
            let b = try other.reprune(imported.slug, nodeThreshold: node, edgeThreshold: edge)
            #expect(a.nodesKept == b.nodesKept && a.edgesKept == b.edgesKept, "at \(node)/\(edge)")
            #expect(same(try store.graph(saved.slug), try other.graph(imported.slug)), "at \(node)/\(edge)")
            changed = changed || a.edgesKept != saved.edgesKept
        }
        #expect(changed, "the thresholds must change the pruned graph for this to test anything")
        // A damaged payload is refused, not trusted.
        file.metadata.circuitry?.unpruned_adjacency = "AAAA"
        try file.encoded().write(to: URL(fileURLWithPath: path))
        #expect(throws: InterchangeImport.ImportError.self) { try InterchangeImport.load(file: path, into: other) }
    }

    @Test(arguments: TestStores.backends) func badGraphFilesAreRefusedWithoutWritingAnything(backend: String) throws {
        let store = try StoreFixture.store(backend)
        let saved = try StoreFixture.save(into: store)
        var good = InterchangeExport.graph(try store.graph(saved.slug), promptTokens: try store.tokenTexts(saved.slug).prompt)
        let target = try StoreFixture.store(backend)

        func write(_ data: Data) throws -> String {
            let file = temporaryPath(".json")
            try data.write(to: URL(fileURLWithPath: file))
            return file
        }
        var cases: [(String, String)] = [
            (try write(Data("{not json".utf8)), "not a graph file"),
            (try write(Data("{\"nodes\": []}".utf8)), "not a graph file"),
            (temporaryPath("-missing.json"), "cannot read it"),
        ]
        var noLogits = good
        noLogits.nodes.removeAll { $0.feature_type == "logit" }
        cases.append((try write(try noLogits.encoded()), "at least one logit node"))
        good.links.append(.init(source: "E_1_0", target: "99_99_99", weight: 1))
        cases.append((try write(try good.encoded()), "names an unknown node"))
        for (file, message) in cases {
            let error = #expect(throws: InterchangeImport.ImportError.self) { try InterchangeImport.load(file: file, into: target) }
            let text = error.map(String.init(describing:)) ?? ""
            #expect(text.contains(message) && text.hasPrefix(file) && !text.contains("\n"), "\(text)")
        }
        #expect(try target.list().isEmpty)
    }
}

@Suite struct EscapingTests {
    /// A prompt with every kind of text that breaks naive writers.
    static let nasty = "A \"q\" <script>&x\\ é東\nz"
    /// Ends in a quote followed by a combining mark: one Character, two scalars, still a quote to escape.
    static let nastyToken = "<script>alert(\"&\\\")</script>\"\u{05B9}"

    /// The nasty prompt, traced and stored with nasty token texts, as a user would export it.
    static func stored(_ backend: String = "sqlite") throws -> (StoredGraph, [String]) {
        let graph = try StoreFixture.trace.graph(nasty)
        let store = try StoreFixture.store(backend)
        let summary = try store.save(graph, context: StoreFixture.context) { id in id % 3 == 0 ? nastyToken : StoreFixture.trace.tokenText(id) }
        return (try store.graph(summary.slug), try store.tokenTexts(summary.slug).prompt)
    }

    @Test func dotQuotesLabelsExactly() {
        #expect(DOTWriter.quoted("a\"b\\c\nd&e") == "\"a\\\"b\\\\c\\nd&amp;e\"")
        #expect(DOTWriter.quoted("\"\u{05B9}") == "\"\\\"\u{05B9}\"")
        #expect(DOTWriter.quoted("a\u{7}\tb") == "\"a\\\\x07\\\\tb\"", "control characters show as escapes, their backslash doubled")
        #expect(DOTWriter.visible("x\ty\u{1}") == "x\\ty\\x01")
    }

    @Test func dotRendersWithTheDotCommand() throws {
        let (g, _) = try Self.stored()
        let dot = DOTWriter.dot(g)
        let file = temporaryPath(".dot")
        try dot.write(toFile: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/dot")
        process.arguments = ["-Tsvg", file]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let svg = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let warnings = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(warnings)")
        #expect(!warnings.contains("syntax error"))
        let parsed = try XMLText.parse(svg)
        #expect(parsed.text.contains(Self.nastyToken))
        #expect(parsed.text.contains("<script>&x\\ é東\\nz"))
    }

    @Test func svgIsWellFormedAndHoldsTextAsData() throws {
        let (g, _) = try Self.stored()
        #expect(g.nodes.contains { $0.tokenText == Self.nastyToken })
        let svg = try SVGRenderer.svg(fromDOT: DOTWriter.dot(g))
        let parsed = try XMLText.parse(svg)
        #expect(!svg.contains("<script"))
        #expect(!parsed.elements.contains("script"))
        #expect(parsed.text.contains(Self.nastyToken))
        // The title line shows the prompt with its newline made visible.
        #expect(parsed.text.contains("A \"q\" <script>&x\\ é東\\nz"))
    }

    @Test func svgRenderingIsSafeFromSeveralThreads() async throws {
        let (g, _) = try Self.stored()
        let dot = DOTWriter.dot(g)
        let outputs = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<4 { group.addTask { try SVGRenderer.svg(fromDOT: dot) } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(outputs).count == 1)
        let error = #expect(throws: SVGRenderer.RenderError.self) { try SVGRenderer.svg(fromDOT: "digraph { a -> }") }
        #expect(error.map { String(describing: $0).contains("syntax error") } == true, "\(String(describing: error))")
    }

    @Test(arguments: TestStores.backends) func jsonKeepsTheExactText(backend: String) throws {
        let (g, tokens) = try Self.stored(backend)
        let data = try InterchangeExport.graph(g, promptTokens: tokens).encoded()
        let back = try JSONDecoder().decode(InterchangeGraph.self, from: data)
        #expect(back.metadata.prompt == Self.nasty)
        #expect(back.metadata.prompt_tokens == tokens)
        #expect(tokens.contains(Self.nastyToken))
        // And it is plain JSON any parser reads.
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        #expect((object?["metadata"] as? [String: Any])?["prompt"] as? String == Self.nasty)
    }
}

@Suite struct InterchangeIdTests {
    /// A layer-0 feature with index 2 at position 1 and the error node of layer 2 at position 1:
    /// circuit-tracer 0.5 gave both the id "0_2_1".
    static func colliding() -> HandGraph {
        HandGraph(prompt: "a b c", tokens: ["a", "b", "c"],
                  features: [(0, 1, 2, 0.2), (1, 1, 9, 0.1), (5, 2, 7, 0.3)], logits: [("X", 0.6), ("Y", 0.2)],
                  edges: [("t1", "f0", 1.5), ("f0", "f1", 0.9), ("f1", "f2", 0.7), ("f0", "f2", 0.8), ("e2@1", "f2", -0.4),
                          ("f2", "l0", 2.0), ("e2@1", "l1", 0.3), ("t2", "f2", 0.5), ("f1", "l0", 0.2)], layers: 6)
    }

    @Test func idsAreUniqueAndInfluenceSurvivesARoundTrip() throws {
        let store = try GraphStore(path: temporaryPath(".sqlite"))
        let saved = try Self.colliding().save(into: store, slug: "collide")
        let original = try store.graph(saved.slug)
        let exported = InterchangeExport.graph(original, promptTokens: try store.tokenTexts(saved.slug).prompt)
        let ids = exported.nodes.map(\.node_id)
        #expect(Set(ids).count == ids.count, "repeated node ids: \(ids)")
        #expect(ids.contains("2_-1_1") && ids.contains("0_2_1"))
        let file = temporaryPath(".json")
        try exported.encoded().write(to: URL(fileURLWithPath: file))
        let other = try GraphStore(path: temporaryPath(".sqlite"))
        let imported = try other.graph(try InterchangeImport.load(file: file, into: other).slug)
        func influence(_ g: StoredGraph) -> [String: Float] {
            Dictionary(uniqueKeysWithValues: g.nodes.map { ("\($0.kind)\($0.layer ?? -1)/\($0.feature ?? -1)@\($0.position)#\($0.tokenId ?? -1)", $0.influence) })
        }
        #expect(influence(imported) == influence(original))
        #expect(influence(original).values.contains { $0 > 0 })
        #expect(InterchangeExport.graph(imported, promptTokens: exported.metadata.prompt_tokens) == exported)
        // Labels that came with a file survive a re-export from a store that has no feature pages.
        var labelled = exported
        labelled.nodes = labelled.nodes.map { var n = $0; if n.feature_type == "cross layer transcoder" { n.clerp = "label \(n.node_id)" }; return n }
        let labelledFile = temporaryPath(".json")
        try labelled.encoded().write(to: URL(fileURLWithPath: labelledFile))
        let third = try GraphStore(path: temporaryPath(".sqlite"))
        let relabelled = try third.graph(try InterchangeImport.load(file: labelledFile, into: third).slug)
        #expect(InterchangeExport.graph(relabelled, promptTokens: exported.metadata.prompt_tokens) == labelled)
    }

    @Test func oldCollidingIdsImportWhereCausalityTellsThemApart() throws {
        let store = try GraphStore(path: temporaryPath(".sqlite"))
        let saved = try Self.colliding().save(into: store, slug: "collide")
        let original = try store.graph(saved.slug)
        var old = InterchangeExport.graph(original, promptTokens: try store.tokenTexts(saved.slug).prompt)
        // As circuit-tracer 0.5 wrote it: error ids "0_{layer}_{pos}", no per-node influence.
        func oldId(_ id: String) -> String {
            let p = id.split(separator: "_")
            return p.count == 3 && p[1] == "-1" ? "0_\(p[0])_\(p[2])" : id
        }
        old.nodes = old.nodes.map { var n = $0; n.node_id = oldId(n.node_id); n.circuitry_influence = nil; return n }
        old.links = old.links.map { .init(source: oldId($0.source), target: oldId($0.target), weight: $0.weight) }
        #expect(old.nodes.filter { $0.node_id == "0_2_1" }.count == 2)
        func write(_ g: InterchangeGraph) throws -> String {
            let file = temporaryPath(".json")
            try g.encoded().write(to: URL(fileURLWithPath: file))
            return file
        }
        // "0_2_1" → "5_7_2" and → a logit could come from either node (both sit below layer 5): no
        // reader can tell them apart, so such a file is refused. "0_2_1" → "1_9_1" can only come
        // from the layer-0 feature (the error writes at layer 2). Without the ambiguous links the
        // file imports, every link on the right node.
        let ambiguous = old
        #expect(throws: InterchangeImport.ImportError.self) { try InterchangeImport.load(file: write(ambiguous), into: GraphStore(path: temporaryPath(".sqlite"))) }
        var resolvable = old
        resolvable.links.removeAll { $0.source == "0_2_1" && $0.target != "1_9_1" }
        let other = try GraphStore(path: temporaryPath(".sqlite"))
        let imported = try other.graph(try InterchangeImport.load(file: write(resolvable), into: other).slug)
        #expect(imported.nodes.filter { $0.kind == .error }.map { "\($0.layer!)@\($0.position)" } == ["2@1"])
        #expect(imported.nodes.contains { $0.kind == .feature && $0.layer == 0 && $0.feature == 2 })
        // The token's link into the colliding id can only reach the feature (errors are never targets).
        let t1 = try #require(imported.nodes.first { $0.kind == .token && $0.position == 1 })
        let f0 = try #require(imported.nodes.first { $0.kind == .feature && $0.layer == 0 })
        #expect(imported.edges.contains { $0.source == t1.index && $0.target == f0.index && $0.weight == 1.5 })
        let f1 = try #require(imported.nodes.first { $0.kind == .feature && $0.layer == 1 })
        #expect(imported.edges.contains { $0.source == f0.index && $0.target == f1.index && abs($0.weight - 0.9) < 1e-6 })
        #expect(imported.edges.count == original.edges.count - 3)
        // Influence recomputed over the file's links: every kept feature has some.
        #expect(imported.nodes.filter { $0.kind == .feature }.allSatisfy { $0.influence > 0 })
    }
}

@Suite struct PictureTests {
    /// A graph the size of a pruned real trace's middle: 300 features over 30 layers and 7 positions.
    static func big() throws -> StoredGraph {
        var random = TestRandom(seed: 77)
        func uniform() -> Float { random.uniform([1], 0, 1).scalars[0] }
        var features = [(layer: Int, position: Int, feature: Int, influence: Float)]()
        for i in 0..<300 { features.append((i % 30, 1 + Int(uniform() * 6), i, uniform())) }
        features.sort { ($0.layer, $0.position, $0.feature) < ($1.layer, $1.position, $1.feature) }
        var g = HandGraph(prompt: "a big graph", tokens: (0..<7).map { "t\($0)" }, features: features,
                          logits: [("A", 0.5), ("B", 0.3)], edges: [])
        for (i, a) in features.enumerated() {
            g.edges.append(("t\(a.position)", "f\(i)", uniform()))
            for (j, b) in features.enumerated() where b.layer > a.layer && b.position >= a.position && uniform() < 0.08 {
                g.edges.append(("f\(i)", "f\(j)", uniform() * 2 - 1))
            }
            if a.position == 6 { g.edges.append(("f\(i)", "l0", uniform())); g.edges.append(("f\(i)", "l1", uniform() - 0.5)) }
        }
        for l in [3, 9, 20] { g.edges.append(("e\(l)@6", "l0", 0.2)) }
        let store = try GraphStore(path: temporaryPath(".sqlite"))
        return try store.graph(try g.save(into: store, slug: "big").slug)
    }

    struct Box { var id: Int; var x, y, w, h: Double }

    static func boxes(_ dot: String) throws -> [Box] {
        let pattern = try NSRegularExpression(pattern: #"^  n(\d+) \[.*pos="([-\d.]+),([-\d.]+)!", width=([\d.]+), height=([\d.]+)"#, options: .anchorsMatchLines)
        return pattern.matches(in: dot, range: NSRange(dot.startIndex..., in: dot)).map { m in
            func part(_ i: Int) -> String { String(dot[Range(m.range(at: i), in: dot)!]) }
            return Box(id: Int(part(1))!, x: Double(part(2))!, y: Double(part(3))!, w: Double(part(4))! * 72, h: Double(part(5))! * 72)
        }
    }

    static func edges(_ dot: String) throws -> [(Int, Int)] {
        let pattern = try NSRegularExpression(pattern: #"^  n(\d+) -> n(\d+) "#, options: .anchorsMatchLines)
        return pattern.matches(in: dot, range: NSRange(dot.startIndex..., in: dot)).map { m in
            (Int(dot[Range(m.range(at: 1), in: dot)!])!, Int(dot[Range(m.range(at: 2), in: dot)!])!)
        }
    }

    @Test func picturesAreBoundedLegibleAndSayWhatTheyDraw() throws {
        let g = try Self.big()
        #expect(g.edges.count > 1000)
        for rule in [DrawingRule(), DrawingRule(maxNodes: 20, perTarget: 2, maxEdges: 40), DrawingRule(maxNodes: 150, perTarget: 6, maxEdges: 600)] {
            let dot = DOTWriter.dot(g, rule: rule)
            let boxes = try Self.boxes(dot), edges = try Self.edges(dot)
            let kinds = Dictionary(uniqueKeysWithValues: g.nodes.map { ($0.index, $0.kind) })
            #expect(boxes.count == Set(boxes.map(\.id)).count)
            #expect(boxes.filter { [.feature, .error].contains(kinds[$0.id]) }.count <= rule.maxNodes)
            #expect(edges.count <= rule.maxEdges)
            // Nothing floats: every drawn node but a logit carries a drawn edge.
            let touched = Set(edges.flatMap { [$0.0, $0.1] })
            #expect(boxes.allSatisfy { touched.contains($0.id) || kinds[$0.id] == .logit })
            // No two boxes overlap.
            for (i, a) in boxes.enumerated() {
                for b in boxes[(i + 1)...] {
                    let apart = abs(a.x - b.x) >= (a.w + b.w) / 2 || abs(a.y - b.y) >= (a.h + b.h) / 2
                    #expect(apart, "boxes n\(a.id) and n\(b.id) overlap")
                }
            }
            #expect(dot.contains("drawn: ") && dot.contains("of \(g.edges.count) edges"))
            let svg = try SVGRenderer.svg(fromDOT: dot)
            #expect(svg.contains("</svg>"))
        }
    }
}
