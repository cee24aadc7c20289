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
