// A tiny model and hand-made transcoders whose feature pages are known in advance.
//
// The model's attention output and MLP down projections are zero, so the residual stream at every
// layer and position is the token's embedding, and the MLP input at layer l is
//   u_l(t) = E[t] / rms(E[t]) ⊙ w_l          (w_l: the layer's MLP norm weight)
// which depends on the token alone. Each layer's transcoder (JumpReLU, no biases) has:
//   feature 0  the "X" detector: reads u_l("X") / |u_l("X")|, threshold between "X" and every other
//              token of the corpus, so it fires on "X" and nothing else; its decoder row is
//              W_U[v*] / γ (γ: the final norm weight), so the logit lens promotes v* most
//              (v*: the token with the largest embedding, whose dot product with itself beats
//              every other token's)
//   feature 1  a broad random feature (threshold 0: fires wherever its read is positive)
//   feature 2  dead (threshold far above any read)
//   feature 3… random
// The corpus is random text over a small alphabet with scattered X's.

import Foundation
import LanguageModels
import TensorCore
import Tokenizer
import Transcoders

public struct FeatureFixture: Sendable {
    public let tiny: TinyModel
    public let modelPath: String
    public let model: LoadedModel
    public let set: TranscoderSet
    public let transcoderFolder: String
    public let corpus: TokenCorpus
    /// Folder of the corpus documents as text files (for the command line's --corpus).
    public let corpusFolder: String
    public let xToken: Int
    public let promotedToken: Int
    public static let features = 6

    public init(sequenceLength: Int = 23, documents: Int = 60, documentLength: Range<Int> = 40..<80, seed: UInt64 = 31) throws {
        var spec = TinyModelSpec()
        spec.contextLength = 160
        var weights = TinyModel(spec).weights
        for l in 0..<spec.layers {
            weights["model.layers.\(l).self_attn.o_proj.weight"] = try Tensor(zeros: [spec.width, spec.heads * spec.headDimension])
            weights["model.layers.\(l).mlp.down_proj.weight"] = try Tensor(zeros: [spec.width, spec.mlpWidth])
        }
        tiny = TinyModel(spec: spec, weights: weights)
        modelPath = try tiny.writeGGUF()
        model = try LoadedModel.load(path: modelPath)
        let x = try model.tokenizer.encode("X", parseSpecial: false)[0]
        xToken = x
        let embedding = weights["model.embed_tokens.weight"]!
        let d = spec.width
        let promoted = (0..<spec.vocabularySize).max { a, b in
            Self.dot(Self.row(embedding, a), Self.row(embedding, a)) < Self.dot(Self.row(embedding, b), Self.row(embedding, b))
        }!
        promotedToken = promoted

        var random = TestRandom(seed: seed)
        let alphabet = Array("abcdefgh ")
        var texts = [String]()
        for _ in 0..<documents {
            var text = ""
            for _ in 0..<(documentLength.lowerBound + Int(random.generator.next() % UInt64(documentLength.count))) {
                text.append(random.generator.next() % 9 == 0 ? "X" : alphabet[Int(random.generator.next() % UInt64(alphabet.count))])
            }
            texts.append(text)
        }
        corpusFolder = temporaryPath("-corpus")
        try FileManager.default.createDirectory(atPath: corpusFolder, withIntermediateDirectories: true)
        for (i, text) in texts.enumerated() { try text.write(toFile: "\(corpusFolder)/doc\(i).txt", atomically: true, encoding: .utf8) }
        corpus = try TokenCorpus.build(documents: texts.enumerated().map { CorpusDocument(name: "doc\($0.offset)", text: $0.element) },
                                       tokenizer: model.tokenizer, sequenceLength: sequenceLength, heldOutEvery: 2, seed: seed,
                                       description: "feature fixture")

        let present = Set(corpus.heldOut.map(Int.init)).union(corpus.train.map(Int.init))
        let finalNorm = weights["model.norm.weight"]!
        var transcoders = [Transcoder]()
        for l in 0..<spec.layers {
            let mlpNorm = weights["model.layers.\(l).post_attention_layernorm.weight"]!
            func u(_ t: Int) -> [Float] { Self.mlpInput(embedding: embedding, norm: mlpNorm, token: t, epsilon: spec.rmsEpsilon) }
            var encoder = random.normal([Self.features, d], std: 0.5)
            var decoder = random.normal([Self.features, d], std: 0.3)
            let ux = u(x), length = Self.dot(ux, ux).squareRoot()
            for j in 0..<d {
                encoder.scalars[j] = ux[j] / length
                decoder.scalars[j] = embedding.scalars[promoted * d + j] / finalNorm.scalars[j]
            }
            let reads = present.filter { $0 != x }.map { Self.dot(Self.row(encoder, 0), u($0)) }
            let xRead = Self.dot(Self.row(encoder, 0), ux), others = reads.max() ?? 0
            guard xRead > others + 0.05 else { throw FixtureError("layer \(l): the X detector does not separate X (\(xRead) vs \(others))") }
            var threshold = try Tensor(zeros: [Self.features])
            threshold.scalars[0] = others + 0.5 * (xRead - others)
            threshold.scalars[2] = 1e6
            transcoders.append(try Transcoder(layer: l, encoder: encoder, encoderBias: Tensor(zeros: [Self.features]), decoder: decoder,
                                              decoderBias: Tensor(zeros: [d]), activation: .jumpReLU(threshold: threshold)))
        }
        transcoderFolder = temporaryPath("-feature-transcoders")
        try TranscoderSet(name: "feature-fixture", modelName: "tiny", transcoders: transcoders).save(to: transcoderFolder)
        set = try TranscoderSet.load(folder: transcoderFolder)
    }

    // MARK: The oracle, written from the weights alone

    /// u_l(t) in Double arithmetic, rounded to Float.
    public static func mlpInput(embedding: Tensor, norm: Tensor, token t: Int, epsilon: Float) -> [Float] {
        let x = row(embedding, t)
        let meanSquare = x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)
        let scale = 1 / (meanSquare + Double(epsilon)).squareRoot()
        return x.indices.map { Float(Double(x[$0]) * scale * Double(norm.scalars[$0])) }
    }

    /// The activation of `feature` at layer `layer` on token `t` (0 when it does not fire).
    public func activation(layer: Int, feature: Int, token t: Int) throws -> Float {
        let transcoder = try set[layer]
        let u = Self.mlpInput(embedding: tiny.weights["model.embed_tokens.weight"]!,
                              norm: tiny.weights["model.layers.\(layer).post_attention_layernorm.weight"]!, token: t, epsilon: tiny.spec.rmsEpsilon)
        let z = Self.dot(Self.row(transcoder.encoder, feature), u) + transcoder.encoderBias.scalars[feature]
        guard case .jumpReLU(let threshold) = transcoder.activation else { return max(z, 0) }
        return z > threshold.scalars[feature] ? z : 0
    }

    /// Logit-lens scores of a feature over the vocabulary, demeaned (Double arithmetic).
    public func logitLens(layer: Int, feature: Int) throws -> [Double] {
        let w = Self.row(try set[layer].decoder, feature), gamma = tiny.weights["model.norm.weight"]!.scalars
        let embedding = tiny.weights["model.embed_tokens.weight"]!
        let scores = (0..<tiny.spec.vocabularySize).map { v in
            Self.row(embedding, v).indices.reduce(0.0) { $0 + Double(embedding.scalars[v * w.count + $1]) * Double(gamma[$1]) * Double(w[$1]) }
        }
        let mean = scores.reduce(0, +) / Double(scores.count)
        return scores.map { $0 - mean }
    }

    public static func row(_ t: Tensor, _ i: Int) -> [Float] {
        let d = t.shape[1]
        return Array(t.scalars[(i * d)..<((i + 1) * d)])
    }

    public static func dot(_ a: [Float], _ b: [Float]) -> Float {
        Float(zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) })
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
