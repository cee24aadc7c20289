// Byte-pair encoding of one pre-tokenized piece.
//
// A piece starts as one symbol per byte (the vocabulary's byte-level characters). The adjacent
// pair with the lowest merge rank is merged, leftmost first, until no adjacent pair has a merge.
// Merges are keyed by the ids of their two halves, so the inner loop never builds strings.

struct BPEModel: Sendable {
    /// merge key (left id << 32 | right id) → (rank, merged id)
    let merges: [UInt64: (rank: Int32, result: Int32)]
    /// byte → id of the token that is that single byte
    let byteTokens: [Int32]

    init(tokens: [String], ids: [String: Int], merges mergeList: [(String, String)], source: String) throws {
        var byteTokens = [Int32](repeating: -1, count: 256)
        for byte in 0..<256 {
            if let id = ids[String(ByteLevel.characters[byte])] { byteTokens[byte] = Int32(id) }
        }
        var merges = [UInt64: (rank: Int32, result: Int32)]()
        merges.reserveCapacity(mergeList.count)
        for (rank, (left, right)) in mergeList.enumerated() {
            guard let l = ids[left], let r = ids[right] else {
                throw TokenizerError.invalidFile(source: source, reason: "merge \(rank) (\(left) \(right)) names a token outside the vocabulary")
            }
            guard let merged = ids[left + right] else {
                throw TokenizerError.invalidFile(source: source, reason: "merge \(rank) produces \(left + right), which is not in the vocabulary")
            }
            let key = UInt64(l) << 32 | UInt64(r)
            if merges[key] == nil { merges[key] = (Int32(rank), Int32(merged)) }
        }
        self.merges = merges
        self.byteTokens = byteTokens
    }

    /// Token ids for the UTF-8 bytes of one piece.
    func encode(_ bytes: [UInt8], source: String) throws -> [Int] {
        var symbols = [Int32]()
        symbols.reserveCapacity(bytes.count)
        for byte in bytes {
            let id = byteTokens[Int(byte)]
            guard id >= 0 else { throw TokenizerError.missingByteToken(source: source, byte: byte) }
            symbols.append(id)
        }
        while symbols.count > 1 {
            var bestRank = Int32.max, bestIndex = -1, bestResult: Int32 = 0
            for i in 0..<(symbols.count - 1) {
                let key = UInt64(UInt32(symbols[i])) << 32 | UInt64(UInt32(symbols[i + 1]))
                if let merge = merges[key], merge.rank < bestRank {
                    bestRank = merge.rank
                    bestIndex = i
                    bestResult = merge.result
                }
            }
            if bestIndex < 0 { break }
            symbols[bestIndex] = bestResult
            symbols.remove(at: bestIndex + 1)
        }
        return symbols.map(Int.init)
    }
}
