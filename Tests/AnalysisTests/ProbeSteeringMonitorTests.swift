// Probes, steering and monitors on tiny models and synthetic data:
// - the logistic regression reaches the optimum of scikit-learn's objective (its gradient
//   vanishes there: w = C Σ residual · x, for two classes and for several);
// - stratified folds keep each class's share; datasets with one class, empty texts or bad
//   lines are refused naming the line;
// - steering at strength 0 leaves every logit bit-identical, and a strength s adds s · W_dec[i];
//   clamping sets the SAE activation;
// - monitor selection finds the feature that separates the labels.

import Foundation
import Testing
import Analysis
import LanguageModels
import TensorCore
import Transcoders
import TestSupport

@Suite struct ProbeSteeringMonitorTests {
    /// Rows from two or three Gaussian classes in 12 dimensions, overlapping.
    static func data(classes: Int, rows n: Int, seed: UInt64 = 4) -> ([Float], [Int]) {
        var random = TestRandom(seed: seed)
        let noise = random.normal([n, 12], std: 1.5).scalars
        var x = [Float](), labels = [Int]()
        for r in 0..<n {
            let c = r % classes
            labels.append(c)
            for j in 0..<12 { x.append(noise[r * 12 + j] + (j % classes == c ? 1 : 0) + Float(j) * 0.3) }
        }
        return (x, labels)
    }

    @Test(arguments: [2, 3])
    func logisticRegressionReachesTheOptimum(_ classes: Int) throws {
        let (x, labels) = Self.data(classes: classes, rows: 90)
        let c = 0.7
        let model = try LogisticRegression.fit(x, rows: 90, width: 12, labels: labels, classes: classes, c: c)
        #expect(model.converged)
        let p = try model.probabilities(x, rows: 90)
        // Stationarity: W_k = −C Σ_i (p_ik − 1[y_i = k]) x̃_i, and Σ_i (p_ik − 1[y_i = k]) = 0.
        let rows = classes == 2 ? 1 : classes
        for k in 0..<rows {
            let klass = classes == 2 ? 1 : k
            var bias = 0.0
            for j in 0..<12 {
                var g = model.weights[k * 12 + j]
                for i in 0..<90 {
                    let residual = p[i][klass] - (labels[i] == klass ? 1 : 0)
                    g += c * residual * (Double(x[i * 12 + j]) - model.mean[j]) / model.scale[j]
                }
                #expect(abs(g) < 1e-4, "class \(k) weight \(j): gradient \(g)")
            }
            for i in 0..<90 { bias += p[i][klass] - (labels[i] == klass ? 1 : 0) }
            #expect(abs(bias) < 1e-4)
        }
        // Better than chance on its own data, and the weights are not all zero.
        let accuracy = Double(zip(try model.predict(x, rows: 90), labels).filter { $0 == $1 }.count) / 90
        #expect(accuracy > 1.2 / Double(classes))
        #expect(model.weights.contains { abs($0) > 1e-3 })
    }

    @Test func foldsAreStratifiedAndSeeded() throws {
        let labels = (0..<103).map { $0 % 3 == 0 ? 1 : 0 }
        let folds = try stratifiedFolds(labels: labels, folds: 5, seed: 1)
        for f in 0..<5 {
            let members = labels.indices.filter { folds[$0] == f }
            let ones = members.filter { labels[$0] == 1 }.count
            #expect(abs(Double(ones) / Double(members.count) - 35.0 / 103) < 0.06)
        }
        #expect(try stratifiedFolds(labels: labels, folds: 5, seed: 1) == folds)
        #expect(try stratifiedFolds(labels: labels, folds: 5, seed: 2) != folds)
        #expect { try stratifiedFolds(labels: [0, 0, 0, 1, 1], folds: 3, seed: 0) } throws: { "\($0)".contains("fewer than the 3 folds") }
    }

    @Test func badDatasetsAreRefusedNamingTheLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        func refused(_ content: String, _ mention: String) throws {
            try content.write(toFile: path, atomically: true, encoding: .utf8)
            #expect { try LabelledText.load(path: path) } throws: { "\($0)".contains(mention) }
        }
        try refused("{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"label\": \"x\"}\n", "one class only")
        try refused("{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"  \", \"label\": \"y\"}\n", "line 2 has an empty text")
        try refused("{\"text\": \"a\", \"label\": \"x\"}\nnot json\n", "line 2 is not a JSON object")
        try refused("{\"text\": \"a\"}\n", "line 1 has no \"label\"")
        try refused("\n\n", "holds no texts")
        try "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": 0}\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try LabelledText.load(path: path).map(\.label) == ["1", "0"])
    }

    @Test func steeringAtStrengthZeroIsTheUnsteeredRunBitForBit() throws {
        let model = try TransformerModel(huggingFaceFolder: Fixtures.url("tiny-models/llama").path)
        let d = model.configuration.width
        var random = TestRandom(seed: 5)
        let t = try Transcoder(layer: 1, encoder: random.normal([20, d], std: 0.5), encoderBias: random.normal([20], std: 0.2),
                               decoder: random.normal([20, d], std: 0.5), decoderBias: random.normal([d], std: 0.2), activation: .relu)
        let sae = try SparseAutoencoder(hookName: "blocks.1.hook_resid_mid", dictionary: t)
        let point = try sae.validate(for: model)
        let prompt = [1, 5, 17, 60, 42, 7]
        let plain = try model.forward([prompt], logits: .all).logits
        let zero = try model.forward([prompt], hooks: Steering.hooks([SteeringEdit(point: point, direction: try sae.decoderVector(3), kind: .add(strength: 0), label: "0")]), logits: .all).logits
        #expect(zero.scalars == plain.scalars)
        // Strength s adds s · W_dec[3] at every position: the same run as adding that vector directly.
        let steered = try model.forward([prompt], hooks: Steering.hooks([SteeringEdit(point: point, direction: try sae.decoderVector(3), kind: .add(strength: 2.5), label: "s")]), logits: .all).logits
        let direct = try model.forward([prompt], hooks: [point: Hooks.steer(vector: try sae.decoderVector(3), scale: 2.5)], logits: .all).logits
        #expect(steered.scalars == direct.scalars && steered.scalars != plain.scalars)
        // Clamping: decode with a_3 = 4 and keep the reconstruction error, i.e. x + (4 − a_3(x)) · W_dec[3].
        var before: Tensor?, after: Tensor?
        var hooks = Steering.hooks([SteeringEdit(point: point, direction: try sae.decoderVector(3), kind: .clamp(value: 4, sae: sae, feature: 3), label: "c")])
        let clamp = hooks[point]!
        hooks[point] = { p, value in before = value; try clamp(p, &value); after = value }
        _ = try model.forward([prompt], hooks: hooks)
        let x = try before!.reshaped([prompt.count, d])
        let codes = try sae.encodeDense(x), direction = try sae.decoderVector(3)
        let reconstructed = try sae.decode(try sae.encode(x))
        let expected = try x - reconstructed
        for r in 0..<prompt.count {
            for j in 0..<d {
                let want = expected.scalars[r * d + j] + reconstructed.scalars[r * d + j] + (4 - codes.scalars[r * 20 + 3]) * direction.scalars[j]
                #expect(abs(after!.scalars[r * d + j] - want) < 1e-4)
            }
        }
        // Generation with the hooks: strength 0 picks the same tokens.
        let options = GenerationOptions(maxTokens: 6, stopAtEOS: false)
        #expect(try model.generate(prompt, options: options, hooks: Steering.hooks([SteeringEdit(point: point, direction: try sae.decoderVector(3), kind: .add(strength: 0), label: "0")]))
                == model.generate(prompt, options: options))
    }

    @Test func steeringVectorsAreMeanDifferencesAndRoundTrip() throws {
        let model = try TransformerModel(huggingFaceFolder: Fixtures.url("tiny-models/llama").path)
        let positive = [[1, 5, 6], [1, 7, 8]], negative = [[1, 9, 10], [1, 11, 12]]
        let v = try SteeringVector.meanDifference(model: model, positive: positive, negative: negative, layer: 1, site: "hook_resid_post",
                                                  position: .last, skipFirst: true)
        let cache = try model.activations(positive + negative, at: [.residPost(layer: 1)])[.residPost(layer: 1)]!
        let d = model.configuration.width
        for j in 0..<d {
            let row = { (i: Int) in cache.scalars[(i * 3 + 2) * d + j] }
            #expect(abs(v.vector.scalars[j] - ((row(0) + row(1)) / 2 - (row(2) + row(3)) / 2)) < 1e-5)
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vector-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try v.save(to: path)
        let back = try SteeringVector.load(path: path)
        #expect(back.hookName == "blocks.1.hook_resid_post" && back.vector.scalars == v.vector.scalars)
    }

    @Test func monitorSelectionFindsTheSeparatingFeature() throws {
        // Feature 2 fires above 1 exactly on positive texts; feature 0 fires on everything.
        let positive = (0..<40).map { $0 % 4 == 0 }
        let scores = positive.enumerated().map { i, p in [1.0, Double(i % 3) * 0.2, p ? 1.5 + Double(i) * 0.01 : 0.4, 0] }
        let chosen = try Monitoring.selectFeatures(scores: scores, positive: positive, count: 2)
        #expect(chosen.first?.feature == 2 && chosen.first!.balancedAccuracy == 1)
        #expect(chosen.first!.threshold > 0.4 && chosen.first!.threshold < 1.5)
        #expect(!chosen.contains { $0.feature == 3 })   // never fires
        #expect { try Monitoring.selectFeatures(scores: scores, positive: positive.map { _ in true }, count: 2) } throws: { "\($0)".contains("both kinds") }
        let r = Monitoring.precisionRecall(flagged: [true, true, false, false], truth: [true, false, true, false])
        #expect(r.precision == 0.5 && r.recall == 0.5 && r.f1 == 0.5)
        #expect(Monitoring.reduce([9, 1, 3], from: 1, .max) == 3 && Monitoring.reduce([9, 1, 3], from: 1, .mean) == 2)
    }
}
