// One layer's part of a replacement dictionary: the features that read the MLP input x of
// layer l (`mlp.hook_in` by default), and what they write to the MLP outputs of the layers they
// reach — only layer l for a per-layer transcoder (PLT), layers l..<L for a cross-layer
// transcoder (CLT), whose feature read at l writes a decoder vector to every later layer too.
//
//   z = W_enc · x + b_enc                  pre-activations            [f]
//   a = act(z)                             ReLU, JumpReLU or TopK     [f]
//   write to layer t:  Σ_i a_i · W_dec[i, t − l]                      (t in outputLayers)
//   ŷ_l = Σ over the layers s ≤ l that reach l of their writes to l  + b_dec (+ W_skip · x)
//
// Shapes: W_enc [f, d], W_dec [f, d] (PLT) or [f, span, d] (CLT), b_enc [f], b_dec [d] (of the
// output at layer l), W_skip [d, d], threshold θ [f]. For a PLT ŷ_l is `decode`.

import ModelIO
import TensorCore

/// The decoder vectors of one layer's features, W_dec[i, k] for feature i and the k-th layer it
/// writes to: in memory, or memory-mapped in a safetensors file and read row by row, so that a
/// trace of a dictionary far larger than memory reads only the rows of its active features.
public struct DecoderWeights: @unchecked Sendable {
    public let features: Int
    /// How many layers each feature writes to.
    public let span: Int
    public let width: Int
    enum Storage {
        case dense(Tensor)
        /// Row i of `name` holds feature i; its elements `within` are the span's vectors.
        case mapped(SafetensorsFile, name: String, within: Range<Int>)
    }
    let storage: Storage

    /// From a tensor [f, d] (span 1) or [f, span, d].
    public init(_ t: Tensor) throws {
        switch t.rank {
        case 2: (features, span, width) = (t.shape[0], 1, t.shape[1])
        case 3: (features, span, width) = (t.shape[0], t.shape[1], t.shape[2])
        default: throw TranscoderError.invalidOptions("a decoder is [features, width] or [features, layers, width], not \(t.shape)")
        }
        storage = .dense(t)
    }

    /// Rows of a mapped tensor [f, layers, d] whose layers `first..<first + span` are this span.
    public init(mapped file: SafetensorsFile, name: String, features: Int, span: Int, width: Int, first: Int = 0) {
        (self.features, self.span, self.width) = (features, span, width)
        storage = .mapped(file, name: name, within: (first * width)..<((first + span) * width))
    }

    public var isMapped: Bool { if case .mapped = storage { true } else { false } }

    /// Every feature's vectors [f, d] (span 1) or [f, span, d]; reads a mapped decoder whole.
    public func dense() throws -> Tensor {
        switch storage {
        case .dense(let t): return t
        case let .mapped(file, name, within):
            let rows = try file.rows(name, Array(0..<features), within: within)
            return try Tensor(shape: span == 1 ? [features, width] : [features, span, width], scalars: rows)
        }
    }

    /// The vectors of `ids`, [ids.count · span · d] in order (row k, layer j at (k·span + j)·d).
    public func rows(_ ids: [Int]) throws -> [Float] {
        for i in ids where !(0..<features).contains(i) {
            throw TranscoderError.invalidOptions("feature \(i) is outside 0..<\(features)")
        }
        let n = span * width
        switch storage {
        case .dense(let t):
            var out = [Float](repeating: 0, count: ids.count * n)
            t.scalars.withUnsafeBufferPointer { w in
                for (k, i) in ids.enumerated() { for j in 0..<n { out[k * n + j] = w[i * n + j] } }
            }
            return out
        case let .mapped(file, name, within):
            return try file.rows(name, ids, within: within)
        }
    }
}

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

/// One layer's transcoder (of a per-layer set), or one layer's encoder and decoders (of a CLT).
public struct Transcoder: Sendable {
    public var layer: Int
    /// [f, d]
    public var encoder: Tensor
    /// [f]
    public var encoderBias: Tensor
    /// W_dec: what each feature writes to each layer it reaches.
    public var decoderWeights: DecoderWeights
    /// [d]: the bias of the output at this layer.
    public var decoderBias: Tensor
    /// [d, d], when the set has skip connections
    public var skip: Tensor?
    public var activation: TranscoderActivation

    /// d: the width of the residual stream it reads and writes.
    public var modelWidth: Int { encoder.shape[1] }
    /// f: the number of features.
    public var features: Int { encoder.shape[0] }
    /// The layers whose MLP outputs this layer's features write to.
    public var outputLayers: Range<Int> { layer..<(layer + decoderWeights.span) }
    /// W_dec as a tensor: [f, d] for a per-layer transcoder, [f, span, d] across layers (a
    /// mapped decoder is read whole: use `decoderWeights.rows` for a few features).
    public var decoder: Tensor { get throws { try decoderWeights.dense() } }

    /// Σ over the layers it reaches of each feature's decoder vectors [f, d]: everything a feature
    /// adds to the residual stream (what the logit lens reads; W_dec itself for a per-layer set).
    public func totalDecoder() throws -> Tensor {
        let w = try decoder, span = decoderWeights.span
        guard span > 1 else { return w }
        let (f, d) = (features, modelWidth)
        return try Tensor(shape: [f, d]) { out in
            out.update(repeating: 0)
            w.scalars.withUnsafeBufferPointer { p in
                for i in 0..<f { for k in 0..<span { for j in 0..<d { out[i * d + j] += p[(i * span + k) * d + j] } } }
            }
        }
    }

    public init(layer: Int, encoder: Tensor, encoderBias: Tensor, decoder: Tensor, decoderBias: Tensor,
                skip: Tensor? = nil, activation: TranscoderActivation) throws {
        try self.init(layer: layer, encoder: encoder, encoderBias: encoderBias, decoderWeights: try DecoderWeights(decoder),
                      decoderBias: decoderBias, skip: skip, activation: activation)
    }

    public init(layer: Int, encoder: Tensor, encoderBias: Tensor, decoderWeights: DecoderWeights, decoderBias: Tensor,
                skip: Tensor? = nil, activation: TranscoderActivation) throws {
        let (f, d) = (encoder.shape.first ?? 0, encoder.shape.last ?? 0)
        func check(_ t: Tensor, _ shape: [Int], _ name: String) throws {
            guard t.shape == shape else { throw TranscoderError.shape(file: "layer \(layer)", tensor: name, expected: shape, found: t.shape) }
        }
        guard encoder.rank == 2 else { throw TranscoderError.shape(file: "layer \(layer)", tensor: "W_enc", expected: [f, d], found: encoder.shape) }
        try check(encoderBias, [f], "b_enc")
        guard decoderWeights.features == f, decoderWeights.width == d, decoderWeights.span >= 1 else {
            throw TranscoderError.shape(file: "layer \(layer)", tensor: "W_dec", expected: decoderWeights.span == 1 ? [f, d] : [f, decoderWeights.span, d],
                                        found: decoderWeights.span == 1 ? [decoderWeights.features, decoderWeights.width]
                                            : [decoderWeights.features, decoderWeights.span, decoderWeights.width])
        }
        try check(decoderBias, [d], "b_dec")
        if let skip { try check(skip, [d, d], "W_skip") }
        if case .jumpReLU(let threshold) = activation { try check(threshold, [f], "threshold") }
        if case .topK(let k) = activation, k < 1 || k > f {
            throw TranscoderError.invalidOptions("layer \(layer): TopK k = \(k) must be between 1 and \(f)")
        }
        self.layer = layer
        self.encoder = encoder
        self.encoderBias = encoderBias
        self.decoderWeights = decoderWeights
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

    /// What the features of `a` write to every layer they reach: [span] tensors [n, d], without
    /// biases. Each active feature's decoder rows are read once.
    public func writes(_ a: SparseActivations) throws -> [Tensor] {
        let (d, span) = (modelWidth, decoderWeights.span)
        // In memory: the decoder itself, indexed by feature; mapped: the active rows only.
        let rows: [Float], slot: [Int: Int]?
        if case .dense(let t) = decoderWeights.storage {
            (rows, slot) = (t.scalars, nil)
        } else {
            let ids = Array(Set(a.features.map(Int.init))).sorted()
            (rows, slot) = (try decoderWeights.rows(ids), Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) }))
        }
        var outs = try (0..<span).map { _ in try Tensor(zeros: [a.rows, d]) }
        rows.withUnsafeBufferPointer { w in
            for k in 0..<span {
                outs[k].scalars.withUnsafeMutableBufferPointer { o in
                    for r in 0..<a.rows {
                        let out = o.baseAddress! + r * d
                        for s in a.rowStarts[r]..<a.rowStarts[r + 1] {
                            let i = Int(a.features[s]), v = a.values[s], row = w.baseAddress! + ((slot?[i] ?? i) * span + k) * d
                            for j in 0..<d { out[j] += v * row[j] }
                        }
                    }
                }
            }
        }
        return outs
    }

    /// b_dec (+ W_skip · x) for rows x [n, d]: the part of this layer's output that no feature writes.
    public func affine(rows n: Int, input x: Tensor?) throws -> Tensor {
        let d = modelWidth
        var out = try Tensor(zeros: [n, d])
        try out.addRowVector(decoderBias)
        if let skip {
            guard let x else { throw TranscoderError.invalidOptions("layer \(layer): a skip connection needs the input") }
            try out.add(try Tensor.matmul(x.reshaped([n, d]), skip, transposeB: true))
        }
        return out
    }

    /// ŷ of a per-layer transcoder from active features (and the input x [n, d] when the
    /// transcoder has a skip connection). Across layers this is only this layer's own part of
    /// its output: `TranscoderSet.reconstruct` adds what earlier layers write.
    public func decode(_ a: SparseActivations, input x: Tensor? = nil) throws -> Tensor {
        var out = try affine(rows: a.rows, input: x)
        try out.add(try writes(a)[0])
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
