// Splitting text into pieces before BPE, following llama.cpp's hand-written GPT-2 rules:
//
//   's|'t|'re|'ve|'m|'ll|'d | ?\p{L}+ | ?\p{N}+ | ?[^\s\p{L}\p{N}]+ | \s+(?!\S) | \s+
//
// "smollm" (SmolLM2, StarCoder) first cuts every number character out as its own piece and then
// applies the GPT-2 rules to the text between them; the pieces never cross those cuts.
//
// "qwen2" (Qwen 2 and 3) follows the GPT-4-style pattern of Qwen's tokenizer.json:
//
//   '(s|t|re|ve|m|ll|d) case-insensitively | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N} |
//    ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
//
// Letters are Unicode general category L*, numbers N*, whitespace the White_Space property.

/// Which splitting rules a vocabulary was trained with.
public enum PreTokenizer: String, Sendable {
    case gpt2
    case smollm
    case qwen2
    /// SentencePiece vocabularies do not split text before merging (spaces become "▁").
    case sentencePiece

    /// Pieces of `text` as ranges of its scalars.
    func split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        var pieces = [Range<Int>]()
        switch self {
        case .gpt2:
            gpt2Split(scalars, 0..<scalars.count, into: &pieces)
        case .smollm:
            var start = 0
            for i in 0..<scalars.count where CharacterClass(scalars[i]).isNumber {
                if start < i { gpt2Split(scalars, start..<i, into: &pieces) }
                pieces.append(i..<(i + 1))
                start = i + 1
            }
            if start < scalars.count { gpt2Split(scalars, start..<scalars.count, into: &pieces) }
        case .qwen2:
            qwen2Split(scalars, into: &pieces)
        case .sentencePiece:
            if !scalars.isEmpty { pieces.append(0..<scalars.count) }
        }
        return pieces
    }

    private func qwen2Split(_ s: [Unicode.Scalar], into pieces: inout [Range<Int>]) {
        let end = s.count
        func cls(_ i: Int) -> CharacterClass {
            guard i < end else { return .outOfRange }
            let c = CharacterClass(s[i])
            return c == .unassigned ? .other : c       // the pattern knows letters, numbers and whitespace only
        }
        func lower(_ i: Int) -> UInt32 { i < end && (0x41...0x5A).contains(s[i].value) ? s[i].value + 32 : (i < end ? s[i].value : 0) }
        func isNewline(_ i: Int) -> Bool { i < end && (s[i].value == 0x0A || s[i].value == 0x0D) }
        var pos = 0
        while pos < end {
            let start = pos
            // 's 't 'm 'd 're 've 'll, in either case
            if s[pos].value == 0x27 {
                let (a, b) = (lower(pos + 1), lower(pos + 2))
                if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { pieces.append(start..<(pos + 2)); pos += 2; continue }
                if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) {
                    pieces.append(start..<(pos + 3)); pos += 3; continue
                }
            }
            let c = cls(pos)
            // Letters, after at most one character that is neither a letter, a number nor a line break.
            if c == .letter || (c != .number && !isNewline(pos) && cls(pos + 1) == .letter) {
                if c != .letter { pos += 1 }
                while cls(pos) == .letter { pos += 1 }
                pieces.append(start..<pos); continue
            }
            if c == .number { pos += 1; pieces.append(start..<pos); continue }
            // Punctuation and symbols, after at most one space, then any line breaks.
            if c == .other || (s[pos].value == 0x20 && cls(pos + 1) == .other) {
                if c != .other { pos += 1 }
                while cls(pos) == .other { pos += 1 }
                while isNewline(pos) { pos += 1 }
                pieces.append(start..<pos); continue
            }
            // Whitespace: up to its last line break when it has one; else all of it, minus the last
            // character when more text follows.
            var run = 0
            while cls(pos + run) == .whitespace { run += 1 }
            if let last = (pos..<(pos + run)).last(where: isNewline) {
                pos = last + 1
            } else if run > 1 && pos + run < end {
                pos += run - 1
            } else {
                pos += max(run, 1)
            }
            pieces.append(start..<pos)
        }
    }

    private func gpt2Split(_ s: [Unicode.Scalar], _ segment: Range<Int>, into pieces: inout [Range<Int>]) {
        let end = segment.upperBound
        func cls(_ i: Int) -> CharacterClass { i < end ? CharacterClass(s[i]) : .outOfRange }
        func value(_ i: Int) -> UInt32 { i < end ? s[i].value : 0 }
        var pos = segment.lowerBound
        while pos < end {
            let start = pos
            let c = value(pos)
            // 's 't 'm 'd 're 've 'll
            if c == 0x27, pos + 1 < end {
                let next = value(pos + 1)
                if next == 0x73 || next == 0x74 || next == 0x6D || next == 0x64 {
                    pieces.append(start..<(pos + 2)); pos += 2; continue
                }
                if pos + 2 < end {
                    let third = value(pos + 2)
                    if (next == 0x72 && third == 0x65) || (next == 0x76 && third == 0x65) || (next == 0x6C && third == 0x6C) {
                        pieces.append(start..<(pos + 3)); pos += 3; continue
                    }
                }
            }
            // An optional single space (U+0020) before a letter, number or punctuation run.
            let lead = c == 0x20 ? cls(pos + 1) : cls(pos)
            if lead == .letter || lead == .number {
                if c == 0x20 { pos += 1 }
                while cls(pos) == lead { pos += 1 }
                pieces.append(start..<pos); continue
            }
            if lead == .other {
                if c == 0x20 { pos += 1 }
                while cls(pos) == .other { pos += 1 }
                pieces.append(start..<pos); continue
            }
            // Whitespace: a run followed by more text leaves its last character to the next piece.
            var run = 0
            while cls(pos + run) == .whitespace { run += 1 }
            if run > 1 && pos + run < end {
                pos += run - 1
                pieces.append(start..<pos); continue
            }
            if run > 0 {
                pos += run
                pieces.append(start..<pos); continue
            }
            pos += 1          // an unassigned code point: a piece of its own
            pieces.append(start..<pos)
        }
    }
}

/// The classes the splitting rules distinguish.
enum CharacterClass: Equatable {
    case letter, number, whitespace, other, unassigned, outOfRange

    init(_ scalar: Unicode.Scalar) {
        let v = scalar.value
        if v < 128 {
            // ASCII fast path.
            if (0x41...0x5A).contains(v) || (0x61...0x7A).contains(v) { self = .letter }
            else if (0x30...0x39).contains(v) { self = .number }
            else if v == 0x20 || (0x09...0x0D).contains(v) { self = .whitespace }
            else { self = .other }
            return
        }
        if scalar.properties.isWhitespace { self = .whitespace; return }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            self = .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            self = .number
        case .unassigned:
            self = .unassigned
        default:
            self = .other
        }
    }

    var isNumber: Bool { self == .number }
}
