// What a transcoder feature reads and writes, gathered from text: the evidence behind a feature
// page and its automatic label.
//
//   reads   how often it fires, how strongly, and the corpus windows where it fired hardest
//           (a window of tokens around the peak, with the feature's activation at each token)
//   writes  the tokens its decoder row promotes and suppresses when pushed straight through the
//           final norm's weight and the unembedding, demeaned over the vocabulary (logit lens)

/// A window of scanned text around a feature's largest activation in one sequence.
public struct FeatureContext: Sendable, Equatable, Codable {
    /// The scanned sequence (index into the scan's sequences) and the window's first position in it.
    public var sequence: Int
    public var start: Int
    /// The feature's activation at each token of the window (0 where it did not fire).
    public var activations: [Float]
    /// Index in the window of the peak.
    public var peak: Int

    public init(sequence: Int, start: Int, activations: [Float], peak: Int) {
        self.sequence = sequence
        self.start = start
        self.activations = activations
        self.peak = peak
    }

    public var peakActivation: Float { activations[peak] }
    /// Positions in the sequence covered by the window.
    public var positions: Range<Int> { start..<(start + activations.count) }
}

/// A vocabulary token with a score (a logit-lens value).
public struct TokenScore: Sendable, Equatable, Codable {
    public var token: Int
    public var score: Float
    public init(token: Int, score: Float) {
        self.token = token
        self.score = score
    }
}

/// Everything recorded about one feature.
public struct FeatureEvidence: Sendable, Equatable {
    public var layer: Int
    public var index: Int
    /// Tokens scanned, and on how many of them the feature was active.
    public var tokensScanned: Int
    public var firings: Int
    public var activationSum: Double
    public var maxActivation: Float
    /// The strongest contexts, strongest first (at most one per sequence).
    public var contexts: [FeatureContext]
    /// Logit-lens tokens: the most promoted first, and the most suppressed first (negative scores).
    public var promoted: [TokenScore]
    public var suppressed: [TokenScore]

    public init(layer: Int, index: Int, tokensScanned: Int, firings: Int, activationSum: Double, maxActivation: Float,
                contexts: [FeatureContext], promoted: [TokenScore], suppressed: [TokenScore]) {
        self.layer = layer
        self.index = index
        self.tokensScanned = tokensScanned
        self.firings = firings
        self.activationSum = activationSum
        self.maxActivation = maxActivation
        self.contexts = contexts
        self.promoted = promoted
        self.suppressed = suppressed
    }

    /// Fraction of scanned tokens on which it fired.
    public var frequency: Double { tokensScanned > 0 ? Double(firings) / Double(tokensScanned) : 0 }
    /// Mean activation over the tokens where it fired.
    public var meanActivation: Double { firings > 0 ? activationSum / Double(firings) : 0 }
    public var isDead: Bool { firings == 0 }
}
