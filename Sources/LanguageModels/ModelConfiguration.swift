// The shape and capabilities of a decoder-only transformer. Differences between architectures
// (Llama, Qwen 2/3, Gemma 2/3) inside attention and the MLP are declared here as capabilities
// (biases, query/key norms, RoPE layout and scaling, sliding windows, soft-capping, the MLP's
// activation); where the norms and residual additions sit is each architecture's block
// (`Architecture`). Shared code reads only these, never an architecture name.

import TensorCore

/// How positions are encoded.
public struct RopeConfiguration: Codable, Sendable, Equatable {
    public var base: Double
    /// Rotated dimensions per head (usually the head dimension).
    public var dimension: Int
    public var style: RotaryStyle
    /// Llama 3's frequency-dependent scaling, when present.
    public var llama3Scaling: Llama3RopeScaling?
    /// Per-frequency divisors stored precomputed (llama.cpp's `rope_freqs.weight`), when present.
    public var frequencyFactors: [Double]?
    /// Linear position scaling (`rope_scaling.rope_type: linear`): every frequency divided by it.
    public var linearFactor: Double?

    public init(base: Double, dimension: Int, style: RotaryStyle, llama3Scaling: Llama3RopeScaling? = nil,
                frequencyFactors: [Double]? = nil, linearFactor: Double? = nil) {
        self.base = base
        self.dimension = dimension
        self.style = style
        self.llama3Scaling = llama3Scaling
        self.frequencyFactors = frequencyFactors
        self.linearFactor = linearFactor
    }

    /// The rotation frequencies ω_i after scaling.
    public var inverseFrequencies: [Double] {
        var raw = RotaryTable.inverseFrequencies(base: base, dimension: dimension)
        if let factors = frequencyFactors, factors.count == raw.count {
            raw = zip(raw, factors).map { $0 / $1 }
        }
        if let f = linearFactor, f > 0 { raw = raw.map { $0 / f } }
        guard let s = llama3Scaling else { return raw }
        let lowWavelength = s.originalContext / s.lowFrequencyFactor
        let highWavelength = s.originalContext / s.highFrequencyFactor
        return raw.map { frequency in
            let wavelength = 2 * Double.pi / frequency
            if wavelength < highWavelength { return frequency }
            if wavelength > lowWavelength { return frequency / s.factor }
            let smooth = (s.originalContext / wavelength - s.lowFrequencyFactor) / (s.highFrequencyFactor - s.lowFrequencyFactor)
            return (1 - smooth) * frequency / s.factor + smooth * frequency
        }
    }
}

/// Llama 3.1's `rope_scaling` with `rope_type: llama3`.
public struct Llama3RopeScaling: Codable, Sendable, Equatable {
    public var factor: Double
    public var lowFrequencyFactor: Double
    public var highFrequencyFactor: Double
    public var originalContext: Double

    public init(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContext: Double) {
        self.factor = factor
        self.lowFrequencyFactor = lowFrequencyFactor
        self.highFrequencyFactor = highFrequencyFactor
        self.originalContext = originalContext
    }
}

/// The activation of a gated MLP: act(u W_gateᵀ) ⊙ (u W_upᵀ).
public enum MLPActivation: String, Codable, Sendable, Equatable {
    /// x · sigmoid(x) (Llama, Qwen)
    case silu
    /// GELU with the tanh approximation (Gemma's gelu_pytorch_tanh)
    case geluTanh
}

/// What a norm subtracts before scaling.
public enum NormKind: String, Codable, Sendable, Equatable {
    /// x · s · w, s = 1 / rms(x)
    case rms
    /// (x − mean x) · s · w + b, s = 1 / std(x) (GPT-2)
    case layer
}

/// How far back a layer's attention sees.
public enum AttentionSpan: String, Codable, Sendable, Equatable {
    /// Every earlier position.
    case global
    /// The last `slidingWindow` positions (the query's own included).
    case sliding
}

/// Everything the forward pass needs to know about a model's structure.
public struct ModelConfiguration: Codable, Sendable, Equatable {
    /// Informational (from the file); the forward pass does not read it.
    public var architecture: String
    public var vocabularySize: Int
    /// d: the residual stream width.
    public var width: Int
    public var layers: Int
    /// h: query heads.
    public var heads: Int
    /// g: key/value heads (grouped-query attention when fewer than h).
    public var keyValueHeads: Int
    /// e: the dimension of each head.
    public var headDimension: Int
    /// m: the hidden width of the MLP.
    public var mlpWidth: Int
    public var contextLength: Int
    public var rmsEpsilon: Float
    public var rope: RopeConfiguration

    // Capabilities.
    /// Biases on the query, key and value projections (Qwen 2).
    public var attentionBias: Bool
    /// RMSNorm over each query and key head before rotation (Qwen 3).
    public var queryKeyNorm: Bool
    /// The unembedding is the token embedding (SmolLM2, Gemma, GPT-2).
    public var tiedEmbeddings: Bool
    public var mlpActivation: MLPActivation = .silu
    /// act(u W_gateᵀ) ⊙ (u W_upᵀ) when true; act(u W_upᵀ + b) otherwise (GPT-2).
    public var gatedMLP = true
    public var normKind = NormKind.rms
    /// Learned position embeddings are added to the token embeddings (GPT-2); RoPE is then off
    /// (`rope.dimension` 0).
    public var learnedPositions = false
    /// Token embeddings are multiplied by this (Gemma: √d).
    public var embeddingScale: Float?
    /// Attention scores are q·k times this; 1/√e when nil (Gemma: query_pre_attn_scalar^−½).
    public var queryScale: Float?
    /// Scores become cap · tanh(score / cap) before the softmax (Gemma 2).
    public var attentionSoftcap: Float?
    /// Logits become cap · tanh(logit / cap) (Gemma 2).
    public var finalSoftcap: Float?
    /// The window of `.sliding` layers, in positions.
    public var slidingWindow: Int?
    /// Per layer; every layer is global when nil.
    public var layerSpans: [AttentionSpan]?
    /// RoPE of the sliding layers when it differs from `rope` (Gemma 3: base 10,000 locally).
    public var localRope: RopeConfiguration?

    public var bosTokenId: Int?
    public var eosTokenId: Int?

    public init(architecture: String, vocabularySize: Int, width: Int, layers: Int, heads: Int, keyValueHeads: Int,
                headDimension: Int, mlpWidth: Int, contextLength: Int, rmsEpsilon: Float, rope: RopeConfiguration,
                attentionBias: Bool = false, queryKeyNorm: Bool = false, tiedEmbeddings: Bool = true,
                bosTokenId: Int? = nil, eosTokenId: Int? = nil) {
        self.architecture = architecture
        self.vocabularySize = vocabularySize
        self.width = width
        self.layers = layers
        self.heads = heads
        self.keyValueHeads = keyValueHeads
        self.headDimension = headDimension
        self.mlpWidth = mlpWidth
        self.contextLength = contextLength
        self.rmsEpsilon = rmsEpsilon
        self.rope = rope
        self.attentionBias = attentionBias
        self.queryKeyNorm = queryKeyNorm
        self.tiedEmbeddings = tiedEmbeddings
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
    }

    /// Checks the sizes fit together.
    public func validate(source: String) throws {
        func fail(_ reason: String) -> LanguageModelError { .invalidConfiguration(source: source, reason: reason) }
        for (name, value) in [("vocabulary size", vocabularySize), ("width", width), ("layers", layers), ("heads", heads),
                              ("key/value heads", keyValueHeads), ("head dimension", headDimension),
                              ("MLP width", mlpWidth), ("context length", contextLength)] where value <= 0 || value > 1 << 24 {
            throw fail("\(name) \(value) is out of range")
        }
        guard heads % keyValueHeads == 0 else { throw fail("\(heads) query heads are not a multiple of \(keyValueHeads) key/value heads") }
        guard rope.dimension % 2 == 0, rope.dimension <= headDimension, rope.dimension > 0 || learnedPositions else {
            throw fail("RoPE dimension \(rope.dimension) must be even and at most the head dimension \(headDimension)")
        }
        guard rope.base > 1 else { throw fail("RoPE base \(rope.base) must be greater than 1") }
        guard rmsEpsilon.isFinite, rmsEpsilon > 0 else { throw fail("the norm epsilon \(rmsEpsilon) must be a positive number") }
        if let spans = layerSpans {
            guard spans.count == layers else { throw fail("\(spans.count) layer types given for \(layers) layers") }
            if spans.contains(.sliding) {
                guard let w = slidingWindow, w > 0 else { throw fail("sliding layers need a positive sliding window") }
            }
        }
        for (name, value) in [("embedding scale", embeddingScale), ("query scale", queryScale),
                              ("attention soft-cap", attentionSoftcap), ("final soft-cap", finalSoftcap)] {
            if let value, !(value.isFinite && value > 0) { throw fail("the \(name) \(value) must be a positive number") }
        }
        if let local = localRope {
            guard local.dimension % 2 == 0, local.dimension <= headDimension, local.base > 1 else {
                throw fail("local RoPE (base \(local.base), dimension \(local.dimension)) is invalid")
            }
        }
    }

    /// The span of layer l's attention.
    public func span(layer l: Int) -> AttentionSpan { layerSpans?[l] ?? .global }

    /// The window of layer l's attention (nil: every earlier position).
    public func window(layer l: Int) -> Int? { span(layer: l) == .sliding ? slidingWindow : nil }

    /// The score scale of attention.
    public var attentionScale: Float { queryScale ?? 1 / Float(headDimension).squareRoot() }

    /// Width of the fused query/key/value projection output.
    public var qkvWidth: Int { (heads + 2 * keyValueHeads) * headDimension }
}
