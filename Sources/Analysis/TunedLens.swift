// The tuned lens: the logit lens with a learned affine translator per layer, so that a layer's
// stream is first mapped to where the last layer's stream would be:
//
//   tuned(l, i) = softmax(cap(norm_final(x_l[i] · A_l + b_l) · W_Uᵀ))
//
// Belrose et al. (2023) train A_l, b_l by gradient descent on the KL divergence to the model's
// output. Here each translator is fitted in closed form instead: ridge regression of the last
// layer's stream onto layer l's over corpus tokens,
//
//   [A_l; b_l] = argmin Σ_t ‖[x_l(t), 1]·[A; b] − x_L(t)‖² + λ‖A‖²,   λ = ridge · mean diagonal of Σ x xᵀ,
//
// accumulated as normal equations (one product per layer and batch) and solved by Cholesky in
// Float64. The first position of each sequence (the BOS token, whose stream is an outlier that
// every later token attends to) is left out of the fit and of the KL report; the last layer's
// translator is the identity (its lens is the model's output). Translators are
// saved as safetensors (`row_R.weight` [d, d], `row_R.bias` [d]; R = 0 is the embedding, R = l + 1
// layer l), with the model's width, layer count and vocabulary in the metadata.

import Foundation
import LanguageModels
import ModelIO
import TensorCore

public struct TunedLens: Sendable {
    /// [d, d] and [d] per lens row: the embedding, then each layer.
    public var weights: [Tensor], biases: [Tensor]

    /// Fits every translator on `sequences` (token ids; position 0 is left out).
    public static func fit(model: TransformerModel, sequences: [[Int]], ridge: Double = 1e-3,
                           progress: ((Int, Int) -> Void)? = nil) throws -> TunedLens {
        let c = model.configuration
        let (d, rows) = (c.width, c.layers + 1)
        guard sequences.contains(where: { $0.count > 1 }) else { throw AnalysisError.tooShort("fitting a tuned lens needs sequences of at least 2 tokens") }
        // Per row: G = Σ [x, 1]ᵀ[x, 1] ((d+1)²) and C = Σ [x, 1]ᵀ y ((d+1) × d), in Float64.
        var gram = [[Double]](repeating: [Double](repeating: 0, count: (d + 1) * (d + 1)), count: rows)
        var cross = [[Double]](repeating: [Double](repeating: 0, count: (d + 1) * d), count: rows)
        for (s, sequence) in sequences.enumerated() where sequence.count > 1 {
            let streams = try LogitLens.streams(model: model, tokens: sequence)
            let n = sequence.count - 1
            let y = try streams[rows - 1].slice(axis: 0, 1..<(n + 1))                       // [n, d]
            let ones = try Tensor(repeating: 1, shape: [n, 1])
            for r in 0..<rows {
                let x = try Tensor.concatenate([try streams[r].slice(axis: 0, 1..<(n + 1)), ones], axis: 1)     // [n, d+1]
                let g = try Tensor.matmul(x, x, transposeA: true), k = try Tensor.matmul(x, y, transposeA: true)
                for i in 0..<g.count { gram[r][i] += Double(g.scalars[i]) }
                for i in 0..<k.count { cross[r][i] += Double(k.scalars[i]) }
            }
            progress?(s + 1, sequences.count)
        }
        var lens = TunedLens(weights: [], biases: [])
        for r in 0..<rows {
            guard r < rows - 1 else {
                // The last layer's stream is what the model reads out: its translator is the identity.
                var identity = try Tensor(zeros: [d, d])
                for i in 0..<d { identity.scalars[i * d + i] = 1 }
                lens.weights.append(identity)
                lens.biases.append(try Tensor(zeros: [d]))
                break
            }
            var g = gram[r]
            let meanDiagonal = (0..<d).reduce(0.0) { $0 + g[$1 * (d + 1) + $1] } / Double(d)
            for i in 0..<d { g[i * (d + 1) + i] += ridge * meanDiagonal }
            let solution = try choleskySolve(g, cross[r], size: d + 1, columns: d)          // [(d+1), d]
            lens.weights.append(try Tensor(shape: [d, d], scalars: solution[0..<(d * d)].map(Float.init)))
            lens.biases.append(try Tensor(shape: [d], scalars: solution[(d * d)...].map(Float.init)))
        }
        return lens
    }

    /// Solves G X = C for symmetric positive definite G [n, n] and C [n, m], in Float64 (the
    /// substitutions run along rows of X, so every inner loop is contiguous).
    static func choleskySolve(_ g: [Double], _ c: [Double], size n: Int, columns m: Int) throws -> [Double] {
        var l = g, x = c
        try l.withUnsafeMutableBufferPointer { L in
            for j in 0..<n {
                var diagonal = L[j * n + j]
                for k in 0..<j { diagonal -= L[j * n + k] * L[j * n + k] }
                guard diagonal > 0, diagonal.isFinite else { throw AnalysisError.tooShort("the tuned lens's equations are singular: fit on more tokens") }
                let root = diagonal.squareRoot()
                L[j * n + j] = root
                for i in (j + 1)..<max(j + 1, n) {
                    var sum = L[i * n + j]
                    for k in 0..<j { sum -= L[i * n + k] * L[j * n + k] }
                    L[i * n + j] = sum / root
                }
            }
            x.withUnsafeMutableBufferPointer { X in
                for i in 0..<n {                                   // L Z = C
                    for k in 0..<i {
                        let f = L[i * n + k]
                        for col in 0..<m { X[i * m + col] -= f * X[k * m + col] }
                    }
                    let inverse = 1 / L[i * n + i]
                    for col in 0..<m { X[i * m + col] *= inverse }
                }
                for i in stride(from: n - 1, through: 0, by: -1) {  // Lᵀ X = Z
                    for k in (i + 1)..<max(i + 1, n) {
                        let f = L[k * n + i]
                        for col in 0..<m { X[i * m + col] -= f * X[k * m + col] }
                    }
                    let inverse = 1 / L[i * n + i]
                    for col in 0..<m { X[i * m + col] *= inverse }
                }
            }
        }
        return x
    }

    /// A lens row's stream [n, d] translated.
    public func translate(_ stream: Tensor, row r: Int) throws -> Tensor {
        try Tensor.matmul(stream, weights[r]) + biases[r]
    }

    /// The tuned lens on a prompt: like `LogitLens.run`, each stream translated first.
    public func run(model: TransformerModel, tokens: [Int], target: Int? = nil, top k: Int = 5) throws -> LogitLens {
        guard !tokens.isEmpty else { throw AnalysisError.emptyPrompt }
        try check(model)
        let streams = try LogitLens.streams(model: model, tokens: tokens)
        let cells = try streams.enumerated().map { r, stream in
            try LogitLens.lensRow(try model.logits(of: try model.finalNormalized(try translate(stream, row: r))), target: target, top: k)
        }
        return LogitLens(rows: ["embed"] + (0..<model.configuration.layers).map(String.init), cells: cells, target: target)
    }

    /// Mean KL(final ‖ lens) per lens row over the positions after the first of `sequences`, for
    /// the logit lens and for this tuned lens.
    public func divergence(model: TransformerModel, sequences: [[Int]]) throws -> (logitLens: [Double], tuned: [Double]) {
        try check(model)
        let rows = model.configuration.layers + 1
        var plain = [Double](repeating: 0, count: rows), tuned = plain
        var count = 0
        for sequence in sequences where sequence.count > 1 {
            let streams = try LogitLens.streams(model: model, tokens: sequence)
            let n = sequence.count - 1
            func logProbabilities(_ stream: Tensor) throws -> Tensor {
                try model.logits(of: try model.finalNormalized(try stream.slice(axis: 0, 1..<(n + 1)))).logSoftmax()
            }
            let final = try logProbabilities(streams[rows - 1])
            for r in 0..<rows {
                plain[r] += Self.kl(final, try logProbabilities(streams[r]))
                tuned[r] += Self.kl(final, try logProbabilities(try translate(streams[r], row: r)))
            }
            count += n
        }
        return (plain.map { $0 / Double(max(count, 1)) }, tuned.map { $0 / Double(max(count, 1)) })
    }

    /// Σ over rows of KL(p ‖ q) for log-probabilities [n, v].
    static func kl(_ p: Tensor, _ q: Tensor) -> Double {
        var total = 0.0
        for i in 0..<p.count where p.scalars[i] > -80 {
            let lp = Double(p.scalars[i])
            total += Foundation.exp(lp) * (lp - Double(q.scalars[i]))
        }
        return total
    }

    func check(_ model: TransformerModel) throws {
        let c = model.configuration
        guard weights.count == c.layers + 1, weights.allSatisfy({ $0.shape == [c.width, c.width] }) else {
            throw AnalysisError.tooShort("this tuned lens was fitted for another model (\(weights.count - 1) layers of width \(weights.first?.shape.first ?? 0); "
                + "the model has \(c.layers) of width \(c.width))")
        }
    }

    public func save(to path: String, model: TransformerModel, notes: [String: String] = [:]) throws {
        var tensors = [String: Tensor]()
        for r in weights.indices {
            tensors["row_\(r).weight"] = weights[r]
            tensors["row_\(r).bias"] = biases[r]
        }
        let c = model.configuration
        let metadata = notes.merging(["format": "circuitry tuned lens 1", "layers": "\(c.layers)", "width": "\(c.width)",
                                      "vocabulary": "\(c.vocabularySize)"]) { $1 }
        try SafetensorsFile.write(tensors, metadata: metadata, to: path)
    }

    public static func load(path: String, model: TransformerModel) throws -> TunedLens {
        let file = try SafetensorsFile(path: path)
        let c = model.configuration
        guard file.metadata["format"] == "circuitry tuned lens 1" else {
            throw ModelIOError.invalidHeader(file: path, reason: "not a Circuitry tuned lens (no format \"circuitry tuned lens 1\" in its metadata)")
        }
        guard file.metadata["layers"] == "\(c.layers)", file.metadata["width"] == "\(c.width)" else {
            throw ModelIOError.invalidHeader(file: path, reason: "fitted for \(file.metadata["layers"] ?? "?") layers of width \(file.metadata["width"] ?? "?"), "
                + "the model has \(c.layers) of width \(c.width)")
        }
        var lens = TunedLens(weights: [], biases: [])
        for r in 0...c.layers {
            lens.weights.append(try file.tensor("row_\(r).weight", shape: [c.width, c.width]))
            lens.biases.append(try file.tensor("row_\(r).bias", shape: [c.width]))
        }
        return lens
    }
}
