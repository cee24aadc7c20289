import Foundation
import Testing
import ModelIO
import TensorCore
import TestSupport

@Suite struct SafetensorsTests {
    @Test(arguments: [SafetensorsDType.f32, .f16, .bf16])
    func writeThenReadRoundTrips(_ dtype: SafetensorsDType) throws {
        var random = TestRandom(seed: 50)
        // Values exactly representable in every dtype, so the round trip is exact.
        let a = random.normal([3, 4]).map { ($0 * 8).rounded() / 8 }
        let b = Tensor([0.5, -1.25])
        let path = temporaryPath(".safetensors")
        try SafetensorsFile.write(["b": b, "a": a], dtype: dtype, metadata: ["format": "pt"], to: path)
        let file = try SafetensorsFile(path: path)
        #expect(file.names == ["a", "b"])
        #expect(file.metadata == ["format": "pt"])
        #expect(try file.tensor("a") == a)
        #expect(try file.tensor("b") == b)
        #expect(throws: ModelIOError.tensorShape(file: path, tensor: "a", expected: [4, 3], found: [3, 4])) {
            try file.tensor("a", shape: [4, 3])
        }
    }

    /// A file with a hand-written header and `dataBytes` bytes of data.
    private func file(header: String, dataBytes: Int) throws -> String {
        var data = Data()
        let h = Data(header.utf8)
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(h)
        data.append(Data(count: dataBytes))
        let path = temporaryPath(".safetensors")
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func headerOffsetsAreValidated() throws {
        let outside = try file(header: #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#, dataBytes: 8)
        #expect { try SafetensorsFile(path: outside) } throws: { error in
            guard case .tensorOutOfBounds(_, "x", _, _) = error as? ModelIOError else { return false }
            return true
        }
        let wrongSize = try file(header: #"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8)
        #expect { try SafetensorsFile(path: wrongSize) } throws: { error in
            guard case .invalidHeader = error as? ModelIOError else { return false }
            return true
        }
        let overlap = try file(header: #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, dataBytes: 12)
        #expect { try SafetensorsFile(path: overlap) } throws: { error in
            guard case .invalidHeader(_, let reason) = error as? ModelIOError else { return false }
            return reason.contains("overlaps")
        }
        let notJSON = try file(header: "{nope", dataBytes: 0)
        #expect(throws: ModelIOError.invalidHeader(file: notJSON, reason: "header is not a JSON object")) { try SafetensorsFile(path: notJSON) }
        // A header length larger than the file.
        var data = Data()
        withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { data.append(contentsOf: $0) }
        let path = temporaryPath(".safetensors")
        try data.write(to: URL(fileURLWithPath: path))
        #expect { try SafetensorsFile(path: path) } throws: { error in
            guard case .truncated = error as? ModelIOError else { return false }
            return true
        }
    }
}
