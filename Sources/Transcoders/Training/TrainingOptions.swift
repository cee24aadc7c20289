// What a training run does. The defaults are the documented 15-minute default set; `long`
// is the longer configuration for better graphs (see README, "Transcoders").

/// Options of `circuitry transcoders train`.
public struct TrainingOptions: Codable, Sendable, Equatable {
    /// f: features per layer.
    public var features = 4096
    /// BatchTopK: on average k features per token (k·n over a batch of n rows).
    public var k = 32
    /// Training tokens (rows) per layer.
    public var tokens = 320_000
    /// Sequences per model forward pass (each corpus sequence is 127 tokens plus BOS).
    public var sequencesPerBatch = 32
    /// Rows per optimiser step.
    public var batchRows = 2032
    public var learningRate: Float = 1.5e-3
    public var warmupSteps = 20
    /// Fraction of steps at the end over which the learning rate decays linearly to 10%.
    public var decayFraction = 0.3
    /// AuxK: dead features reconstruct the residual error with this many per row, weighted by `auxWeight`.
    public var auxK = 128
    public var auxWeight: Float = 1.0 / 32
    /// A feature that has not fired for this many tokens counts as dead.
    public var deadAfterTokens = 60_000
    /// Train a linear skip connection W_skip alongside the features.
    public var skip = true
    public var seed: UInt64 = 0
    /// Seconds between checkpoints (0: none).
    public var checkpointSeconds = 180.0
    /// Train only these layers (tests); nil trains all.
    public var onlyLayers: [Int]? = nil
    /// Where the transcoders read and write (`TranscoderSet.inputSites`, `.outputSites`):
    /// mlp.hook_in → mlp.hook_out by default; Gemma Scope's are ln2.hook_normalized or
    /// mlp.hook_in → hook_mlp_out.
    public var inputHook = "mlp.hook_in"
    public var outputHook = "mlp.hook_out"
    /// Train a cross-layer transcoder: layer l's features write to every layer from l on, all
    /// layers trained jointly against every layer's output (stored optional, so checkpoints
    /// written before it existed still resume).
    public var crossLayer: Bool {
        get { crossLayerTraining ?? false }
        set { crossLayerTraining = newValue }
    }
    var crossLayerTraining: Bool?
    /// Train a sparse autoencoder on this hook point (its TransformerLens name) instead of
    /// transcoders: one dictionary that reads and reconstructs the point, no skip connection.
    public var saeHook: String? = nil
    /// How sparsity is trained: "batchtopk" (the default: k per row on average, AuxK for dead
    /// features), "l1" (ReLU with an L1 penalty on activations and unit-norm decoder rows) or
    /// "jumprelu" (learned thresholds with an L0 penalty through straight-through estimators).
    public var sparsity: String? = nil
    /// The penalty's weight (L1 or L0), per token, against the FVU-normalised reconstruction loss.
    public var l1Coefficient: Float? = nil
    /// The JumpReLU pseudo-derivatives' bandwidth ε (in the normalised units, RMS 1 per element).
    public var bandwidth: Float? = nil
    /// Where JumpReLU thresholds start (normalised units; pre-activations have about unit
    /// variance at the start). Low enough that most features fire and the encoder learns before
    /// the L0 penalty raises the thresholds.
    public var initialThreshold: Float? = nil

    public static let sparsityMethods = ["batchtopk", "l1", "jumprelu"]
    /// Dense activations with a penalty (l1 or jumprelu) rather than BatchTopK.
    public var usesL1: Bool { sparsity == "l1" || sparsity == "jumprelu" }
    public var learnsThresholds: Bool { sparsity == "jumprelu" }
    var sparsityCoefficient: Float { l1Coefficient ?? (learnsThresholds ? 1e-3 : 1e-3) }
    var jumpReLUBandwidth: Float { bandwidth ?? 0.05 }
    var jumpReLUInitialThreshold: Float { initialThreshold ?? 0.2 }

    public init() {}

    /// The longer configuration for better graphs: the same width, almost four times the tokens
    /// (35–50 minutes on 2 cores).
    public static var long: TrainingOptions {
        var o = TrainingOptions()
        o.tokens = 1_200_000
        o.deadAfterTokens = 150_000
        return o
    }

    public func validate() throws {
        guard features > 0, k > 0, k <= features else { throw TranscoderError.invalidOptions("--k must be between 1 and --features (\(features))") }
        guard tokens > 0 else { throw TranscoderError.invalidOptions("--tokens must be positive") }
        guard sequencesPerBatch > 0, batchRows > 0 else { throw TranscoderError.invalidOptions("batch sizes must be positive") }
        guard learningRate > 0, learningRate.isFinite else { throw TranscoderError.invalidOptions("the learning rate must be positive") }
        if crossLayer && onlyLayers != nil {
            throw TranscoderError.invalidOptions("a cross-layer transcoder trains every layer jointly: it cannot train only some layers")
        }
        if let sparsity, !Self.sparsityMethods.contains(sparsity) {
            throw TranscoderError.invalidOptions("sparsity \(sparsity) is not one of \(Self.sparsityMethods.joined(separator: ", "))")
        }
        for (name, value) in [("bandwidth", bandwidth), ("initial threshold", initialThreshold)] {
            if let value, !(value > 0 && value.isFinite) { throw TranscoderError.invalidOptions("the \(name) must be positive") }
        }
        if let l1Coefficient, !(l1Coefficient >= 0 && l1Coefficient.isFinite) {
            throw TranscoderError.invalidOptions("the L1 coefficient must be 0 or more")
        }
        if saeHook != nil {
            guard !crossLayer else { throw TranscoderError.invalidOptions("an SAE reads one hook point: it cannot be cross-layer") }
            return
        }
        guard !usesL1 else { throw TranscoderError.invalidOptions("transcoders train with BatchTopK; the \(sparsity ?? "") recipe is for SAEs") }
        guard TranscoderSet.inputSites[inputHook] != nil else {
            throw TranscoderError.invalidOptions("--input-hook \(inputHook) is not a site (\(TranscoderSet.supportedInputHooks.sorted().joined(separator: ", ")))")
        }
        guard TranscoderSet.outputSites[outputHook] != nil else {
            throw TranscoderError.invalidOptions("--output-hook \(outputHook) is not a site (\(TranscoderSet.supportedOutputHooks.sorted().joined(separator: ", ")))")
        }
    }
}

/// A progress report from a running training.
public struct TrainingProgress: Sendable {
    public var tokens: Int
    public var totalTokens: Int
    public var steps: Int
    public var elapsed: Double
    /// Seconds spent in the model's forward passes and in transcoder steps.
    public var forwardSeconds: Double
    public var trainSeconds: Double
    /// Mean over layers of the recent training FVU (fraction of variance unexplained).
    public var meanFVU: Double
    /// Mean over layers of the fraction of dead features.
    public var deadFraction: Double
    /// Mean active features per row (L0), averaged over layers.
    public var meanL0: Double

    public var tokensPerSecond: Double { elapsed > 0 ? Double(tokens) / elapsed : 0 }
}
