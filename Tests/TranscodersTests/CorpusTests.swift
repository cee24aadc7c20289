import Foundation
import Testing
@testable import Transcoders
import LanguageModels
import TestSupport

@Suite struct CorpusTests {
    @Test func htmlBecomesReadableText() {
        let html = """
            <html><head><title>T</title><style>p { color: red }</style></head><body>
            <nav>Index · Modules</nav>
            <div role="main"><h1>Control&nbsp;Flow&para;</h1><p>Use <code>if</code> &amp; <em>else</em> &lt;here&gt; &#8212; &#x2713;.</p>
            <pre>for x in xs:
                print(x)</pre><script>alert(1)</script><!-- a comment --></div>
            <div class="sphinxsidebar">Table of contents</div></body></html>
            """
        let text = HTMLText.extract(html)
        #expect(text.hasPrefix("Control Flow¶"))
        #expect(text.contains("Use if & else <here> — ✓."))
        #expect(text.contains("for x in xs:\n    print(x)"))
        #expect(!text.contains("alert") && !text.contains("comment") && !text.contains("Table of contents") && !text.contains("color"))
    }

    @Test func foldersAndFortunesAreRead() throws {
        let folder = temporaryPath("-corpus")
        try FileManager.default.createDirectory(atPath: folder + "/sub", withIntermediateDirectories: true)
        try "Plain text.".write(toFile: folder + "/a.txt", atomically: true, encoding: .utf8)
        try "<p>Marked <b>up</b>.</p>".write(toFile: folder + "/sub/b.html", atomically: true, encoding: .utf8)
        try Data([0, 1, 2, 3]).write(to: URL(fileURLWithPath: folder + "/binary.bin"))
        let documents = try CorpusSources.folderDocuments(folder)
        #expect(documents.map(\.text).sorted() == ["Marked up.", "Plain text."])
        #expect(throws: TranscoderError.self) { try CorpusSources.folderDocuments(folder + "/missing") }
        let fortunes = temporaryPath("-fortunes")
        try FileManager.default.createDirectory(atPath: fortunes, withIntermediateDirectories: true)
        try "First fortune.\n%\nSecond\nfortune.\n%\n".write(toFile: fortunes + "/wisdom", atomically: true, encoding: .utf8)
        try "ignored".write(toFile: fortunes + "/wisdom.dat", atomically: true, encoding: .utf8)
        let read = CorpusSources.fortuneDocuments(under: fortunes)
        #expect(read.count == 1 && read[0].text == "First fortune.\n\nSecond\nfortune.")
    }

    @Test func packingIsDeterministicWithAHeldOutSplit() throws {
        let tokenizer = try LoadedModel.load(path: TinyModel(TinyModelSpec()).writeGGUF()).tokenizer
        let documents = (0..<30).map { CorpusDocument(name: "d\($0)", text: "document \($0) " + String(repeating: "words ", count: 20)) }
        let a = try TokenCorpus.build(documents: documents, tokenizer: tokenizer, sequenceLength: 16, heldOutEvery: 10, seed: 4, description: "t")
        let b = try TokenCorpus.build(documents: documents, tokenizer: tokenizer, sequenceLength: 16, heldOutEvery: 10, seed: 4, description: "t")
        let c = try TokenCorpus.build(documents: documents, tokenizer: tokenizer, sequenceLength: 16, heldOutEvery: 10, seed: 5, description: "t")
        #expect(a.train == b.train && a.heldOut == b.heldOut)
        #expect(a.train != c.train)
        #expect(a.heldOutDocuments == 3 && a.documents == 30)
        // Held-out documents never appear in training: their texts are disjoint.
        let heldText = try tokenizer.decode((0..<a.heldOutSequences).flatMap { a.sequence($0, heldOut: true) })
        let trainText = try tokenizer.decode((0..<a.trainSequences).flatMap { a.sequence($0) })
        for word in heldText.split(separator: " ") where word.allSatisfy(\.isNumber) {
            #expect(!trainText.contains("document \(word) "), "document \(word) is in both splits")
        }
        let path = temporaryPath(".tok")
        try a.save(to: path)
        let loaded = try TokenCorpus.load(path: path)
        #expect(loaded.train == a.train && loaded.heldOut == a.heldOut && loaded.description == "t")
        try Data("CTOK".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: TranscoderError.self) { try TokenCorpus.load(path: path) }
    }
}
