// Where training text comes from: English prose and some code shipped in Debian packages, or
// any folder of text files given with --corpus.

import Foundation

/// One document of the corpus.
public struct CorpusDocument: Sendable {
    public var name: String
    public var text: String
    public init(name: String, text: String) {
        self.name = name
        self.text = text
    }
}

public enum CorpusSources {
    /// The Debian packages the default corpus reads (installed by `make corpus`).
    public static let debianPackages = ["python3.11-doc", "debian-reference-en", "fortunes", "wordnet-base"]

    /// Documents from the default Debian packages that are installed; throws when none is.
    public static func debianDocuments() throws -> [CorpusDocument] {
        var documents = [CorpusDocument]()
        documents += htmlDocuments(under: "/usr/share/doc/python3.11/html", skipping: ["genindex", "search.html", "py-modindex", "_static", "_sources"])
        documents += htmlDocuments(under: "/usr/share/debian-reference", skipping: [], suffix: ".en.html")
        documents += fortuneDocuments(under: "/usr/share/games/fortunes")
        documents += wordnetDocuments(under: "/usr/share/wordnet")
        guard !documents.isEmpty else {
            throw TranscoderError.corpus("none of the default corpus packages is installed (\(debianPackages.joined(separator: ", "))): run `make corpus` or pass --corpus DIR")
        }
        return documents
    }

    /// Every text-like file under `folder` (.txt, .md, .rst, .html, .py, ... ; HTML is stripped).
    public static func folderDocuments(_ folder: String) throws -> [CorpusDocument] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TranscoderError.corpus("\(folder) is not a folder")
        }
        let documents = files(under: folder).compactMap { path -> CorpusDocument? in
            guard let text = readText(path) else { return nil }
            let lower = path.lowercased()
            let body = lower.hasSuffix(".html") || lower.hasSuffix(".htm") ? HTMLText.extract(text) : text
            return body.isEmpty ? nil : CorpusDocument(name: path, text: body)
        }
        guard !documents.isEmpty else { throw TranscoderError.corpus("\(folder) holds no readable text files") }
        return documents
    }

    static func files(under folder: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: folder) else { return [] }
        var result = [String]()
        while let relative = enumerator.nextObject() as? String {
            let path = (folder as NSString).appendingPathComponent(relative)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue { result.append(path) }
        }
        return result.sorted()
    }

    /// UTF-8 text of a file, or nil for binary files.
    static func readText(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty, !data.prefix(4096).contains(0) else { return nil }
        return String(data: data, encoding: .utf8)
    }

    static func htmlDocuments(under folder: String, skipping: [String], suffix: String = ".html") -> [CorpusDocument] {
        files(under: folder).filter { path in path.hasSuffix(suffix) && !skipping.contains { path.contains($0) } }
            .compactMap { path in
                guard let html = readText(path) else { return nil }
                let text = HTMLText.extract(html)
                return text.count < 200 ? nil : CorpusDocument(name: path, text: text)
            }
    }

    /// Fortune files: fortunes separated by lines holding only "%".
    static func fortuneDocuments(under folder: String) -> [CorpusDocument] {
        files(under: folder).filter { !$0.hasSuffix(".dat") && !$0.hasSuffix(".u8") && !($0 as NSString).lastPathComponent.contains(".") }
            .compactMap { path in
                guard let text = readText(path) else { return nil }
                let body = text.components(separatedBy: "\n%\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                    .filter { !$0.isEmpty }.joined(separator: "\n\n")
                return body.isEmpty ? nil : CorpusDocument(name: path, text: body)
            }
    }

    /// WordNet glosses ("word: definition; examples"), in documents of 200 entries (a third of them).
    static func wordnetDocuments(under folder: String) -> [CorpusDocument] {
        var documents = [CorpusDocument]()
        for part in ["noun", "verb", "adj", "adv"] {
            guard let text = readText((folder as NSString).appendingPathComponent("data.\(part)")) else { continue }
            var entries = [String]()
            for line in text.split(separator: "\n") where line.first?.isNumber == true {
                guard let bar = line.range(of: " | ") else { continue }
                let fields = line[..<bar.lowerBound].split(separator: " ")
                guard fields.count > 4 else { continue }
                let word = fields[4].replacingOccurrences(of: "_", with: " ")
                entries.append("\(word): \(line[bar.upperBound...].trimmingCharacters(in: .whitespaces))")
            }
            // Every third block only: glosses would otherwise be nearly half of the corpus.
            for start in stride(from: 0, to: entries.count, by: 600) {
                documents.append(CorpusDocument(name: "wordnet/\(part)/\(start)", text: entries[start..<min(start + 200, entries.count)].joined(separator: "\n")))
            }
        }
        return documents
    }
}
