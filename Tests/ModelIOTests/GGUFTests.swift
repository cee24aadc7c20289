import Foundation
import Testing
import ModelIO
import TensorCore
import TestSupport

@Suite struct GGUFTests {
    private func validFile() -> GGUFBuilder {
        var b = GGUFBuilder()
        b.set("general.architecture", .string("llama"))
        b.set("u8", .uint(200, bits: 8)); b.set("i8", .int(-100, bits: 8))
        b.set("u16", .uint(60_000, bits: 16)); b.set("i16", .int(-30_000, bits: 16))
        b.set("u32", .uint(4_000_000_000, bits: 32)); b.set("i32", .int(-2_000_000_000, bits: 32))
        b.set("u64", .uint(1 << 40, bits: 64)); b.set("i64", .int(-(1 << 40), bits: 64))
        b.set("f32", .float(0.5, bits: 32)); b.set("f64", .float(1e-300, bits: 64))
        b.set("bool", .bool(true)); b.set("text", .string("naïve ✓"))
        b.set("strings", .array([.string("a"), .string("bc")]))
        b.set("nested", .array([.array([.uint(1, bits: 32)]), .array([])]))
        b.addF32("weight", try! Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
        return b
    }

    @Test func everyMetadataTypeAndTensorRoundTrips() throws {
        let file = try GGUFFile(path: validFile().write(to: temporaryPath(".gguf")))
        let m = file.metadata
        #expect(try m.int("u8") == 200 && m.int("i8") == -100 && m.int("u16") == 60_000 && m.int("i16") == -30_000)
        #expect(try m.int("u32") == 4_000_000_000 && m.int("i32") == -2_000_000_000)
        #expect(try m.int("u64") == 1 << 40 && m.int("i64") == -(1 << 40))
        #expect(try m.double("f32") == 0.5 && m.double("f64") == 1e-300)
        #expect(try m.bool("bool") && m.string("text") == "naïve ✓")
        #expect(try m.strings("strings") == ["a", "bc"])
        #expect(m["nested"] == .array([.array([.uint(1, bits: 32)]), .array([])]))
        #expect(try file.tensor("weight") == Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
        #expect(throws: ModelIOError.missingKey(file: file.path, key: "llama.block_count")) { try m.int("llama.block_count") }
        #expect(throws: ModelIOError.wrongKeyType(file: file.path, key: "text", expected: "an integer")) { try m.int("text") }
        #expect(throws: ModelIOError.missingTensor(file: file.path, tensor: "nope")) { try file.tensor("nope") }
        #expect(throws: ModelIOError.tensorShape(file: file.path, tensor: "weight", expected: [3, 2], found: [2, 3])) {
            try file.tensor("weight", shape: [3, 2])
        }
    }

    @Test func truncatedFilesNameTheFileAtEveryCut() throws {
        let bytes = validFile().bytes()
        let path = temporaryPath(".gguf")
        // Cutting anywhere must give a typed error, never a crash.
        for cut in Array(stride(from: 0, to: bytes.count, by: 7)) + [bytes.count - 1] {
            try Data(bytes[0..<cut]).write(to: URL(fileURLWithPath: path))
            do {
                _ = try GGUFFile(path: path)
                Issue.record("a file cut at \(cut) of \(bytes.count) bytes opened")
            } catch let error as ModelIOError {
                #expect(error.description.hasPrefix(path), "\(error)")
            }
        }
    }

    @Test func ambiguousOrPoisonedFilesAreRefused() throws {
        func reason(_ b: GGUFBuilder) throws -> String {
            let path = try b.write(to: temporaryPath(".gguf"))
            do { _ = try GGUFFile(path: path).tensor("weight"); return "accepted" } catch { return "\(error)" }
        }
        var repeated = validFile()
        repeated.metadata.append(("u8", .uint(3, bits: 8)))           // a second block_count-like key
        #expect(try reason(repeated).contains("metadata key u8 appears twice"))
        var twice = validFile()
        twice.addF32("weight", try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
        #expect(try reason(twice).contains("tensor weight appears twice"))
        var overlapping = validFile()
        overlapping.addF32("other", try Tensor(shape: [2, 3], scalars: [6, 5, 4, 3, 2, 1]))
        overlapping.tensors[0].offset = 0
        overlapping.tensors[1].offset = 0
        #expect(try reason(overlapping).contains("overlap"))
        var poisoned = validFile()
        poisoned.tensors[0].data = [Float(1), .nan, 3, 4, 5, 6].withUnsafeBytes { Array($0) }
        #expect(try reason(poisoned).contains("not a finite number (element 1)"))
        #expect(try reason(validFile()) == "accepted")
    }

    @Test func wrongMagicAndVersion() throws {
        var b = validFile()
        b.magic = Array("GGML".utf8)
        let path = try b.write(to: temporaryPath(".gguf"))
        #expect(throws: ModelIOError.badMagic(file: path, found: "GGML")) { try GGUFFile(path: path) }
        var v = validFile()
        v.version = 7
        let p2 = try v.write(to: temporaryPath(".gguf"))
        #expect(throws: ModelIOError.unsupportedVersion(file: p2, version: 7)) { try GGUFFile(path: p2) }
    }

    @Test func tensorPastTheEndUnknownTypeAndOverflowingDimensions() throws {
        var past = validFile()
        past.tensors[0].offset = 4096
        let p1 = try past.write(to: temporaryPath(".gguf"))
        #expect { try GGUFFile(path: p1) } throws: { error in
            guard case .tensorOutOfBounds(_, "weight", _, _) = error as? ModelIOError else { return false }
            return true
        }
        var unknown = validFile()
        unknown.tensors[0].type = 99
        let p2 = try unknown.write(to: temporaryPath(".gguf"))
        #expect(throws: ModelIOError.unknownTensorType(file: p2, tensor: "weight", type: 99)) { try GGUFFile(path: p2) }
        var huge = validFile()
        huge.tensors[0].dimensions = [1 << 31, 1 << 31, 1 << 31]
        let p3 = try huge.write(to: temporaryPath(".gguf"))
        #expect { try GGUFFile(path: p3) } throws: { error in
            guard case .badDimensions(_, "weight", _, _) = error as? ModelIOError else { return false }
            return true
        }
        var ragged = validFile()
        ragged.addRaw("q", dimensions: [33, 1], type: 8, data: [UInt8](repeating: 0, count: 34))
        let p4 = try ragged.write(to: temporaryPath(".gguf"))
        #expect { try GGUFFile(path: p4) } throws: { error in
            guard case .badDimensions(_, "q", _, _) = error as? ModelIOError else { return false }
            return true
        }
    }

    @Test func missingAndUnreadableFiles() {
        #expect { try GGUFFile(path: "/nonexistent/model.gguf") } throws: { error in
            guard case .cannotOpen(let file, _) = error as? ModelIOError else { return false }
            return file == "/nonexistent/model.gguf"
        }
        #expect { try GGUFFile(path: NSTemporaryDirectory()) } throws: { error in
            guard case .cannotOpen = error as? ModelIOError else { return false }
            return true
        }
    }

    @Test func theDefaultModelHasItsDocumentedLayout() throws {
        let file = try GGUFFile(path: Fixtures.requireModel())
        #expect(file.version == 3)
        #expect(try file.metadata.int("llama.block_count") == 30)
        #expect(try file.info("token_embd.weight").type == .q8_0)
        #expect(try file.info("blk.0.ffn_down.weight").type == .q4_1)
        #expect(try file.info("blk.0.ffn_down.weight").shape == [576, 1536])
        #expect(try file.info("output_norm.weight").type == .f32)
        #expect(!file.contains("output.weight"))
    }
}
