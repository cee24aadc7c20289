// Cross-layer transcoders in the published layouts (Tests/Fixtures/clt, written by
// scripts/make-clt-fixtures.py with circuit-tracer 0.5.0's own CrossLayerTranscoder): its CLT
// files in float32 and bfloat16, and Gemma Scope 2's multi-layer files. Every layer's
// activations and reconstruction must be what circuit-tracer computes from the same files; bad
// files are refused with an error naming the problem.

import Foundation
import Testing
import ModelIO
import TensorCore
import Transcoders
import TestSupport

@Suite struct CrossLayerFileTests {
    static let fixtures = Fixtures.url("clt")
    nonisolated(unsafe) static let expected = try! JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("expected.json"))) as! [String: Any]

    static func floats(_ key: String, in case_: String? = nil) -> [Float] {
        let object = case_.map { expected[$0] as! [String: Any] } ?? expected
        return (object[key] as! [NSNumber]).map(\.floatValue)
    }

    /// The fixture's inputs, one [n, d] tensor per layer.
    static func inputs() throws -> [Tensor] {
        let (L, n, d) = (expected["L"] as! Int, expected["n"] as! Int, expected["d"] as! Int)
        let x = floats("x")
        return try (0..<L).map { try Tensor(shape: [n, d], scalars: Array(x[($0 * n * d)..<(($0 + 1) * n * d)])) }
    }

    /// A copy of a fixture folder, to spoil.
    static func copy(_ name: String) throws -> String {
        let folder = temporaryPath("-clt-\(name)")
        try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent(name).path, toPath: folder)
        return folder
    }

    static func close(_ a: [Float], _ b: [Float], _ tolerance: Float) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
    }

    @Test(arguments: ["ct-relu", "ct-jumprelu", "gs2"])
    func readsAsCircuitTracerDoes(_ name: String) throws {
        for lazy in [false, true] {
            let set = try TranscoderSet.load(folder: Self.fixtures.appendingPathComponent(name).path, lazy: lazy)
            #expect(set.isCrossLayer && set.layers == 3 && set.features == 6 && set.modelWidth == 4)
            #expect(set.writers(of: 2) == 0...2)
            for l in 0..<3 {
                let t = try set[l]
                #expect(t.outputLayers == l..<3 && t.decoderWeights.isMapped)
            }
            let (activations, outputs) = try set.reconstruct(inputs: try Self.inputs())
            // Activations dense [L, n, f], as circuit-tracer's encode returns them.
            var dense = [Float](repeating: 0, count: 3 * 5 * 6)
            for (l, a) in activations.enumerated() {
                for r in 0..<a.rows { for (f, v) in a.row(r) { dense[(l * 5 + r) * 6 + f] = v } }
            }
            #expect(Self.close(dense, Self.floats("activations", in: name), 1e-5), "\(name) activations")
            #expect(Self.close(outputs.flatMap(\.scalars), Self.floats("reconstruction", in: name), 1e-5), "\(name) reconstruction")
        }
        if name != "gs2" {
            // The decoder of layer 1 as circuit-tracer holds it ([f, 2, d]; bfloat16 rounded as stored).
            let set = try TranscoderSet.load(folder: Self.fixtures.appendingPathComponent(name).path)
            let w = try set[1].decoder
            #expect(w.shape == [6, 2, 4] && w.scalars == Self.floats("W_dec_1", in: name))
        }
    }

    @Test func savedSetsReadBackInCircuitTracersLayout() throws {
        let set = try TranscoderSet.load(folder: Self.fixtures.appendingPathComponent("gs2").path)
        let folder = temporaryPath("-clt-saved")
        try set.save(to: folder)
        for l in 0..<3 {
            let encoder = try SafetensorsFile(path: folder + "/W_enc_\(l).safetensors")
            #expect(Set(encoder.names) == ["W_enc_\(l)", "b_enc_\(l)", "b_dec_\(l)", "threshold_\(l)", "W_skip_\(l)"])
            let decoder = try SafetensorsFile(path: folder + "/W_dec_\(l).safetensors")
            #expect(decoder.entries["W_dec_\(l)"]?.shape == [6, 3 - l, 4])
        }
        let again = try TranscoderSet.load(folder: folder)
        let inputs = try Self.inputs()
        #expect(try again.reconstruct(inputs: inputs).outputs.flatMap(\.scalars) == (try set.reconstruct(inputs: inputs).outputs.flatMap(\.scalars)))
    }

    @Test func onlyTheActiveRowsOfAMappedDecoderAreRead() throws {
        let set = try TranscoderSet.load(folder: Self.fixtures.appendingPathComponent("ct-relu").path, lazy: true)
        let t = try set[0], full = try t.decoder
        let rows = try t.decoderWeights.rows([4, 1])
        #expect(rows == Array(full.scalars[(4 * 12)..<(5 * 12)]) + Array(full.scalars[12..<24]))
        #expect(throws: TranscoderError.self) { try t.decoderWeights.rows([6]) }
    }

    @Test func theLogitLensReadsEverythingAFeatureWrites() throws {
        // A CLT feature's pages show what all its decoders add to the residual stream.
        let set = try TranscoderSet.load(folder: Self.fixtures.appendingPathComponent("ct-relu").path)
        let t = try set[0], w = try t.decoder, total = try t.totalDecoder()
        #expect(total.shape == [6, 4])
        for i in 0..<6 {
            for j in 0..<4 {
                let sum = (0..<3).reduce(Float(0)) { $0 + w.scalars[(i * 3 + $1) * 4 + j] }
                #expect(abs(total.scalars[i * 4 + j] - sum) <= 1e-6)
            }
        }
        #expect(try set[2].totalDecoder().shape == [6, 4])
    }

    @Test func badFilesAreClearErrors() throws {
        // A decoder whose layer span is wrong: layer 1 writing to 3 layers of a 3-layer CLT.
        let span = try Self.copy("ct-relu")
        try SafetensorsFile.write(["W_dec_1": Tensor(zeros: [6, 3, 4])], to: span + "/W_dec_1.safetensors")
        #expect(throws: TranscoderError.decoderSpan(set: span + "/W_dec_1.safetensors", layer: 1, span: 3, expected: 2, crossLayer: true)) {
            try TranscoderSet.load(folder: span)
        }
        #expect(String(describing: TranscoderError.decoderSpan(set: "s", layer: 1, span: 3, expected: 2, crossLayer: true)).contains("writes to 3 layers"))
        // A missing W_dec_2.
        let missing = try Self.copy("ct-relu")
        try FileManager.default.removeItem(atPath: missing + "/W_dec_2.safetensors")
        #expect(throws: TranscoderError.missingLayerFile(folder: missing, layer: 2, path: missing + "/W_dec_2.safetensors")) {
            try TranscoderSet.load(folder: missing, lazy: true)
        }
        // Encoder and decoder widths that disagree, and feature counts that disagree.
        let width = try Self.copy("ct-relu")
        try SafetensorsFile.write(["W_dec_0": Tensor(zeros: [6, 3, 5])], to: width + "/W_dec_0.safetensors")
        #expect(throws: TranscoderError.shape(file: width + "/W_dec_0.safetensors", tensor: "W_dec_0", expected: [6, 3, 4], found: [6, 3, 5])) {
            try TranscoderSet.load(folder: width)
        }
        let features = try Self.copy("ct-relu")
        try SafetensorsFile.write(["W_dec_0": Tensor(zeros: [7, 3, 4])], to: features + "/W_dec_0.safetensors")
        #expect(throws: TranscoderError.shape(file: features + "/W_dec_0.safetensors", tensor: "W_dec_0", expected: [6, 3, 4], found: [7, 3, 4])) {
            try TranscoderSet.load(folder: features)
        }
        // A decoder tensor under another name, and an encoder file without its decoder bias.
        let named = try Self.copy("ct-relu")
        try SafetensorsFile.write(["W_dec": Tensor(zeros: [6, 2, 4])], to: named + "/W_dec_1.safetensors")
        #expect(throws: TranscoderError.missingTensor(file: named + "/W_dec_1.safetensors", tensor: "W_dec_1")) {
            try TranscoderSet.load(folder: named)
        }
        let bias = try Self.copy("ct-relu")
        try SafetensorsFile.write(["W_enc_2": Tensor(zeros: [6, 4]), "b_enc_2": Tensor(zeros: [6])], to: bias + "/W_enc_2.safetensors")
        #expect(throws: TranscoderError.missingTensor(file: bias + "/W_enc_2.safetensors", tensor: "b_dec_2")) {
            try TranscoderSet.load(folder: bias)
        }
        // Gemma Scope 2 multi-layer files whose w_dec does not span every layer.
        let gs2 = try Self.copy("gs2")
        let file = try SafetensorsFile(path: gs2 + "/params_layer_1.safetensors")
        var tensors = try Dictionary(uniqueKeysWithValues: file.names.map { ($0, try file.tensor($0)) })
        tensors["w_dec"] = try Tensor(zeros: [6, 2, 4])
        try SafetensorsFile.write(tensors, to: gs2 + "/params_layer_1.safetensors")
        #expect(throws: TranscoderError.decoderSpan(set: gs2 + "/params_layer_1.safetensors", layer: 1, span: 2, expected: 3, crossLayer: true)) {
            try TranscoderSet.load(folder: gs2)
        }
        // A per-layer set whose decoder spans layers is refused, not read as a CLT.
        let perLayer = temporaryPath("-plt-3d")
        try FileManager.default.createDirectory(atPath: perLayer, withIntermediateDirectories: true)
        try SafetensorsFile.write(["W_enc": Tensor(zeros: [6, 4]), "W_dec": Tensor(zeros: [6, 1, 4]), "b_enc": Tensor(zeros: [6]), "b_dec": Tensor(zeros: [4])],
                                  to: perLayer + "/layer_0.safetensors")
        #expect(throws: TranscoderError.shape(file: perLayer + "/layer_0.safetensors", tensor: "W_dec", expected: [6, 4], found: [6, 1, 4])) {
            try TranscoderSet.load(folder: perLayer)
        }
    }
}
