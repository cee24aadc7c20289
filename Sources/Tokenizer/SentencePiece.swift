// SentencePiece-style BPE as GGUF stores it (`tokenizer.ggml.model = llama`: Llama 2, Gemma):
// spaces are written "▁" (U+2581); a piece starts as one symbol per UTF-8 character, and the
// adjacent pair whose concatenation is the highest-scoring vocabulary entry is merged (leftmost
// on ties) until no adjacent pair forms an entry. A symbol that is no entry is written as its
// bytes (the `<0xXX>` tokens). This follows llama.cpp's SPM tokenizer step for step.

struct SentencePieceModel: Sendable {
    /// token text → id
    let ids: [String: Int]
    let scores: [Float]
    /// byte → id of its `<0xXX>` token (-1 when the vocabulary has none)
    let byteTokens: [Int32]
    /// Whether a space is put before text that starts a prompt or follows a special token.
    let addSpacePrefix: Bool

    static let space: Character = "\u{2581}"

    init(tokens: [String], scores: [Float], types: [Int], addSpacePrefix: Bool) {
        var ids = [String: Int](minimumCapacity: tokens.count)
        for (id, token) in tokens.enumerated() where ids[token] == nil { ids[token] = id }
        self.ids = ids
        self.scores = scores
        var byteTokens = [Int32](repeating: -1, count: 256)
        for (id, token) in tokens.enumerated() where id < types.count && types[id] == 6 {
            // "<0xAB>"
            let hex = token.dropFirst(3).dropLast()
            if token.hasPrefix("<0x"), token.hasSuffix(">"), hex.count == 2, let byte = UInt8(hex, radix: 16) { byteTokens[Int(byte)] = Int32(id) }
        }
        self.byteTokens = byteTokens
        self.addSpacePrefix = addSpacePrefix
    }

    /// Token ids for one fragment of text (no special tokens in it).
    func encode(_ fragment: String, afterSpecial: Bool, source: String) throws -> [Int] {
        var escaped = addSpacePrefix && afterSpecial ? "\u{2581}" : ""
        for c in fragment.unicodeScalars { escaped.unicodeScalars.append(c == " " ? "\u{2581}" : c) }
        let bytes = Array(escaped.utf8)
        guard !bytes.isEmpty else { return [] }
        // One symbol per UTF-8 character: byte ranges, linked left and right.
        var starts = [Int](), lengths = [Int]()
        var offset = 0
        while offset < bytes.count {
            let lead = bytes[offset]
            let length = lead < 0x80 ? 1 : lead >> 5 == 0b110 ? 2 : lead >> 4 == 0b1110 ? 3 : lead >> 3 == 0b11110 ? 4 : 1
            let n = min(length, bytes.count - offset)
            starts.append(offset); lengths.append(n)
            offset += n
        }
        let count = starts.count
        var previous = (0..<count).map { $0 - 1 }, next = (0..<count).map { $0 + 1 == count ? -1 : $0 + 1 }
        var heap = BigramHeap()
        func text(_ left: Int, _ right: Int) -> [UInt8] { Array(bytes[starts[left]..<(starts[left] + lengths[left] + lengths[right])]) }
        func addBigram(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            let piece = text(left, right)
            guard let id = ids[String(decoding: piece, as: UTF8.self)], id < scores.count else { return }
            heap.push(Bigram(left: left, right: right, score: scores[id], size: piece.count))
        }
        for i in 1..<max(count, 1) { addBigram(i - 1, i) }
        while let bigram = heap.pop() {
            let (l, r) = (bigram.left, bigram.right)
            guard lengths[l] > 0, lengths[r] > 0, lengths[l] + lengths[r] == bigram.size else { continue }
            lengths[l] += lengths[r]
            lengths[r] = 0
            next[l] = next[r]
            if next[r] >= 0 { previous[next[r]] = l }
            addBigram(previous[l], l)
            addBigram(l, next[l])
        }
        var out = [Int]()
        // Every merged symbol is a vocabulary entry; a single character that is not is written as bytes.
        func resegment(_ start: Int, _ length: Int) throws {
            let piece = Array(bytes[start..<(start + length)])
            let string = String(decoding: piece, as: UTF8.self)
            if string.utf8.count == piece.count, let id = ids[string] { out.append(id); return }
            for byte in piece {
                let id = byteTokens[Int(byte)]
                guard id >= 0 else { throw TokenizerError.missingByteToken(source: source, byte: byte) }
                out.append(Int(id))
            }
        }
        var i = 0
        while i != -1 {
            if lengths[i] > 0 { try resegment(starts[i], lengths[i]) }
            i = next[i]
        }
        return out
    }
}

/// A candidate merge: symbols `left` and `right`, the merged entry's score and byte length.
struct Bigram {
    let left: Int, right: Int
    let score: Float
    let size: Int
    /// Higher scores first; on ties, the leftmost.
    func before(_ other: Bigram) -> Bool { score > other.score || (score == other.score && left < other.left) }
}

/// A binary max-heap of bigrams in `Bigram.before` order.
struct BigramHeap {
    private var items = [Bigram]()

    mutating func push(_ b: Bigram) {
        items.append(b)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].before(items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Bigram? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let (a, b) = (2 * i + 1, 2 * i + 2)
                var best = i
                if a < items.count && items[a].before(items[best]) { best = a }
                if b < items.count && items[b].before(items[best]) { best = b }
                if best == i { break }
                items.swapAt(i, best)
                i = best
            }
        }
        return top
    }
}
