// GPT-2's byte-level alphabet: every byte is written as one printable character so that BPE
// vocabularies can be stored as text. Printable Latin-1 bytes stand for themselves; the other 68
// bytes (controls, space, 0x7F–0xA0, 0xAD) map to U+0100 onward in byte order.

enum ByteLevel {
    /// byte → the character that stands for it.
    static let characters: [Character] = {
        var result = [Character](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
            if printable {
                result[byte] = Character(Unicode.Scalar(UInt32(byte))!)
            } else {
                result[byte] = Character(Unicode.Scalar(next)!)
                next += 1
            }
        }
        return result
    }()

    /// scalar value → byte, the inverse of `characters`.
    static let bytes: [UInt32: UInt8] = {
        var result = [UInt32: UInt8]()
        for (byte, character) in characters.enumerated() {
            result[character.unicodeScalars.first!.value] = UInt8(byte)
        }
        return result
    }()

    /// The bytes a byte-level token string stands for; nil if it has a character outside the alphabet.
    static func decode(_ token: String) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            guard let byte = bytes[scalar.value] else { return nil }
            out.append(byte)
        }
        return out
    }
}
