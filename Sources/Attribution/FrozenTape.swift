// The local replacement model recorded on an Autodiff tape, over the first m positions.
//
// The model's own blocks (the architecture's `block`, the same code the forward pass runs) are
// evaluated on tape variables with every norm's scale and every attention pattern constant:
//   norm       x ⊙ s ⊙ w                       s frozen
//   attention  attend(a · W_vᵀ (+ b_v), P_l) · W_oᵀ   P_l frozen
//   MLP        replaced: at the transcoder's output site the value becomes a leaf y_l (plus
//              u · W_skipᵀ, u read at its input site), whose cotangent is the gradient where
//              sources write; at the input site feature targets inject.
// then the final norm, where logit targets read. Because attention is causal, the first m
// positions of this computation do not depend on later positions: a batch of targets at
// positions < m needs only this prefix.

import Autodiff
import LanguageModels
import TensorCore

struct FrozenTape {
    let tape: Tape
    let length: Int
    /// Token embeddings [m, d] (token sources read their gradient here).
    let embedding: Variable
    /// Per layer: the transcoder's input u [m, d] (feature targets inject here).
    let mlpInputs: [Variable]
    /// Per layer: the MLP output leaf [m, d] (feature and error sources read their gradient here).
    let mlpOutputs: [Variable]
    /// The final norm's output [m, d] (logit targets inject here).
    let finalOutput: Variable

    /// Which sources the tape's leaves hold: all of them (the real forward values), none (token
    /// embeddings, feature writes and errors all zero: the part of every activation that no node
    /// carries), or only the writes of some active features (those a budget left out of a graph,
    /// so the values are what no node of that graph carries).
    enum Sources { case all, none, features(Set<Int>) }

    init(_ r: LocalReplacementModel, length m: Int, sources: Sources = .all) throws {
        let tape = Tape()
        var all = false
        if case .all = sources { all = true }
        let embedding = tape.input(all ? try r.prefix(r.embeddings, m) : try Tensor(zeros: [m, r.configuration.width]), name: "embedding")
        var evaluator = try FrozenEvaluator(r: r, tape: tape, length: m, sources: sources)
        finalOutput = try r.model.evaluate(embedding, &evaluator)
        self.tape = tape
        self.length = m
        self.embedding = embedding
        self.mlpInputs = evaluator.inputs.map { $0! }
        self.mlpOutputs = evaluator.outputs.map { $0! }
    }
}

/// A block evaluated on the tape with norms and attention frozen and MLPs replaced.
struct FrozenEvaluator: BlockEvaluator {
    let r: LocalReplacementModel
    let tape: Tape
    let length: Int
    let sources: FrozenTape.Sources
    var inputs: [Variable?]
    var outputs: [Variable?]
    /// What `mlp` returns: a constant the output site replaces (one for the whole tape).
    private let placeholder: Variable
    /// Hook point → layer, for the transcoder sites.
    private let inputLayer: [HookPoint: Int], outputLayer: [HookPoint: Int]

    init(r: LocalReplacementModel, tape: Tape, length: Int, sources: FrozenTape.Sources) throws {
        self.r = r
        self.tape = tape
        self.length = length
        self.sources = sources
        inputs = Array(repeating: nil, count: r.layers)
        outputs = inputs
        placeholder = tape.constant(try Tensor(zeros: [length, r.configuration.width]))
        inputLayer = Dictionary(uniqueKeysWithValues: r.inputPoints.enumerated().map { ($1, $0) })
        outputLayer = Dictionary(uniqueKeysWithValues: r.outputPoints.enumerated().map { ($1, $0) })
    }

    func add(_ a: Variable, _ b: Variable) throws -> Variable { try a + b }

    mutating func normalize(_ x: Variable, weight: Tensor, bias: Tensor?, scale: HookPoint, normalized: HookPoint?) throws -> Variable {
        let s = try r.prefix(r.scales[scale]!, length)
        let layerNorm = r.configuration.normKind == .layer
        func norm(_ w: Tensor?, _ b: Tensor?) throws -> Variable {
            layerNorm ? try x.frozenLayerNorm(scales: s, weight: w, bias: b) : try x.frozenRMSNorm(scales: s, weight: w)
        }
        // A transcoder reading the normalised value before the weight needs that value on the tape.
        if let normalized, inputLayer[normalized] != nil {
            var n = try norm(nil, nil)
            try visit(normalized, &n)
            let weighted = try n * tape.constant(weight)
            return try bias.map { try weighted + tape.constant($0) } ?? weighted
        }
        return try norm(weight, bias)
    }

    /// The position embeddings of the prefix, a constant: no node carries them.
    func addPositions(_ x: Variable) throws -> Variable {
        try x + tape.constant(r.model.positionEmbedding!.slice(axis: 0, 0..<length))
    }

    func attention(_ a: Variable, layer l: Int) throws -> Variable {
        let c = r.configuration, m = length
        var v = try a.linear(tape.constant(r.valueWeights[l]))
        if let bias = r.valueBiases[l] { v = try v + tape.constant(bias) }
        var pattern = r.patterns[l]
        if m < r.positions { pattern = try pattern.slice(axis: 1, 0..<m).slice(axis: 2, 0..<m) }
        let mixed = try v.reshaped([m, c.keyValueHeads, c.headDimension]).attend(pattern: tape.constant(pattern))
        let o = try mixed.reshaped([m, c.heads * c.headDimension]).linear(tape.constant(r.model.layers[l].output))
        return try r.model.layers[l].outputBias.map { try o + tape.constant($0) } ?? o
    }

    /// Replaced at the output site (`visit`); what it returns is never read.
    func mlp(_ u: Variable, layer l: Int) throws -> Variable { placeholder }

    mutating func visit(_ point: HookPoint, _ value: inout Variable) throws {
        if let l = inputLayer[point] { inputs[l] = value }
        guard let l = outputLayer[point] else { return }
        // The leaf holds the part of the MLP output that is not the skip term, so the tape's
        // forward values equal the real forward pass.
        let m = length
        let leafValue: Tensor = switch sources {
        case .all: try r.prefix(r.constants[l], m) + r.prefix(r.sourceOutputs(layer: l), m)
        case .none: try r.prefix(r.constants[l], m)
        case let .features(kept): try r.prefix(r.constants[l], m) + r.prefix(r.sourceOutputs(layer: l, errors: false, only: kept), m)
        }
        let leaf = tape.input(leafValue, name: "mlp_out \(l)")
        outputs[l] = leaf
        value = leaf
        if let skip = r.skips[l], let u = inputs[l] { value = try leaf + u.linear(tape.constant(skip)) }
    }
}

extension LocalReplacementModel {
    /// The first m rows of t.
    func prefix(_ t: Tensor, _ m: Int) throws -> Tensor { m == positions ? t : try t.slice(axis: 0, 0..<m) }

    /// Σ of the sources written at each position of layer l: what the features writing to l
    /// write there (a·W_dec) plus the error [n, d] (without the error, or only the features of
    /// `only`, when asked).
    func sourceOutputs(layer l: Int, errors withErrors: Bool = true, only: Set<Int>? = nil) throws -> Tensor {
        var out = withErrors ? errors[l] : try Tensor(zeros: errors[l].shape)
        LocalReplacementModel.addWrites(to: &out, layer: l, writeVectors: writeVectors, writerRanges: writerRanges,
                                        writerLayers: writerLayers, featureRanges: featureRanges, only: only)
        return out
    }
}
