// The analyses against an independent computation: Hugging Face transformers with PyTorch forward
// hooks on the tiny fixtures of three architectures (Llama, Gemma 3, GPT-2), made by
// scripts/make-analysis-reference.py into Tests/Fixtures/tiny-models/<name>/analysis.json. Each
// value within 1e-4: every lens probability, every patching cell of the four sites, every
// direct-logit share (and their sum against the logit), every head score. Then the bad input
// the commands must refuse.

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import Analysis
import Attribution
import Transcoders
import LanguageModels
import TensorCore
import TestSupport

struct AnalysisReference: Decodable {
    struct Patching: Decodable { let clean: Double; let corrupt: Double; let sites: [String: [[Double]]] }
    struct Lens: Decodable { let target_prob: [[Double]]; let top: [[Int]] }
    struct DLA: Decodable {
        let embed: Double; let attention: [Double]; let mlp: [Double]; let heads: [[Double]]; let attention_bias: [Double]
        let final_norm_bias: Double; let accumulated: [Double]; let logit: Double
    }
    struct Heads: Decodable {
        let previous_token: [[Double]]; let bos: [[Double]]; let entropy: [[Double]]; let induction: [[Double]]; let duplicate: [[Double]]
        let prompt_induction: [[Double?]]
    }
    let clean_ids: [Int]; let corrupt_ids: [Int]; let a: Int; let b: Int; let repeated_ids: [Int]; let length: Int; let offset: Int
    let patching: Patching; let lens: Lens; let dla: DLA; let heads: Heads
    struct Tuned: Decodable { let sequences: [[Int]]; let ridge: Double; let target_prob: [[Double]] }
    let tuned: Tuned
    let path: [String: [[Double]]]; let path_receivers: [[Int]]

    static func load(_ name: String) throws -> (TransformerModel, AnalysisReference) {
        let folder = Fixtures.url("tiny-models/\(name)")
        let model = try TransformerModel(huggingFaceFolder: folder.path)
        let reference = try JSONDecoder().decode(AnalysisReference.self, from: Data(contentsOf: folder.appendingPathComponent("analysis.json")))
        return (model, reference)
    }
}

/// The largest absolute difference between two grids of the same shape.
func worstDifference(_ a: [[Double]], _ b: [[Double]]) -> Double {
    precondition(a.count == b.count && zip(a, b).allSatisfy { $0.count == $1.count }, "grids of different shapes")
    return zip(a, b).map { zip($0, $1).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
}

@Suite struct AnalysisTests {
    static let architectures = ["llama", "gemma3", "gpt2"]
    static let tolerance = 1e-4

    @Test(arguments: architectures)
    func logitLensMatchesTransformers(_ name: String) throws {
        let (model, r) = try AnalysisReference.load(name)
        let lens = try LogitLens.run(model: model, tokens: r.clean_ids, target: r.a, top: 1)
        let ours = lens.cells.map { $0.map { Double($0.targetProb!) } }
        let worst = worstDifference(ours, r.lens.target_prob)
        #expect(worst <= Self.tolerance, "\(name): lens probability off by \(worst)")
        #expect(lens.rows.count == model.configuration.layers + 1)
        // The last row is the model's own next-token distribution.
        let logits = try model.forward([r.clean_ids], logits: .all).logits
        let probabilities = try logits.reshaped([r.clean_ids.count, model.configuration.vocabularySize]).softmax()
        let v = model.configuration.vocabularySize
        for (p, cell) in lens.cells.last!.enumerated() {
            #expect(abs(cell.targetProb! - probabilities.scalars[p * v + r.a]) <= 1e-6)
            #expect(cell.targetRank! == (0..<v).filter { probabilities.scalars[p * v + $0] > cell.targetProb! }.count)
        }
        print("\(name): logit lens, \(ours.count) × \(ours[0].count) cells, worst |P difference| \(worst)")
    }

    @Test(arguments: architectures)
    func tunedLensFitsAndReadsAsNumPyDoes(_ name: String) throws {
        // The reference fits the same ridge regression with NumPy in float64 on the same sequences.
        let (model, r) = try AnalysisReference.load(name)
        let lens = try TunedLens.fit(model: model, sequences: r.tuned.sequences, ridge: r.tuned.ridge)
        let ours = try lens.run(model: model, tokens: r.clean_ids, target: r.a, top: 1).cells.map { $0.map { Double($0.targetProb!) } }
        let worst = worstDifference(ours, r.tuned.target_prob)
        #expect(worst <= Self.tolerance, "\(name): tuned lens probability off by \(worst)")
        // Saved and read back bit for bit; a lens for another model is refused by name.
        let path = temporaryPath(".safetensors")
        try lens.save(to: path, model: model)
        let back = try TunedLens.load(path: path, model: model)
        #expect(back.weights == lens.weights && back.biases == lens.biases)
        let other = try AnalysisReference.load(name == "llama" ? "gpt2" : "llama").0
        if other.configuration.layers != model.configuration.layers || other.configuration.width != model.configuration.width {
            #expect(throws: (any Error).self) { try TunedLens.load(path: path, model: other) }
        }
        // On the text they were fitted to, the translators bring the layers closer to the output
        // than the plain logit lens, taken together (least squares does not promise it layer by layer).
        let kl = try lens.divergence(model: model, sequences: r.tuned.sequences)
        #expect(kl.tuned.last! < 1e-3 && kl.tuned.reduce(0, +) < kl.logitLens.reduce(0, +), "\(kl)")
        print("\(name): tuned lens, worst |P difference| \(worst); KL by row logit \(kl.logitLens.map { String(format: "%.3f", $0) }) tuned \(kl.tuned.map { String(format: "%.3f", $0) })")
    }

    @Test(arguments: architectures)
    func pathPatchingMatchesTransformers(_ name: String) throws {
        let (model, r) = try AnalysisReference.load(name)
        let receivers = r.path_receivers.map { (layer: $0[0], head: $0[1]) }
        var worst = 0.0
        for input in ReceiverInput.allCases {
            let scan = try PathPatching.scan(model: model, clean: r.clean_ids, corrupt: r.corrupt_ids, metric: .logitDiff(r.a, r.b),
                                             receivers: receivers, input: input)
            #expect(scan.values.count == 2 && scan.values.allSatisfy { $0.count == model.configuration.heads })
            worst = max(worst, worstDifference(scan.values, r.path[input.rawValue]!))
        }
        #expect(worst <= Self.tolerance, "\(name): a path-patched metric off by \(worst)")
        // A prompt patched into itself moves nothing; receivers outside the model are refused.
        let same = try PathPatching.scan(model: model, clean: r.clean_ids, corrupt: r.clean_ids, metric: .logit(r.a), receivers: receivers, input: .q)
        #expect(same.values.joined().allSatisfy { abs($0 - same.clean) <= 1e-5 })
        #expect(throws: AnalysisError.layerOutOfRange(layer: 3, layers: 3)) {
            try PathPatching.scan(model: model, clean: r.clean_ids, corrupt: r.corrupt_ids, metric: .logit(1), receivers: [(3, 0)], input: .q)
        }
        #expect(throws: AnalysisError.self) {
            try PathPatching.scan(model: model, clean: r.clean_ids, corrupt: r.corrupt_ids, metric: .logit(1), receivers: [(0, 0)], input: .q)
        }
        print("\(name): path patching into \(receivers) by q, k and v, worst |metric difference| \(worst)")
    }

    @Test(arguments: architectures)
    func patchingMatchesTransformers(_ name: String) throws {
        let (model, r) = try AnalysisReference.load(name)
        var reports = 0
        let scan = try Patching.scan(model: model, clean: r.clean_ids, corrupt: r.corrupt_ids, metric: .logitDiff(r.a, r.b)) { _, _ in reports += 1 }
        #expect(reports == 4 * model.configuration.layers)
        #expect(abs(scan.clean - r.patching.clean) <= Self.tolerance && abs(scan.corrupt - r.patching.corrupt) <= Self.tolerance)
        var worst = 0.0
        for site in PatchSite.allCases {
            let ours = scan.values(site)!, theirs = r.patching.sites[site.rawValue]!
            worst = max(worst, worstDifference(ours, theirs))
            // Normalised scores too (what the command prints).
            let normalisedOurs = ours.map { $0.map { scan.normalised($0)! } }
            let span = r.patching.clean - r.patching.corrupt
            let normalisedTheirs = theirs.map { $0.map { ($0 - r.patching.corrupt) / span } }
            #expect(worstDifference(normalisedOurs, normalisedTheirs) <= Self.tolerance, "\(name) \(site.rawValue): normalised scores")
        }
        #expect(worst <= Self.tolerance, "\(name): a patched metric off by \(worst)")
        // Patching resid_pre at every position of layer 0 is the clean run itself; at the first
        // layer's last position only that position's stream is clean.
        let all = try Patching.scan(model: model, clean: r.clean_ids, corrupt: r.clean_ids, metric: .logitDiff(r.a, r.b), sites: [.residPre])
        #expect(all.values(.residPre)!.joined().allSatisfy { abs($0 - all.clean) <= 1e-5 }, "patching a prompt into itself changes nothing")
        print("\(name): patching, 4 sites × \(model.configuration.layers) layers, worst |metric difference| \(worst)")
    }

    @Test(arguments: architectures)
    func directLogitAttributionMatchesTransformersAndSumsToTheLogit(_ name: String) throws {
        let (model, r) = try AnalysisReference.load(name)
        let u = try DirectLogitAttribution.direction(model: model, target: r.a, minus: r.b)
        let dla = try DirectLogitAttribution.run(model: model, tokens: r.clean_ids, direction: u)
        let d = r.dla
        var worst = max(abs(dla.embed - d.embed), abs(dla.finalNormBias - d.final_norm_bias), abs(dla.logit - d.logit))
        worst = max(worst, worstDifference([dla.attention, dla.mlp, dla.attentionBias, dla.accumulated],
                                           [d.attention, d.mlp, d.attention_bias, d.accumulated]))
        worst = max(worst, worstDifference(dla.heads, d.heads))
        #expect(worst <= Self.tolerance, "\(name): a share off by \(worst)")
        // The shares add up to the logit difference; the heads (and the output bias) to attention.
        #expect(abs(dla.total - dla.logit) <= 1e-4 * max(1, abs(dla.logit)), "\(name): shares sum to \(dla.total), logit \(dla.logit)")
        for l in 0..<model.configuration.layers {
            #expect(abs(dla.heads[l].reduce(0, +) + dla.attentionBias[l] - dla.attention[l]) <= 1e-4, "\(name) layer \(l): heads sum to attention")
        }
        #expect(abs(dla.accumulated.last! - dla.logit) <= 1e-4)
        // Against the model's own logits (no soft-cap on these fixtures).
        let logits = try model.forward([r.clean_ids]).logits.scalars
        if model.configuration.finalSoftcap == nil {
            #expect(abs(dla.logit - Double(logits[r.a] - logits[r.b])) <= 1e-4)
        }
        print("\(name): direct logit attribution, worst |share difference| \(worst), sum \(dla.total) vs logit \(dla.logit)")
    }

    @Test(arguments: architectures)
    func headScoresMatchTransformers(_ name: String) throws {
        let (model, r) = try AnalysisReference.load(name)
        let scores = try HeadScores.run(model: model, prompt: r.clean_ids, repeated: r.repeated_ids, length: r.length, offset: r.offset)
        let h = r.heads
        var worst = worstDifference(scores.previousToken, h.previous_token)
        worst = max(worst, worstDifference(scores.bos, h.bos), worstDifference(scores.entropy, h.entropy))
        worst = max(worst, worstDifference(scores.induction, h.induction), worstDifference(scores.duplicate, h.duplicate))
        if let prompt = scores.promptInduction {
            worst = max(worst, worstDifference(prompt, h.prompt_induction.map { $0.map { $0! } }))
        } else {
            #expect(h.prompt_induction.joined().allSatisfy { $0 == nil })
        }
        #expect(worst <= Self.tolerance, "\(name): a head score off by \(worst)")
        let pattern = try HeadScores.pattern(model: model, tokens: r.clean_ids, layer: 1, head: 2)
        for (i, row) in pattern.enumerated() {
            #expect(abs(row.reduce(0, +) - 1) <= 1e-5 && row[(i + 1)...].allSatisfy { $0 == 0 }, "rows sum to 1 and attend only backwards")
        }
        print("\(name): head scores, worst |difference| \(worst)")
    }

    @Test func featurePatchingMatchesAHookOnTheLastLayer() throws {
        // Features of the last layer change nothing but that layer's MLP output, so setting one to
        // its clean activation in the corrupted run must equal adding (a_clean − a_corrupt) times its
        // decoder row to the real corrupted run's MLP output there, with a plain hook.
        let (model, r) = try AnalysisReference.load("llama")
        let set = try TinyTranscoders.random(for: model, tokens: r.clean_ids, features: 64, l0: 8)
        let last = model.configuration.layers - 1, n = r.clean_ids.count, d = model.configuration.width
        var options = InterventionOptions()
        options.freezeAttention = false
        let cleanRun = try Interventions.run(model: model, transcoders: set, tokens: r.clean_ids, interventions: [], options: options)
        var sites = [FeatureSite]()
        for p in 1..<n { for (f, _) in cleanRun.activations[last].row(p).prefix(3) { sites.append(FeatureSite(layer: last, position: p, feature: f)) } }
        sites.append(FeatureSite(layer: 0, position: 2, feature: cleanRun.activations[0].row(2).first!.feature))
        let metric = Metric.logitDiff(r.a, r.b)
        let scan = try FeaturePatching.scan(model: model, transcoders: set, clean: r.clean_ids, corrupt: r.corrupt_ids, metric: metric, sites: sites)
        #expect(scan.cells.count == sites.count && abs(scan.clean - r.patching.clean) <= 1e-4 && abs(scan.corrupt - r.patching.corrupt) <= 1e-4)
        var checked = 0
        for cell in scan.cells where cell.site.layer == last {
            let row = try set[last].decoderWeights.rows([cell.site.feature])
            let change = cell.cleanActivation - cell.corruptActivation, p = cell.site.position
            let hook: Hook = { _, value in for j in 0..<d { value.scalars[p * d + j] += change * row[j] } }
            let expected = metric.values(try model.forward([r.corrupt_ids], hooks: [set.outputPoint(layer: last): hook]).logits)[0]
            #expect(abs(cell.value - expected) <= 1e-5, "L\(last)/F\(cell.site.feature)@\(p): \(cell.value) vs \(expected)")
            if change != 0 { checked += 1 }
        }
        #expect(checked > 3, "some patched features change")
        let moved = scan.cells.map { abs($0.value - scan.corrupt) }.max()!
        #expect(moved > 2e-4, "the patches move the metric well past the tolerance (\(moved))")
        // Before the prompts' first difference (position 4) a feature is the same in both runs.
        let early = scan.cells.first { $0.site.layer == 0 }!
        #expect(early.cleanActivation == early.corruptActivation && early.value == scan.corrupt)
        #expect(throws: AnalysisError.unequalLengths(clean: 12, corrupt: 11)) {
            try FeaturePatching.scan(model: model, transcoders: set, clean: r.clean_ids, corrupt: Array(r.corrupt_ids.dropLast()), metric: metric, sites: sites)
        }
    }

    @Test func inductionScoreReadsTheTokenAfterThePreviousOccurrence() throws {
        // The definition read off the pattern by hand: the second copy of the repeated sequence
        // scores attention from i to i − T + 1.
        let (model, r) = try AnalysisReference.load("llama")
        let repeated = try HeadScores.repeatedRandomTokens(model: model, length: 7, seed: 3, bos: 1)
        #expect(repeated.count == 15 && repeated[0] == 1 && Array(repeated[1...7]) == Array(repeated[8...14]))
        #expect(!repeated.dropFirst().contains(1) && !repeated.contains(2))
        let scores = try HeadScores.run(model: model, prompt: r.clean_ids, repeated: repeated, length: 7, offset: 1)
        let cache = try model.forward([repeated], cache: .points([.attnPattern(layer: 0)]), logits: .none).cache
        let p = cache[.attnPattern(layer: 0)]!.scalars, n = repeated.count
        let expected = (8..<15).map { i in Double(p[(0 * n + i) * n + (i - 6)]) }.reduce(0, +) / 7
        #expect(abs(scores.induction[0][0] - expected) <= 1e-9)
        _ = scores.kind(layer: 0, head: 0)
    }

    @Test func badInputIsRefusedWithAMessage() throws {
        let (model, r) = try AnalysisReference.load("llama")
        #expect(throws: AnalysisError.unequalLengths(clean: 12, corrupt: 11)) {
            try Patching.scan(model: model, clean: r.clean_ids, corrupt: Array(r.clean_ids.dropLast()), metric: .logit(3))
        }
        #expect(throws: AnalysisError.emptyPrompt) { try LogitLens.run(model: model, tokens: []) }
        #expect(throws: AnalysisError.emptyPrompt) { try DirectLogitAttribution.run(model: model, tokens: [], direction: [Float](repeating: 0, count: 32)) }
        #expect(throws: AnalysisError.layerOutOfRange(layer: 3, layers: 3)) { try HeadScores.pattern(model: model, tokens: [1, 5], layer: 3, head: 0) }
        #expect(throws: AnalysisError.headOutOfRange(head: 4, heads: 4)) { try HeadScores.pattern(model: model, tokens: [1, 5], layer: 0, head: 4) }
        #expect(throws: LanguageModelError.tokenOutOfRange(id: 500, vocabularySize: 96)) {
            try Patching.scan(model: model, clean: r.clean_ids, corrupt: r.corrupt_ids, metric: .logitDiff(500, 2))
        }
        // Metrics: one token each, known names, the right number of tokens.
        let tokenize: (String) throws -> [Int] = { text in text.split(separator: " ").map { _ in 7 } }
        #expect(try Metric.parse("logit_diff( Mary, John)", tokenize: tokenize).tokens == [" Mary", " John"])
        #expect(throws: AnalysisError.notOneToken(text: " New York", tokens: 2)) { try Metric.parse("prob( New York)", tokenize: tokenize) }
        #expect(throws: AnalysisError.self) { try Metric.parse("logit_diff( Mary)", tokenize: tokenize) }
        #expect(throws: AnalysisError.self) { try Metric.parse("entropy( Mary)", tokenize: tokenize) }
        #expect(throws: AnalysisError.self) { try Metric.parse("logit_diff Mary John", tokenize: tokenize) }
        #expect(AnalysisError.unequalLengths(clean: 12, corrupt: 11).description.contains("same length"))
    }

    @Test func picturesEscapeTheirText() throws {
        let hostile = "<script>alert(1)</script>\"&'\u{1}"
        let map = Heatmap(title: hostile, rowLabels: [hostile], columnLabels: [hostile], values: [[0.5]], cellText: [[hostile]],
                          scale: .sequential(low: 0, high: 1), rowAxis: "layer", columnAxis: "position").svg()
        let bars = BarChart(title: hostile, subtitle: hostile, labels: [hostile], series: [(hostile, "#000", [1.0])]).svg()
        for svg in [map, bars] {
            #expect(!svg.contains("<script") && !svg.contains("\u{1}"))
            #expect(svg.contains("&lt;script&gt;"))
            // Well-formed XML.
            let parser = XMLParser(data: Data(svg.utf8))
            #expect(parser.parse(), "the SVG parses: \(parser.parserError.map { "\($0)" } ?? "")")
        }
    }
}
