// A tokenized corpus: documents shuffled with a seed, split into training and held-out documents,
// each side packed into fixed-length sequences (documents joined by a blank line) whose order is
// shuffled again, so consecutive sequences come from different places in the corpus.

import Foundation
import TensorCore
import Tokenizer

public struct TokenCorpus: Sendable {
    /// Tokens per sequence (BOS is added when a sequence is run).
    public let sequenceLength: Int
    /// Training sequences, concatenated in shuffled order.
    public let train: [Int32]
    /// Held-out sequences, concatenated.
    public let heldOut: [Int32]
    public let documents: Int
    public let heldOutDocuments: Int
    /// What the corpus was built from (and with which seed), for reports and cache checks.
    public let description: String

    public var trainSequences: Int { train.count / sequenceLength }
    public var heldOutSequences: Int { heldOut.count / sequenceLength }

    /// Sequence i of one split.
    public func sequence(_ i: Int, heldOut useHeldOut: Bool = false) -> [Int] {
        let source = useHeldOut ? heldOut : train
        return source[(i * sequenceLength)..<((i + 1) * sequenceLength)].map(Int.init)
    }

    /// Tokenizes documents (in parallel) and packs them.
    public static func build(documents input: [CorpusDocument], tokenizer: Tokenizer, sequenceLength: Int = 127,
                             heldOutEvery: Int = 50, seed: UInt64 = 0, description: String) throws -> TokenCorpus {
        guard sequenceLength > 0 else { throw TranscoderError.invalidOptions("sequence length must be positive") }
        var random = SeededGenerator(seed: seed)
        var documents = input
        documents.shuffle(using: &random)
        let tokenized = TokenizedDocuments(count: documents.count)
        let docs = documents
        let failure = FailureBox()
        Parallel.forEach(docs.count) { i in
            do { tokenized.set(i, try tokenizer.encode(docs[i].text, parseSpecial: false).map(Int32.init)) } catch { failure.record(error) }
        }
        if let error = failure.error { throw error }
        let separator = try tokenizer.encode("\n\n", parseSpecial: false).map(Int32.init)
        func pack(_ indices: [Int]) -> [Int32] {
            var stream = [Int32]()
            for i in indices {
                stream.append(contentsOf: tokenized.get(i))
                stream.append(contentsOf: separator)
            }
            var chunks = (0..<(stream.count / sequenceLength)).map { $0 }
            chunks.shuffle(using: &random)
            var out = [Int32]()
            out.reserveCapacity(chunks.count * sequenceLength)
            for c in chunks { out.append(contentsOf: stream[(c * sequenceLength)..<((c + 1) * sequenceLength)]) }
            return out
        }
        let heldOutIndices = stride(from: 0, to: docs.count, by: heldOutEvery).map { $0 }
        let heldOutSet = Set(heldOutIndices)
        let trainIndices = (0..<docs.count).filter { !heldOutSet.contains($0) }
        let train = pack(trainIndices), heldOut = pack(heldOutIndices)
        guard train.count >= sequenceLength, heldOut.count >= sequenceLength else {
            throw TranscoderError.corpus("the corpus is too small: \(train.count) training and \(heldOut.count) held-out tokens")
        }
        return TokenCorpus(sequenceLength: sequenceLength, train: train, heldOut: heldOut, documents: docs.count,
                           heldOutDocuments: heldOutIndices.count, description: description)
    }

    // MARK: Cache file
    //   "CTOK" · version u32 · sequence length u32 · documents u32 · held-out documents u32 ·
    //   description length u32 + UTF-8 · train count u64 · held-out count u64 · Int32 tokens

    public func save(to path: String) throws {
        var data = Data("CTOK".utf8)
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { data.append(contentsOf: $0) } }
        func u64(_ v: Int) { withUnsafeBytes(of: UInt64(v).littleEndian) { data.append(contentsOf: $0) } }
        u32(1); u32(sequenceLength); u32(documents); u32(heldOutDocuments)
        let text = Data(description.utf8)
        u32(text.count); data.append(text)
        u64(train.count); u64(heldOut.count)
        train.withUnsafeBytes { data.append(contentsOf: $0) }
        heldOut.withUnsafeBytes { data.append(contentsOf: $0) }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    public static func load(path: String) throws -> TokenCorpus {
        guard let data = FileManager.default.contents(atPath: path) else { throw TranscoderError.corpus("cannot read \(path)") }
        var offset = 0
        func need(_ n: Int) throws {
            guard offset + n <= data.count else { throw TranscoderError.corpus("\(path) is truncated") }
        }
        func u32() throws -> Int {
            try need(4); defer { offset += 4 }
            return Int(UInt32(littleEndian: data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }))
        }
        func u64() throws -> Int {
            try need(8); defer { offset += 8 }
            return Int(UInt64(littleEndian: data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }))
        }
        try need(4)
        guard data.prefix(4) == Data("CTOK".utf8) else { throw TranscoderError.corpus("\(path) is not a token corpus") }
        offset = 4
        guard try u32() == 1 else { throw TranscoderError.corpus("\(path) has an unknown version") }
        let length = try u32(), documents = try u32(), heldOutDocuments = try u32()
        let textLength = try u32()
        try need(textLength)
        let description = String(decoding: data[offset..<(offset + textLength)], as: UTF8.self)
        offset += textLength
        let trainCount = try u64(), heldOutCount = try u64()
        guard length > 0, trainCount <= data.count, heldOutCount <= data.count else { throw TranscoderError.corpus("\(path) has bad counts") }
        try need((trainCount + heldOutCount) * 4)
        func tokens(_ count: Int) -> [Int32] {
            defer { offset += count * 4 }
            return data.withUnsafeBytes { raw in (0..<count).map { raw.loadUnaligned(fromByteOffset: offset + $0 * 4, as: Int32.self) } }
        }
        let train = tokens(trainCount), heldOut = tokens(heldOutCount)
        return TokenCorpus(sequenceLength: length, train: train, heldOut: heldOut, documents: documents,
                           heldOutDocuments: heldOutDocuments, description: description)
    }
}

/// Per-document results written from parallel tasks.
final class TokenizedDocuments: @unchecked Sendable {
    private var storage: [[Int32]]
    private let lock = NSLock()
    init(count: Int) { storage = Array(repeating: [], count: count) }
    func set(_ i: Int, _ tokens: [Int32]) { lock.lock(); storage[i] = tokens; lock.unlock() }
    func get(_ i: Int) -> [Int32] { lock.lock(); defer { lock.unlock() }; return storage[i] }
}

/// The first error thrown by any of several parallel tasks.
final class FailureBox: @unchecked Sendable {
    private(set) var error: Error?
    private let lock = NSLock()
    func record(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
}
