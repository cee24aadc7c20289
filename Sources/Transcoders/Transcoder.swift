// A per-layer transcoder (PLT): reads the MLP's input x (`mlp.hook_in`) and reconstructs the
// MLP's output y (`mlp.hook_out`) through sparse features.
//
//   z = W_enc · x + b_enc                  pre-activations            [f]
//   a = act(z)                             ReLU, JumpReLU or TopK     [f]
//   ŷ = Σ_i a_i · W_dec[i] + b_dec (+ W_skip · x)
//
// Shapes: W_enc [f, d], W_dec [f, d], b_enc [f], b_dec [d], W_skip [d, d], threshold θ [f].

import TensorCore

/// The sparsifying nonlinearity.
public enum TranscoderActivation: Sendable, Equatable {
    case relu
    /// z where z > θ_i, per feature.
    case jumpReLU(threshold: Tensor)
    /// The k largest positive pre-activations of each row.
    case topK(k: Int)

    public var name: String {
        switch self {
        case .relu: "relu"
        case .jumpReLU: "jumprelu"
        case .topK(let k): "topk(k=\(k))"
        }
    }
}

/// One layer's transcoder.
public struct Transcoder: Sendable {
    public var layer: Int
    /// [f, d]
    public var encoder: Tensor
    /// [f]
    public var encoderBias: Tensor
    /// [f, d]
    public var decoder: Tensor
    /// [d]
    public var decoderBias: Tensor
    /// [d, d], when the set has skip connections
    public var skip: Tensor?
    public var activation: TranscoderActivation

    /// d: the width of the residual stream it reads and writes.
    public var modelWidth: Int { encoder.shape[1] }
    /// f: the number of features.
    public var features: Int { encoder.shape[0] }

    public init(layer: Int, encoder: Tensor, encoderBias: Tensor, decoder: Tensor, decoderBias: Tensor,
                skip: Tensor? = nil, activation: TranscoderActivation) throws {
        let (f, d) = (encoder.shape.first ?? 0, encoder.shape.last ?? 0)
        func check(_ t: Tensor, _ shape: [Int], _ name: String) throws {
            guard t.shape == shape else { throw TranscoderError.shape(file: "layer \(layer)", tensor: name, expected: shape, found: t.shape) }
        }
        guard encoder.rank == 2 else { throw TranscoderError.shape(file: "layer \(layer)", tensor: "W_enc", expected: [f, d], found: encoder.shape) }
        try check(encoderBias, [f], "b_enc")
        try check(decoder, [f, d], "W_dec")
        try check(decoderBias, [d], "b_dec")
        if let skip { try check(skip, [d, d], "W_skip") }
        if case .jumpReLU(let threshold) = activation { try check(threshold, [f], "threshold") }
        if case .topK(let k) = activation, k < 1 || k > f {
            throw TranscoderError.invalidOptions("layer \(layer): TopK k = \(k) must be between 1 and \(f)")
        }
        self.layer = layer
        self.encoder = encoder
        self.encoderBias = encoderBias
        self.decoder = decoder
        self.decoderBias = decoderBias
        self.skip = skip
        self.activation = activation
    }

    /// Pre-activations z for rows x [n, d] → [n, f].
    public func preactivations(_ x: Tensor) throws -> Tensor {
        var z = try Tensor.matmul(x, encoder, transposeB: true)
        try z.addRowVector(encoderBias)
        return z
    }

    /// Active features of each row of x [n, d].
    public func encode(_ x: Tensor) throws -> SparseActivations {
        try activate(preactivations(x))
    }

    /// Applies the activation to pre-activations [n, f].
    public func activate(_ z: Tensor) throws -> SparseActivations {
        let f = features
        let n = z.count / max(f, 1)
        var starts = [0], features = [Int32](), values = [Float]()
        var scratch = [Float]()
        z.scalars.withUnsafeBufferPointer { pz in
            for r in 0..<n {
                let row = UnsafeBufferPointer(rebasing: pz[(r * f)..<((r + 1) * f)])
                switch activation {
                case .relu:
                    for i in 0..<f where row[i] > 0 { features.append(Int32(i)); values.append(row[i]) }
                case .jumpReLU(let threshold):
                    threshold.scalars.withUnsafeBufferPointer { t in
                        for i in 0..<f where row[i] > t[i] { features.append(Int32(i)); values.append(row[i]) }
                    }
                case .topK(let k):
                    for i in topKIndices(row, k, scratch: &scratch).sorted() where row[i] > 0 {
                        features.append(Int32(i)); values.append(row[i])
                    }
                }
                starts.append(features.count)
            }
        }
        return SparseActivations(rows: n, width: f, rowStarts: starts, features: features, values: values)
    }

    /// ŷ from active features (and the input x [n, d] when the transcoder has a skip connection).
    public func decode(_ a: SparseActivations, input x: Tensor? = nil) throws -> Tensor {
        let d = modelWidth
        var out = try Tensor(shape: [a.rows, d]) { buffer in
            decoderBias.scalars.withUnsafeBufferPointer { bias in
                decoder.scalars.withUnsafeBufferPointer { w in
                    for r in 0..<a.rows {
                        let o = buffer.baseAddress! + r * d
                        for j in 0..<d { o[j] = bias[j] }
                        for s in a.rowStarts[r]..<a.rowStarts[r + 1] {
                            let v = a.values[s], row = w.baseAddress! + Int(a.features[s]) * d
                            for j in 0..<d { o[j] += v * row[j] }
                        }
                    }
                }
            }
        }
        if let skip {
            guard let x else { throw TranscoderError.invalidOptions("layer \(layer): a skip connection needs the input") }
            try out.add(try Tensor.matmul(x.reshaped([a.rows, d]), skip, transposeB: true))
        }
        return out
    }

    /// The reconstruction ŷ of rows x [n, d].
    public func reconstruct(_ x: Tensor) throws -> Tensor {
        try decode(encode(x), input: x)
    }
}

extension Tensor {
    /// Adds `bias` ([width]) to every row of this [..., width] tensor in place.
    public mutating func addRowVector(_ bias: Tensor) throws {
        guard let width = shape.last, bias.shape == [width] else {
            throw TensorError.shapeMismatch(op: "addRowVector", lhs: shape, rhs: bias.shape)
        }
        let rows = width == 0 ? 0 : count / width
        scalars.withUnsafeMutableBufferPointer { x in
            bias.scalars.withUnsafeBufferPointer { b in
                for r in 0..<rows {
                    let row = x.baseAddress! + r * width
                    for j in 0..<width { row[j] += b[j] }
                }
            }
        }
    }
}
