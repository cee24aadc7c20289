// Random transcoder sets for tests.

import TensorCore
import Transcoders

public enum TinyTranscoders {
    /// A set for a model of `layers` layers and width `width`, with `features` features.
    public static func random(layers: Int, width: Int, features: Int, activation: (Int) -> TranscoderActivation = { _ in .relu },
                              skip: Bool = false, seed: UInt64 = 3) throws -> TranscoderSet {
        var random = TestRandom(seed: seed)
        let transcoders = try (0..<layers).map { l in
            try Transcoder(layer: l, encoder: random.normal([features, width], std: 0.5), encoderBias: random.normal([features], std: 0.2),
                           decoder: random.normal([features, width], std: 0.3), decoderBias: random.normal([width], std: 0.1),
                           skip: skip ? random.normal([width, width], std: 0.1) : nil, activation: activation(l))
        }
        return try TranscoderSet(name: "tiny-random", modelName: "tiny", transcoders: transcoders)
    }
}

import LanguageModels

extension TinyTranscoders {
    /// Random ReLU transcoders for a real model, made the way circuit-tracer-run.py does:
    /// W_enc ~ N(0, 1/d), W_dec ~ 0.01·N(0, 1), and b_enc = −(the median over a calibration prompt
    /// of each token's l0-th largest pre-activation), so about `l0` features fire per token.
    public static func random(for model: TransformerModel, tokens: [Int], features: Int, l0: Int, seed: UInt64 = 5) throws -> TranscoderSet {
        let c = model.configuration
        var random = TestRandom(seed: seed)
        let points = Set((0..<c.layers).map { HookPoint.mlpIn(layer: $0) })
        let run = try model.forward([tokens], cache: .points(points), logits: .none)
        let transcoders = try (0..<c.layers).map { l -> Transcoder in
            let encoder = random.normal([features, c.width], std: 1 / Float(c.width).squareRoot())
            let z = try Tensor.matmul(run.cache[.mlpIn(layer: l)]!.reshaped([tokens.count, c.width]), encoder, transposeB: true)
            let cut = try z.topK(l0).values
            var perToken = (0..<tokens.count).map { cut.scalars[$0 * l0 + l0 - 1] }
            perToken.sort()
            let threshold = perToken[perToken.count / 2]
            return try Transcoder(layer: l, encoder: encoder, encoderBias: Tensor(repeating: -threshold, shape: [features]),
                                  decoder: random.normal([features, c.width], std: 0.01), decoderBias: Tensor(zeros: [c.width]),
                                  activation: .relu)
        }
        return try TranscoderSet(name: "random-\(features)", modelName: "smollm2", transcoders: transcoders)
    }
}

extension TinyTranscoders {
    /// A random cross-layer transcoder: layer l's features write to layers l..<layers, with
    /// decoders [features, layers − l, width]. With `ownLayerOnly`, every decoder to a later
    /// layer is zero, which makes it the per-layer set `random` draws from the same seed.
    public static func randomCrossLayer(layers: Int, width: Int, features: Int, activation: (Int) -> TranscoderActivation = { _ in .relu },
                                        skip: Bool = false, ownLayerOnly: Bool = false, seed: UInt64 = 3) throws -> TranscoderSet {
        var random = TestRandom(seed: seed)
        var later = TestRandom(seed: seed ^ 0xC17)
        let transcoders = try (0..<layers).map { l -> Transcoder in
            let encoder = random.normal([features, width], std: 0.5), encoderBias = random.normal([features], std: 0.2)
            let own = random.normal([features, width], std: 0.3), decoderBias = random.normal([width], std: 0.1)
            let skipWeight = skip ? random.normal([width, width], std: 0.1) : nil
            let span = layers - l
            let rest = later.normal([features, span, width], std: 0.3 / Float(span).squareRoot())
            let decoder = try Tensor(shape: [features, span, width]) { out in
                for i in 0..<features {
                    for k in 0..<span {
                        for j in 0..<width {
                            out[(i * span + k) * width + j] = k == 0 ? own.scalars[i * width + j]
                                : ownLayerOnly ? 0 : rest.scalars[(i * span + k) * width + j]
                        }
                    }
                }
            }
            return try Transcoder(layer: l, encoder: encoder, encoderBias: encoderBias, decoder: decoder, decoderBias: decoderBias,
                                  skip: skipWeight, activation: activation(l))
        }
        return try TranscoderSet(name: "tiny-clt", modelName: "tiny", transcoders: transcoders)
    }
}
