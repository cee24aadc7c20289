// A replacement dictionary for every MLP of a model: per-layer transcoders (each layer's
// features write to their own layer's output; with skip connections, skip transcoders) or a
// cross-layer transcoder (a feature read at layer l writes to every layer from l on). Either
// way it is one `Transcoder` per layer, all of the same width, and what attribution asks of it
// is the same: where each layer reads, the features active there, and what they write where.

import Foundation
import LanguageModels
import TensorCore

public struct TranscoderSet: Sendable {
    /// A short identity (shown in graphs and stored with them).
    public var name: String
    /// The model the set was made for (informational; shapes are what is checked).
    public var modelName: String
    /// The input and output sites a set may name (TransformerLens names, without `blocks.L.`),
    /// and the hook point each is at layer l.
    public static let inputSites: [String: @Sendable (Int) -> HookPoint] = [
        "mlp.hook_in": { .mlpIn(layer: $0) }, "ln2.hook_normalized": { .mlpNormalized(layer: $0) },
        "hook_resid_mid": { .residMid(layer: $0) },
    ]
    public static let outputSites: [String: @Sendable (Int) -> HookPoint] = [
        "mlp.hook_out": { .mlpRawOut(layer: $0) }, "hook_mlp_out": { .mlpOut(layer: $0) },
    ]
    public static var supportedInputHooks: Set<String> { Set(inputSites.keys) }
    public static var supportedOutputHooks: Set<String> { Set(outputSites.keys) }

    /// The sites of sets Circuitry trains: mlp.hook_in → mlp.hook_out.
    public static let defaultInputPoint: @Sendable (Int) -> HookPoint = { .mlpIn(layer: $0) }
    public static let defaultOutputPoint: @Sendable (Int) -> HookPoint = { .mlpRawOut(layer: $0) }

    /// Where layer l's transcoder reads.
    public func inputPoint(layer l: Int) -> HookPoint { (TranscoderSet.inputSites[inputHook] ?? TranscoderSet.defaultInputPoint)(l) }
    /// Where layer l's transcoder writes.
    public func outputPoint(layer l: Int) -> HookPoint { (TranscoderSet.outputSites[outputHook] ?? TranscoderSet.defaultOutputPoint)(l) }

    public var inputHook = "mlp.hook_in"
    public var outputHook = "mlp.hook_out"
    /// The transcoders, when loaded into memory (empty for a lazily loaded set).
    public private(set) var transcoders: [Transcoder]
    /// For a lazily loaded set: each layer's file, read when the layer is asked for.
    var lazyLayers: LazyLayers?
    /// Where it was loaded from, if anywhere.
    public var folder: String?
    /// The file of each layer, when loaded from a folder (its config.yaml may name any files).
    public var layerFiles: [String]?
    /// A cross-layer set in circuit-tracer's layout: each layer's decoder file.
    public var decoderFiles: [String]?
    /// Free-form facts recorded with the set (training configuration and quality).
    public var notes: [String: String] = [:]

    public init(name: String, modelName: String, transcoders: [Transcoder], notes: [String: String] = [:]) throws {
        guard let first = transcoders.first else { throw TranscoderError.invalidOptions("a transcoder set needs at least one layer") }
        let crossLayer = transcoders.count > 1 && first.decoderWeights.span > 1
        for (l, t) in transcoders.enumerated() {
            guard t.layer == l else { throw TranscoderError.invalidOptions("transcoder \(l) says it is for layer \(t.layer)") }
            let span = crossLayer ? transcoders.count - l : 1
            guard t.decoderWeights.span == span else {
                throw TranscoderError.decoderSpan(set: name, layer: l, span: t.decoderWeights.span, expected: span, crossLayer: crossLayer)
            }
            guard t.features == first.features, t.modelWidth == first.modelWidth else {
                throw TranscoderError.shape(file: name, tensor: "layer \(l) W_enc", expected: [first.features, first.modelWidth], found: t.encoder.shape)
            }
        }
        self.name = name
        self.modelName = modelName
        self.transcoders = transcoders
        self.notes = notes
        self.isCrossLayer = crossLayer
    }

    init(name: String, modelName: String, lazy: LazyLayers, notes: [String: String]) {
        self.name = name
        self.modelName = modelName
        self.transcoders = []
        self.lazyLayers = lazy
        self.notes = notes
        self.isCrossLayer = lazy.layout != .perLayer
    }

    public var layers: Int { lazyLayers?.paths.count ?? transcoders.count }
    public var features: Int { lazyLayers?.features ?? transcoders[0].features }
    public var modelWidth: Int { lazyLayers?.width ?? transcoders[0].modelWidth }
    public var hasSkip: Bool { lazyLayers?.hasSkip ?? (transcoders[0].skip != nil) }
    /// True when layers are read from disk on each access.
    public var isLazy: Bool { lazyLayers != nil }
    /// A cross-layer transcoder: layer l's features write to the outputs of layers l..<L.
    public private(set) var isCrossLayer = false
    /// "per-layer", "skip" (per-layer with skip connections) or "cross-layer".
    public var kind: String { isCrossLayer ? "cross-layer" : hasSkip ? "skip" : "per-layer" }
    /// The layers whose features write to layer t's output.
    public func writers(of t: Int) -> ClosedRange<Int> { isCrossLayer ? 0...t : t...t }

    /// One layer's transcoder (read from its file when the set is lazy).
    public subscript(_ layer: Int) -> Transcoder {
        get throws {
            if let lazy = lazyLayers { return try TranscoderSet.loadLayer(lazy, layer: layer) }
            return transcoders[layer]
        }
    }

    /// Checks the set fits a model: same residual width, one transcoder per layer.
    public func validate(for model: ModelConfiguration) throws {
        let label = folder ?? name
        guard modelWidth == model.width else {
            throw TranscoderError.widthMismatch(set: label, transcoderWidth: modelWidth, modelWidth: model.width)
        }
        guard layers == model.layers else {
            throw TranscoderError.layerCountMismatch(set: label, transcoders: layers, modelLayers: model.layers)
        }
    }

    /// Checks the set fits a model, its sites included: the architecture must have both.
    public func validate(for model: TransformerModel) throws {
        try validate(for: model.configuration)
        let points = Set(model.hookPoints)
        for site in [inputPoint(layer: 0), outputPoint(layer: 0)] where !points.contains(site) {
            throw TranscoderError.invalidOptions("\(folder ?? name) reads or writes at \(site), which \(model.configuration.architecture) models do not have")
        }
    }
}

/// Where the layers of a lazily loaded set are, and their shapes (from the file headers).
struct LazyLayers: Sendable {
    var paths: [String]
    var topK: Int?
    var features: Int
    var width: Int
    var hasSkip: Bool
    var layout: LayerLayout = .perLayer
}

/// How a set's files hold its layers.
enum LayerLayout: Sendable, Equatable {
    /// One file per layer with W_enc, W_dec [f, d] (circuit-tracer, Circuitry, Gemma Scope 1 and 2).
    case perLayer
    /// circuit-tracer's CLT: W_enc_{l}.safetensors (W_enc_l, b_enc_l, b_dec_l, threshold_l) and
    /// W_dec_{l}.safetensors (W_dec_l [f, L − l, d]); `paths` are the encoder files.
    case crossLayerFiles(decoders: [String])
    /// Gemma Scope 2's multi-layer files: one per layer with w_dec [f, L, d], of which layers l..<L are read.
    case multiLayer
}

extension TranscoderSet {
    /// Every layer's output reconstructed from every layer's active features (and inputs, for
    /// skip connections): ŷ_t = Σ_{s ≤ t reaching t} writes of s to t + b_dec_t (+ W_skip_t · x_t).
    public func reconstruct(activations: [SparseActivations], inputs: [Tensor]) throws -> [Tensor] {
        // Each layer read once (a lazy set reads it from disk): its own affine part, then what its
        // features write to it and every later layer it reaches.
        var outputs = try (0..<layers).map { try Tensor(zeros: [activations[$0].rows, modelWidth]) }
        for l in 0..<layers {
            let t = try self[l]
            try outputs[l].add(t.affine(rows: activations[l].rows, input: inputs[l]))
            for (k, write) in try t.writes(activations[l]).enumerated() { try outputs[l + k].add(write) }
        }
        return outputs
    }

    /// Active features of every layer and the reconstruction of every layer's output from inputs [n, d].
    public func reconstruct(inputs: [Tensor]) throws -> (activations: [SparseActivations], outputs: [Tensor]) {
        let activations = try (0..<layers).map { try self[$0].encode(inputs[$0]) }
        return (activations, try reconstruct(activations: activations, inputs: inputs))
    }
}
