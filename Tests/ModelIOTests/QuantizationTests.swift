import Foundation
import Testing
import ModelIO
import TensorCore
import TestSupport

@Suite struct QuantizationTests {
    @Test func blockSizesMatchTheFileFormat() {
        #expect(MemoryLayout<BlockQ4_0>.size == 18)
        #expect(MemoryLayout<BlockQ4_1>.size == 20)
        #expect(MemoryLayout<BlockQ8_0>.size == 34)
        #expect(MemoryLayout<BlockQ5_0>.size == 22)
        #expect(MemoryLayout<BlockQ5_1>.size == 24)
        #expect(MemoryLayout<BlockQ2_K>.size == 84)
        #expect(MemoryLayout<BlockQ3_K>.size == 110)
        #expect(MemoryLayout<BlockQ5_K>.size == 176)
        #expect(MemoryLayout<BlockQ4_K>.size == 144)
        #expect(MemoryLayout<BlockQ6_K>.size == 210)
        #expect(GGMLType.q4_0.blockGeometry! == (32, 18))
        #expect(GGMLType.q4_1.blockGeometry! == (32, 20))
        #expect(GGMLType.q8_0.blockGeometry! == (32, 34))
        #expect(GGMLType.q4_K.blockGeometry! == (256, 144))
        #expect(GGMLType.q6_K.blockGeometry! == (256, 210))
    }

    struct Reference: Decodable {
        struct Entry: Decodable { let bytes: String; let values: [Float] }
        let types: [String: Entry]
    }

    static let everyType: [(String, GGMLType)] = [
        ("Q4_0", .q4_0), ("Q4_1", .q4_1), ("Q5_0", .q5_0), ("Q5_1", .q5_1), ("Q8_0", .q8_0),
        ("Q2_K", .q2_K), ("Q3_K", .q3_K), ("Q4_K", .q4_K), ("Q5_K", .q5_K), ("Q6_K", .q6_K), ("F16", .f16), ("BF16", .bf16),
    ]

    /// Bit for bit: every decoded value equals the gguf package's.
    @Test(arguments: everyType)
    func dequantisationMatchesTheGGUFPackage(_ type: (String, GGMLType)) throws {
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Fixtures.url("quantization-reference.json")))
        let entry = try #require(reference.types[type.0])
        var bytes = [UInt8]()
        var hex = entry.bytes[...]
        while !hex.isEmpty { bytes.append(UInt8(hex.prefix(2), radix: 16)!); hex = hex.dropFirst(2) }
        var out = [Float](repeating: .nan, count: entry.values.count)
        bytes.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { Dequantize.run(type.1, raw.baseAddress!, count: $0.count, into: $0.baseAddress!) }
        }
        let differing = zip(out, entry.values).filter { $0.0.bitPattern != $0.1.bitPattern }.count
        #expect(differing == 0, "\(type.0): \(differing) of \(out.count) values differ from the gguf package's")
    }

    @Test func ggufTensorsOfEveryTypeReadBack() throws {
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Fixtures.url("quantization-reference.json")))
        var builder = GGUFBuilder()
        builder.set("general.architecture", .string("test"))
        let types: [(String, UInt32, Int)] = Self.everyType.map { ($0.0, UInt32($0.1.rawValue), 512) }
        for (name, code, row) in types {
            let hex = Array(reference.types[name]!.bytes.utf8)
            let bytes = stride(from: 0, to: hex.count, by: 2).map { UInt8(String(decoding: hex[$0..<($0 + 2)], as: UTF8.self), radix: 16)! }
            builder.addRaw("t.\(name)", dimensions: [row, 2], type: code, data: bytes)
        }
        let file = try GGUFFile(path: builder.write(to: temporaryPath(".gguf")))
        for (name, _, _) in types {
            let t = try file.tensor("t.\(name)")
            #expect(t.shape == [2, 512])
            assertClose(t, try Tensor(reference.types[name]!.values).reshaped([2, 512]), rtol: 1e-6, atol: 1e-9, name)
        }
    }
}
