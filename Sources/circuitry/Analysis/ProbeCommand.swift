import Analysis
import ArgumentParser
import Foundation
import LanguageModels
import ModelIO
import TensorCore

struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Train linear probes on every layer (cross-validated), save one, apply it to new text.",
        subcommands: [TrainProbe.self, ApplyProbe.self], defaultSubcommand: TrainProbe.self)
}

/// The layers option: `all`, or a comma-separated list.
func parseLayers(_ text: String, layers: Int) throws -> [Int] {
    if text == "all" { return Array(0..<layers) }
    let parsed = try text.split(separator: ",").map { part -> Int in
        guard let l = Int(part.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--layers takes all or numbers separated by commas, not \(text)") }
        guard (0..<layers).contains(l) else { throw CommandError("layer \(l) is outside the model (0..<\(layers))") }
        return l
    }
    guard !parsed.isEmpty else { throw ValidationError("--layers is empty") }
    return Array(Set(parsed)).sorted()
}

struct TrainProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Cross-validate linear probes at each layer on labelled texts.",
        discussion: """
            FILE holds JSON lines {"text": …, "label": …} (two or more labels). Each text runs once; its row at a layer is the last token's activation (--position last), the mean over its tokens (mean), or the activation at a given token index (0, 3, −2, …). At each layer an L2-regularised logistic regression (features standardised; the objective of scikit-learn's LogisticRegression with C = --c) and the difference-of-means direction are scored by stratified k-fold cross-validation.

            Examples:
              circuitry probe --data Tests/Fixtures/probes/city-person.jsonl
              circuitry probe --data texts.jsonl --layers 4,8,12 --position mean \\
                  --svg probe.svg
              # fitted at the best layer
              circuitry probe --data texts.jsonl --save probe.json
              # rows, labels and folds
              circuitry probe --data texts.jsonl --dump acts.safetensors
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: JSONOption

    @Option(name: .long, help: ArgumentHelp("Labelled texts, one JSON object per line.", valueName: "file"))
    var data: String

    @Option(name: .long, help: "Layers to probe: all, or a list such as 4,8,12.")
    var layers = "all"

    @Option(name: .long, help: ArgumentHelp("The per-layer hook read (hook_resid_post, hook_resid_mid, hook_mlp_out, hook_attn_out, …).", valueName: "site"))
    var site = "hook_resid_post"

    @Option(name: .long, help: "last, mean, or a token index (negative from the end).")
    var position = "last"

    @Option(name: .long, help: "Cross-validation folds (stratified).")
    var folds = 5

    @Option(name: .customLong("c"), help: "Inverse L2 regularisation strength (scikit-learn's C).")
    var inverseRegularisation: Double = 1

    @Option(name: .long, help: "Seed of the fold assignment.")
    var seed: UInt64 = 0

    @Option(name: .long, help: ArgumentHelp("Write accuracy by layer as an SVG chart.", valueName: "file"))
    var svg: String?

    @Option(name: .long, help: ArgumentHelp("Fit on every text at the best layer (or --save-layer) and save the probe as JSON.", valueName: "file"))
    var save: String?

    @Option(name: .long, help: "The layer of the saved probe (default: the best cross-validated layer).")
    var saveLayer: Int?

    @Option(name: .long, help: ArgumentHelp("Write the rows (one tensor per layer), labels and folds as safetensors.", valueName: "file"))
    var dump: String?

    struct Report: Encodable {
        var data: String; var texts: Int; var classes: [String]; var class_counts: [Int]; var site: String; var position: String
        var folds: Int; var c: Double; var layers: [ProbeLayerResult]; var best_layer: Int; var best_accuracy: Double
        var activation_seconds: Double; var probe_seconds: Double; var saved: String?
    }

    func validate() throws {
        guard folds >= 2 else { throw ValidationError("--folds must be at least 2") }
        guard inverseRegularisation > 0, inverseRegularisation.isFinite else { throw ValidationError("--c must be a positive number") }
    }

    func run() throws {
        let texts = try LabelledText.load(path: data)
        let loaded = try modelOptions.load()
        let layerList = try parseLayers(layers, layers: loaded.configuration.layers)
        let where_ = try ProbePosition(parsing: position)
        if let saveLayer, !layerList.contains(saveLayer) { throw CommandError("--save-layer \(saveLayer) is not among the layers probed") }
        let classes = Array(Set(texts.map(\.label))).sorted()
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        let labels = texts.map { index[$0.label]! }
        let foldOf = try stratifiedFolds(labels: labels, folds: folds, seed: seed)
        let tokenized = try texts.map { try loaded.tokenize($0.text) }
        for (i, ids) in tokenized.enumerated() where ids.count > loaded.configuration.contextLength {
            throw CommandError("text \(i + 1) has \(ids.count) tokens, more than the model's context of \(loaded.configuration.contextLength)")
        }

        var start = Date()
        let bar = ProgressBar("activations", total: texts.count)
        let activations = try loaded.running {
            try ProbeActivations.collect(model: loaded.model, tokenized: tokenized, layers: layerList, site: site, position: where_,
                                         skipFirst: loaded.startsWithBOS) { done, _ in bar.update(done) }
        }
        bar.finish()
        let activationSeconds = Date().timeIntervalSince(start)
        if let dump {
            var tensors = [String: Tensor]()
            for (i, l) in layerList.enumerated() { tensors["layer_\(l)"] = try Tensor(shape: [texts.count, activations.width], scalars: activations.rows[i]) }
            tensors["labels"] = Tensor(labels.map(Float.init))
            tensors["folds"] = Tensor(foldOf.map(Float.init))
            try SafetensorsFile.write(tensors, metadata: ["classes": classes.joined(separator: "\n"), "site": site, "position": where_.description], to: dump)
        }
        start = Date()
        let cvBar = ProgressBar("probes", total: layerList.count)
        let results = try ProbeCrossValidation.run(activations, labels: labels, classes: classes.count, folds: foldOf, c: inverseRegularisation) { done, _ in cvBar.update(done) }
        cvBar.finish()
        let probeSeconds = Date().timeIntervalSince(start)
        let best = results.max { $0.accuracy < $1.accuracy }!

        var saved: String?
        if let save {
            let layer = saveLayer ?? best.layer
            let i = layerList.firstIndex(of: layer)!
            let x = activations.rows[i]
            let regression = try LogisticRegression.fit(x, rows: texts.count, width: activations.width, labels: labels, classes: classes.count, c: inverseRegularisation)
            let means = MeanDifferenceProbe.fit(x, rows: texts.count, width: activations.width, labels: labels, classes: classes.count)
            let probe = SavedProbe(hookName: "blocks.\(layer).\(site)", position: where_, classes: classes, regression: regression, meanDifference: means,
                                   modelName: (loaded.path as NSString).lastPathComponent, crossValidatedAccuracy: results[i].accuracy)
            try probe.save(to: save)
            saved = save
        }
        if let svg {
            let majority = Double(classes.indices.map { c in labels.filter { $0 == c }.count }.max()!) / Double(texts.count)
            let chart = AccuracyChart(
                title: "Probe accuracy by layer", subtitle: "\(texts.count) texts, \(classes.count) classes, \(folds)-fold stratified cross-validation; \(site), position \(where_); bands ±1 s.d. over folds",
                labels: layerList.map(String.init),
                series: [("logistic regression", "#3b6ea8", results.map(\.accuracy), results.map(\.accuracyStd)),
                         ("difference of means", "#d08c2c", results.map(\.meanDifferenceAccuracy), results.map(\.meanDifferenceStd))],
                chance: majority)
            try Output.write(Data(chart.svg().utf8), to: svg)
        }
        let counts = classes.indices.map { c in labels.filter { $0 == c }.count }
        if output.json {
            return try Output.json(Report(data: data, texts: texts.count, classes: classes, class_counts: counts, site: site, position: where_.description,
                                          folds: folds, c: inverseRegularisation, layers: results, best_layer: best.layer, best_accuracy: best.accuracy,
                                          activation_seconds: activationSeconds, probe_seconds: probeSeconds, saved: saved))
        }
        print("\(texts.count) texts, classes: \(zip(classes, counts).map { "\($0) (\($1))" }.joined(separator: ", ")); \(folds)-fold stratified, \(site) at position \(where_)")
        print("layer  logistic regression    difference of means")
        for r in results {
            print(String(format: "%5d  %.3f ± %.3f%@          %.3f ± %.3f", r.layer, r.accuracy, r.accuracyStd, (r.converged ? " " : "*") as NSString,
                         r.meanDifferenceAccuracy, r.meanDifferenceStd))
        }
        if results.contains(where: { !$0.converged }) { print("* L-BFGS stopped before its tolerance on some fold") }
        print(String(format: "best layer %d: %.3f (activations %.1f s, probes %.1f s)", best.layer, best.accuracy, activationSeconds, probeSeconds))
        if let saved { print("saved the probe to \(saved)") }
        if let svg { print("wrote \(svg)") }
    }
}

struct ApplyProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Classify texts with a saved probe.",
        discussion: """
            With --texts whose lines carry labels, the accuracy is reported too.

            Examples:
              circuitry probe apply --probe probe.json "I flew into Lisbon last night."
              circuitry probe apply --probe probe.json --texts more.jsonl --json
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: JSONOption

    @Option(name: .long, help: ArgumentHelp("A probe saved by `circuitry probe --save`.", valueName: "file"))
    var probe: String

    @Option(name: .long, help: ArgumentHelp("Texts as JSON lines ({\"text\": …}, labels optional).", valueName: "file"))
    var texts: String?

    @Argument(help: "Texts to classify.")
    var text: [String] = []

    struct Prediction: Encodable { var text: String; var predicted: String; var probabilities: [String: Double]; var mean_difference: String; var label: String? }
    struct Report: Encodable { var probe: String; var hook_name: String; var predictions: [Prediction]; var accuracy: Double? }

    func run() throws {
        let saved = try SavedProbe.load(path: probe)
        var items = text.map { LabelledText(text: $0, label: "") }
        if let texts { items += try LabelledText.load(path: texts, needsLabels: false) }
        guard !items.isEmpty else { throw ValidationError("give texts to classify, or --texts FILE") }
        for item in items where item.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw CommandError("a text to classify is empty") }
        let loaded = try modelOptions.load()
        let point = try loaded.model.hookPoint(named: saved.hookName)
        guard let layer = point.layer, loaded.model.width(of: point) == saved.regression.width else {
            throw CommandError("the probe reads \(saved.hookName) rows of width \(saved.regression.width); this model's differ")
        }
        let site = saved.hookName.split(separator: ".", maxSplits: 2).last.map(String.init) ?? saved.hookName
        let tokenized = try items.map { try loaded.tokenize($0.text) }
        let activations = try loaded.running {
            try ProbeActivations.collect(model: loaded.model, tokenized: tokenized, layers: [layer], site: site, position: saved.position, skipFirst: loaded.startsWithBOS)
        }
        let probabilities = try saved.regression.probabilities(activations.rows[0], rows: items.count)
        let means = saved.meanDifference.predict(activations.rows[0], rows: items.count, width: activations.width)
        var predictions = [Prediction]()
        for (i, item) in items.enumerated() {
            let p = probabilities[i]
            let best = p.indices.max { p[$0] < p[$1] }!
            predictions.append(Prediction(text: item.text, predicted: saved.classes[best],
                                          probabilities: Dictionary(uniqueKeysWithValues: zip(saved.classes, p)),
                                          mean_difference: saved.classes[means[i]], label: item.label.isEmpty ? nil : item.label))
        }
        let labelled = predictions.filter { $0.label != nil }
        let accuracy = labelled.isEmpty ? nil : Double(labelled.filter { $0.label == $0.predicted }.count) / Double(labelled.count)
        if output.json { return try Output.json(Report(probe: probe, hook_name: saved.hookName, predictions: predictions, accuracy: accuracy)) }
        for p in predictions {
            print(String(format: "%@  %.3f  %@", Output.padded(p.predicted, 10) as NSString, p.probabilities[p.predicted]!, Output.visible(p.text) as NSString))
        }
        if let accuracy { print(String(format: "accuracy %.3f on %d labelled texts", accuracy, labelled.count)) }
    }
}
