import ArgumentParser
import Foundation
import LanguageModels
import Transcoders

struct TrainTranscoders: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a transcoder for every layer of a model (per-layer, or cross-layer with --cross-layer).",
        discussion: """
            Activations come from the model run over the corpus (all layers from one forward pass, through a shuffled buffer). Each layer trains a BatchTopK transcoder with a skip connection (AuxK keeps features alive), then the set is saved in circuit-tracer's per-layer format as JumpReLU transcoders and evaluated on held-out text. With --cross-layer, layer l's features write to every layer from l on and all layers train jointly against every layer's MLP output; the result is saved in circuit-tracer's cross-layer format (W_enc_l / W_dec_l files), which circuit-tracer loads unchanged. Decoders then hold (L − l) vectors per feature: memory grows with features × L² / 2. Cross-layer transcoders train without skip connections: circuit-tracer's CLT files have none. Interrupted runs continue from their last checkpoint with --resume.

            Examples:
              circuitry transcoders train                       # the default 15-minute set
              circuitry transcoders train --long --out models/transcoders/smollm2-long
              circuitry transcoders train --corpus ~/texts --features 2048 --tokens 200000
              # at Gemma Scope's sites
              circuitry transcoders train --model gemma-3-270m --output-hook hook_mlp_out \\
                  --out models/transcoders/gemma-3-270m-default
              # a cross-layer transcoder
              circuitry transcoders train --cross-layer --features 2048 \\
                  --output-hook hook_mlp_out --out models/transcoders/smollm2-clt
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var corpusOptions: CorpusOptions
    @OptionGroup var output: JSONOption

    struct Trained: Encodable { var folder: String; var layers: Int; var features: Int; var quality: TranscoderQuality? }

    @Option(name: .long, help: ArgumentHelp("Where to write the set.", valueName: "dir"))
    var out: String?

    @Option(name: .long, help: "Features per layer (default 4096).")
    var features: Int?

    @Option(name: .long, help: "Average active features per token (BatchTopK k).")
    var k: Int?

    @Option(name: .long, help: "Training tokens (default 320,000; 1,200,000 with --long).")
    var tokens: Int?

    @Option(name: .long, help: "Peak learning rate.")
    var learningRate: Float?

    @Option(name: .long, help: "Random seed (data order and initialisation).")
    var seed: UInt64 = 0

    @Flag(name: .long, help: "The longer configuration for better graphs (1.2M tokens, 35–50 minutes on 2 cores).")
    var long = false

    @Flag(name: .long, help: "Train without skip connections.")
    var noSkip = false

    @Flag(name: .long, help: "Train one cross-layer transcoder (features write to every later layer) instead of per-layer ones.")
    var crossLayer = false

    @Flag(name: .long, help: "Continue from the checkpoint in the output folder.")
    var resume = false

    @Option(name: .long, help: ArgumentHelp("Where the transcoders read: mlp.hook_in (the MLP's normalised input), ln2.hook_normalized (before the norm's weight) or hook_resid_mid.", valueName: "site"))
    var inputHook = "mlp.hook_in"

    @Option(name: .long, help: ArgumentHelp("Where they write: mlp.hook_out (the MLP's own output) or hook_mlp_out (what the block adds; after Gemma's post-MLP norm).", valueName: "site"))
    var outputHook = "mlp.hook_out"

    @Option(name: .long, help: "Seconds between checkpoints (0 for none).")
    var checkpointSeconds: Double = 180

    @Option(name: .long, help: "Held-out sequences to evaluate on after training (0 to skip).")
    var evaluate = 64

    func run() throws {
        let loaded = try modelOptions.load()
        var options = long ? TrainingOptions.long : TrainingOptions()
        if let features { options.features = features }
        if let k { options.k = k }
        if let tokens { options.tokens = tokens }
        if let learningRate { options.learningRate = learningRate }
        options.seed = seed
        // circuit-tracer's CLT files have no skip connections (its loader would drop them), so a
        // cross-layer transcoder trains without one and circuit-tracer reads it as trained.
        options.skip = !noSkip && !crossLayer
        options.checkpointSeconds = checkpointSeconds
        options.inputHook = inputHook
        options.outputHook = outputHook
        options.crossLayer = crossLayer
        try options.validate()
        let folder = out ?? Paths.defaultTranscoders
        let checkpoint = "\(folder)/checkpoint"
        let corpus = try corpusOptions.load(tokenizer: loaded, seed: seed)

        let trainer: TranscoderTrainer
        if resume && TranscoderTrainer.hasCheckpoint(checkpoint) {
            trainer = try TranscoderTrainer.resume(from: checkpoint, model: loaded.model, corpus: corpus)
            Output.note("resuming from \(checkpoint)")
        } else {
            trainer = try TranscoderTrainer(model: loaded.model, corpus: corpus, options: options, checkpointFolder: checkpoint)
        }
        let o = trainer.options
        Output.note("training \(o.crossLayer ? "a cross-layer transcoder over \(loaded.configuration.layers) layers" : "\(loaded.configuration.layers) transcoders"): \(o.features) features, k = \(o.k), \(o.skip ? "with" : "without") skip connections, \(o.tokens.formatted()) tokens")
        let bar = ProgressBar("train", total: o.tokens)
        try trainer.run { p in
            bar.update(p.tokens, detail: String(format: "%@ tokens  %.0f tok/s  FVU %.3f  L0 %.0f  dead %.1f%%",
                                                 "\(p.tokens / 1000)k" as NSString, p.tokensPerSecond, p.meanFVU, p.meanL0, p.deadFraction * 100))
        }
        let progress = trainer.report(elapsed: trainer.elapsedSeconds)
        bar.finish(String(format: "trained in %@ (model forward %.0f s, transcoder steps %.0f s)",
                          ProgressBar.clock(progress.elapsed), progress.forwardSeconds, progress.trainSeconds))
        var set = try trainer.transcoderSet(name: (folder as NSString).lastPathComponent, modelName: loaded.configuration.architecture + ":" + (loaded.path as NSString).lastPathComponent)
        set.notes["tokens_per_second"] = String(format: "%.0f", progress.tokensPerSecond)
        set.notes["forward_seconds"] = String(format: "%.0f", progress.forwardSeconds)
        set.notes["transcoder_step_seconds"] = String(format: "%.0f", progress.trainSeconds)
        set.notes["corpus"] = corpus.description
        var evaluation: TranscoderQuality?
        if evaluate > 0 {
            let evalBar = ProgressBar("evaluate", total: evaluate)
            let quality = try TranscoderEvaluation.evaluate(set: set, model: loaded.model, corpus: corpus, sequences: evaluate) { done, _ in evalBar.update(done) }
            evalBar.finish()
            set.notes.merge(quality.notes) { $1 }
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try JSONEncoder.pretty.encode(quality).write(to: URL(fileURLWithPath: "\(folder)/quality.json"))
            evaluation = quality
            if !output.json { print(quality.summary) }
        }
        try set.save(to: folder)
        try? FileManager.default.removeItem(atPath: checkpoint)
        if output.json { return try Output.json(Trained(folder: folder, layers: set.layers, features: set.features, quality: evaluation)) }
        print("saved \(set.layers) transcoders to \(folder)")
    }
}

extension JSONEncoder {
    static var pretty: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return encoder
    }
}

extension TranscoderQuality {
    var notes: [String: String] {
        ["eval_median_fvu": String(format: "%.4f", medianFVU), "eval_worst_fvu": String(format: "%.4f", worstFVU),
         "eval_mean_l0": String(format: "%.1f", meanL0), "eval_dead_fraction": String(format: "%.4f", meanDeadFraction),
         "eval_spliced_loss_increase": String(format: "%.4f", splicedLossIncrease), "eval_tokens": "\(tokens)"]
    }

    var summary: String {
        var lines = ["layer    FVU     L0   dead"]
        for l in layers { lines.append(String(format: "%5d  %5.3f  %5.1f  %4.1f%%", l.layer, l.fvu, l.meanL0, l.deadFraction * 100)) }
        lines.append(String(format: "median FVU %.3f (worst %.3f), mean L0 %.1f, dead %.1f%%, on %d held-out tokens",
                            medianFVU, worstFVU, meanL0, meanDeadFraction * 100, tokens))
        lines.append(String(format: "next-token loss: original %.4f, spliced %.4f nats (+%.4f)", originalLoss, splicedLoss, splicedLossIncrease))
        return lines.joined(separator: "\n")
    }
}
