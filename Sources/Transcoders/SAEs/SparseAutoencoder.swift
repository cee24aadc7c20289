// A sparse autoencoder (SAE): a dictionary that reads one hook point and reconstructs the same
// point, as SAELens and Gemma Scope's residual SAEs do.
//
//   x̃ = x − b_dec  (when the SAE subtracts its decoder bias first: SAELens's apply_b_dec_to_input)
//   z = W_enc · x̃ + b_enc                        pre-activations            [f]
//   a = act(z)                                   ReLU, JumpReLU or TopK, never negative
//   x̂ = Σ_i a_i · W_dec[i] + b_dec               the reconstruction           [d]
//
// The encoder, decoder and activation are a per-layer `Transcoder` whose input and output site
// is the same hook point: everything that reads transcoder features (feature scans, logit lens,
// steering) reads SAE features through it.

import Foundation
import LanguageModels
import ModelIO
import TensorCore

public struct SparseAutoencoder: Sendable {
    /// The hook point it reads and reconstructs, by its TransformerLens name.
    public var hookName: String
    /// The dictionary itself: `layer` is the hook's layer (0 for points outside the blocks).
    public var dictionary: Transcoder
    /// Subtract b_dec from the input before encoding (SAELens's `apply_b_dec_to_input`).
    public var subtractsDecoderBias: Bool
    /// The model it was trained on, when known.
    public var modelName: String?
    /// Where it came from and how it was made (written to `cfg.json`'s metadata).
    public var notes: [String: String]

    public init(hookName: String, dictionary: Transcoder, subtractsDecoderBias: Bool = false, modelName: String? = nil,
                notes: [String: String] = [:]) throws {
        guard dictionary.skip == nil, dictionary.decoderWeights.span == 1 else {
            throw TranscoderError.invalidOptions("an SAE has one decoder vector per feature and no skip connection")
        }
        self.hookName = hookName
        self.dictionary = dictionary
        self.subtractsDecoderBias = subtractsDecoderBias
        self.modelName = modelName
        self.notes = notes
    }

    /// d_in: the width of the hook point's rows.
    public var width: Int { dictionary.modelWidth }
    /// d_sae: the number of features.
    public var features: Int { dictionary.features }
    public var activation: TranscoderActivation { dictionary.activation }

    /// The architecture's name as SAELens writes it: standard (ReLU), topk, jumprelu.
    public var architecture: String {
        switch dictionary.activation {
        case .relu: "standard"
        case .topK: "topk"
        case .jumpReLU: "jumprelu"
        }
    }

    /// Pre-activations z for rows x [n, d] → [n, f].
    public func preactivations(_ x: Tensor) throws -> Tensor {
        try dictionary.preactivations(try shiftedInput(x))
    }

    /// The active features of each row of x [n, d]: only positive activations (a JumpReLU with a
    /// negative threshold still passes z through a ReLU first, as SAELens does).
    public func encode(_ x: Tensor) throws -> SparseActivations {
        try check(x)
        return try Self.positive(dictionary).activate(preactivations(x))
    }

    /// Dense activations [n, f] of rows x [n, d] (SAELens's `encode`).
    public func encodeDense(_ x: Tensor) throws -> Tensor {
        let a = try encode(x)
        var out = try Tensor(zeros: [a.rows, features])
        for r in 0..<a.rows { for s in a.rowStarts[r]..<a.rowStarts[r + 1] { out.scalars[r * features + Int(a.features[s])] = a.values[s] } }
        return out
    }

    /// The reconstruction x̂ [n, d] of active features.
    public func decode(_ a: SparseActivations) throws -> Tensor { try dictionary.decode(a) }

    /// x̂ for rows x [n, d].
    public func reconstruct(_ x: Tensor) throws -> Tensor { try decode(encode(x)) }

    /// Feature i's decoder vector W_dec[i] [d].
    public func decoderVector(_ feature: Int) throws -> Tensor {
        guard (0..<features).contains(feature) else {
            throw TranscoderError.invalidOptions("feature \(feature) is outside the SAE's 0..<\(features)")
        }
        return try Tensor(shape: [width], scalars: dictionary.decoderWeights.rows([feature]))
    }

    /// Throws unless x's rows are d_in wide.
    public func check(_ x: Tensor) throws {
        guard x.shape.last == width else {
            throw TranscoderError.invalidOptions("the SAE reads rows of width \(width) (d_in) but \(hookName) has width \(x.shape.last ?? 0)")
        }
    }

    /// Throws unless `model` has this SAE's hook point and its width is d_in.
    public func validate(for model: TransformerModel) throws -> HookPoint {
        let point = try model.hookPoint(named: hookName)
        guard let w = model.width(of: point) else {
            throw TranscoderError.invalidOptions("\(hookName) has no rows an SAE could read")
        }
        guard w == width else {
            throw TranscoderError.invalidOptions("the SAE's d_in is \(width) but \(hookName) of this model is \(w) wide")
        }
        return point
    }

    /// The dictionary that encodes raw rows as `encode` does: b_dec's subtraction folded into
    /// b_enc (b_enc − W_enc·b_dec) and a JumpReLU threshold raised to at least 0. What the
    /// transcoder machinery (feature scans) runs.
    public func scanDictionary() throws -> Transcoder {
        var t = dictionary
        if subtractsDecoderBias {
            let shift = try Tensor.matmul(dictionary.decoderBias.reshaped([1, width]), dictionary.encoder, transposeB: true)
            t.encoderBias = try dictionary.encoderBias - shift.reshaped([features])
        }
        return Self.positive(t)
    }

    /// `t` with a JumpReLU threshold raised to at least 0: z > max(θ, 0) is SAELens's
    /// ReLU(z) · 1[z > θ] (ReLU and TopK keep only positive values already).
    private static func positive(_ t: Transcoder) -> Transcoder {
        guard case .jumpReLU(let threshold) = t.activation, threshold.scalars.contains(where: { $0 < 0 }) else { return t }
        var raised = t
        raised.activation = .jumpReLU(threshold: threshold.map { max($0, 0) })
        return raised
    }

    /// A content fingerprint of the SAE's files (for the store's feature pages).
    public static func fingerprint(path: String) throws -> String {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw TranscoderError.invalidConfig(file: path, reason: "no such SAE file or folder")
        }
        guard isFolder.boolValue else { return try Fingerprint.file(path) }
        let files = [configFile, weightsFile, "params.npz"].map { (path as NSString).appendingPathComponent($0) }
            .filter { FileManager.default.fileExists(atPath: $0) }
        return Fingerprint.combine(try files.map { try Fingerprint.file($0) })
    }

    private func shiftedInput(_ x: Tensor) throws -> Tensor {
        guard subtractsDecoderBias else { return x }
        var shifted = x
        try shifted.addRowVector(dictionary.decoderBias.scaled(by: -1))
        return shifted
    }
}
