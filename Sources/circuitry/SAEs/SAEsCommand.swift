import ArgumentParser
import Foundation
import LanguageModels
import ModelIO
import TensorCore
import Transcoders

struct SAEsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "saes",
        abstract: "Train, evaluate, inspect and run sparse autoencoders (SAELens and Gemma Scope files).",
        subcommands: [TrainSAE.self, EvaluateSAE.self, SAEInfo.self, EncodeSAE.self, SAEPages.self, SAEFeature.self, SAELabel.self])
}

/// `--sae PATH [--hook NAME]`: an SAE folder (SAELens) or a Gemma Scope params.npz.
struct SAEOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("An SAE: a SAELens folder (cfg.json + sae_weights.safetensors) or a Gemma Scope params.npz.", valueName: "path"))
    var sae: String

    @Option(name: .long, help: ArgumentHelp("The hook a params.npz reads (default: blocks.L.hook_resid_post, L from `layer_L` in its path).", valueName: "name"))
    var hook: String?

    func load() throws -> SparseAutoencoder { try SparseAutoencoder.load(path: sae, hookName: hook) }
}

struct TrainSAE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a sparse autoencoder on one hook point.",
        discussion: """
            Activations of the hook point come from the model run over the corpus (BOS positions left out), through a shuffled buffer. Methods:
              batchtopk  BatchTopK with AuxK (k per token on average), saved as a
                         JumpReLU SAE at the mean batch cutoff (the default), or as
                         a TopK SAE with --topk;
              l1         the classic recipe: ReLU, an L1 penalty on activations and
                         unit-norm decoder rows, saved as a standard (ReLU) SAE;
              jumprelu   JumpReLU with a threshold learned per feature and an L0
                         penalty, through straight-through estimators (rectangle
                         kernel, --bandwidth), unit-norm decoder rows; saved as a
                         JumpReLU SAE.
            The SAE is saved in SAELens's format (cfg.json + sae_weights.safetensors), which `SAE.load_from_disk` reads, and evaluated on held-out text (FVU, L0, dead features, spliced loss). Interrupted runs continue from their last checkpoint with --resume.

            Examples:
              circuitry saes train --hook blocks.15.hook_resid_post \\
                  --out models/saes/smollm2-l15
              circuitry saes train --hook blocks.15.hook_resid_post --topk --k 32 \\
                  --out models/saes/l15-topk
              circuitry saes train --hook blocks.15.hook_resid_post --method l1 \\
                  --l1 0.002 --out models/saes/l15-relu
              circuitry saes train --hook blocks.15.hook_resid_post --method jumprelu \\
                  --l1 0.001 --out models/saes/l15-jumprelu
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var corpusOptions: CorpusOptions
    @OptionGroup var output: JSONOption

    @Option(name: .long, help: ArgumentHelp("The hook point to train on (TransformerLens name).", valueName: "name"))
    var hook: String

    @Option(name: .long, help: ArgumentHelp("Where to write the SAE.", valueName: "dir"))
    var out: String

    @Option(name: .long, help: "batchtopk (default), l1 or jumprelu.")
    var method = "batchtopk"

    @Flag(name: .long, help: "Save a BatchTopK-trained SAE as TopK (k per token) rather than JumpReLU.")
    var topk = false

    @Option(name: .long, help: "Features (d_sae; default 4096).")
    var features = 4096

    @Option(name: .long, help: "Active features per token (BatchTopK and TopK).")
    var k = 32

    @Option(name: .long, help: "The penalty's coefficient, per token against the FVU: on Σ activations (l1) or on L0 (jumprelu).")
    var l1: Float = 1e-3

    @Option(name: .long, help: "The bandwidth of JumpReLU's pseudo-derivatives (in units of the normalised activations).")
    var bandwidth: Float = 0.05

    @Option(name: .long, help: "Where JumpReLU thresholds start (units of the normalised pre-activations).")
    var initialThreshold: Float = 0.2

    @Option(name: .long, help: "Training tokens.")
    var tokens = 320_000

    @Option(name: .long, help: "Peak learning rate.")
    var learningRate: Float?

    @Option(name: .long, help: "Random seed (data order and initialisation).")
    var seed: UInt64 = 0

    @Flag(name: .long, help: "Continue from the checkpoint in the output folder.")
    var resume = false

    @Option(name: .long, help: "Seconds between checkpoints (0 for none).")
    var checkpointSeconds: Double = 180

    @Option(name: .long, help: "Held-out sequences to evaluate on after training (0 to skip).")
    var evaluate = 64

    struct Trained: Encodable { var folder: String; var hook_name: String; var architecture: String; var d_in: Int; var d_sae: Int
        var training_seconds: Double; var quality: SAEQuality? }

    func validate() throws {
        guard TrainingOptions.sparsityMethods.contains(method) else { throw ValidationError("--method must be batchtopk, l1 or jumprelu") }
        guard bandwidth > 0, bandwidth.isFinite else { throw ValidationError("--bandwidth must be positive") }
        guard initialThreshold > 0, initialThreshold.isFinite else { throw ValidationError("--initial-threshold must be positive") }
        guard features > 0, k > 0, k <= features else { throw ValidationError("--k must be between 1 and --features") }
        guard tokens > 0 else { throw ValidationError("--tokens must be positive") }
        guard l1 >= 0, l1.isFinite else { throw ValidationError("--l1 must be 0 or more") }
        guard evaluate >= 0 else { throw ValidationError("--evaluate must be 0 or more") }
        if topk && method != "batchtopk" { throw ValidationError("--topk saves a BatchTopK-trained SAE, not one trained with \(method)") }
    }

    func run() throws {
        let loaded = try modelOptions.load()
        var options = TrainingOptions()
        options.saeHook = hook
        options.sparsity = method
        options.l1Coefficient = l1
        options.bandwidth = bandwidth
        options.initialThreshold = initialThreshold
        options.features = features
        options.k = k
        options.tokens = tokens
        options.deadAfterTokens = min(options.deadAfterTokens, max(tokens / 4, 10_000))
        if let learningRate { options.learningRate = learningRate }
        options.seed = seed
        options.skip = false
        options.checkpointSeconds = checkpointSeconds
        try options.validate()
        let checkpoint = "\(out)/checkpoint"
        let corpus = try corpusOptions.load(tokenizer: loaded, seed: seed)
        let trainer: TranscoderTrainer
        if resume && TranscoderTrainer.hasCheckpoint(checkpoint) {
            trainer = try TranscoderTrainer.resume(from: checkpoint, model: loaded.model, corpus: corpus)
            guard trainer.options.saeHook == hook else {
                throw CommandError("the checkpoint in \(checkpoint) trains on \(trainer.options.saeHook ?? "transcoders"), not \(hook)")
            }
            Output.note("resuming from \(checkpoint)")
        } else {
            trainer = try TranscoderTrainer(model: loaded.model, corpus: corpus, options: options, checkpointFolder: checkpoint)
        }
        let o = trainer.options
        Output.note("training an SAE on \(hook): \(o.features) features, \(o.usesL1 ? "\(o.sparsity ?? "") coefficient \(o.l1Coefficient ?? 0)" : "k = \(o.k)"), \(o.tokens.formatted()) tokens")
        let bar = ProgressBar("train", total: o.tokens)
        try trainer.run { p in
            bar.update(p.tokens, detail: String(format: "%@ tokens  %.0f tok/s  FVU %.3f  L0 %.0f  dead %.1f%%",
                                                 "\(p.tokens / 1000)k" as NSString, p.tokensPerSecond, p.meanFVU, p.meanL0, p.deadFraction * 100))
        }
        let progress = trainer.report(elapsed: trainer.elapsedSeconds)
        bar.finish(String(format: "trained in %@ (model forward %.0f s, SAE steps %.0f s)",
                          ProgressBar.clock(progress.elapsed), progress.forwardSeconds, progress.trainSeconds))
        var sae = try trainer.sparseAutoencoder(modelName: (loaded.path as NSString).lastPathComponent, topK: topk)
        sae.notes["corpus"] = corpus.description
        var quality: SAEQuality?
        if evaluate > 0 {
            let evalBar = ProgressBar("evaluate", total: evaluate)
            quality = try SAEEvaluation.evaluate(sae, model: loaded.model, corpus: corpus, sequences: evaluate) { done, _ in evalBar.update(done) }
            evalBar.finish()
            if let q = quality {
                sae.notes["eval_fvu"] = String(format: "%.4f", q.fvu)
                sae.notes["eval_l0"] = String(format: "%.1f", q.meanL0)
                sae.notes["eval_dead_fraction"] = String(format: "%.4f", q.deadFraction)
                sae.notes["eval_loss_recovered"] = String(format: "%.4f", q.lossRecovered)
                if !output.json { print(q.summary) }
            }
        }
        try sae.save(to: out)
        if let quality { try JSONEncoder.pretty.encode(quality).write(to: URL(fileURLWithPath: "\(out)/quality.json")) }
        if output.json {
            return try Output.json(Trained(folder: out, hook_name: hook, architecture: sae.architecture, d_in: sae.width, d_sae: sae.features,
                                           training_seconds: progress.elapsed, quality: quality))
        }
        print("saved a \(sae.architecture) SAE (\(sae.features) features on \(hook)) to \(out)")
    }
}

extension SAEQuality {
    var summary: String {
        String(format: """
            %@ on %d held-out tokens:
              FVU %.4f   L0 %.1f   dead %.1f%%
              next-token loss: original %.4f, spliced %.4f (+%.4f), zero-ablated %.4f: %.1f%% of the loss recovered
            """, hookName, tokens, fvu, meanL0, deadFraction * 100, originalLoss, splicedLoss, splicedLossIncrease, zeroAblatedLoss, lossRecovered * 100)
    }
}

struct EvaluateSAE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure an SAE on held-out text: FVU, L0, dead features and the spliced next-token loss.",
        discussion: """
            Examples:
              circuitry saes eval --sae models/saes/smollm2-l15
              circuitry saes eval --sae layer_12/width_16k/average_l0_82/params.npz \\
                  --model gemma-3-270m --json
            """)

    @OptionGroup var saeOptions: SAEOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var corpusOptions: CorpusOptions
    @OptionGroup var output: JSONOption

    @Option(name: .long, help: "Held-out sequences to evaluate on.")
    var sequences = 64

    func validate() throws { guard sequences > 0 else { throw ValidationError("--sequences must be at least 1") } }

    func run() throws {
        let sae = try saeOptions.load()
        let loaded = try modelOptions.load()
        _ = try sae.validate(for: loaded.model)
        let corpus = try corpusOptions.load(tokenizer: loaded, seed: 0)
        let bar = ProgressBar("evaluate", total: sequences)
        let quality = try SAEEvaluation.evaluate(sae, model: loaded.model, corpus: corpus, sequences: sequences) { done, _ in bar.update(done) }
        bar.finish()
        if output.json { return try Output.json(quality) }
        print(quality.summary)
    }
}

struct SAEInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe an SAE file: architecture, hook, sizes, and how it was made.",
        discussion: "Example:\n  circuitry saes info --sae models/saes/smollm2-l15")

    @OptionGroup var saeOptions: SAEOptions
    @OptionGroup var output: JSONOption

    struct Info: Encodable { var hook_name: String; var architecture: String; var d_in: Int; var d_sae: Int; var k: Int?
        var apply_b_dec_to_input: Bool; var model_name: String?; var notes: [String: String] }

    func run() throws {
        let sae = try saeOptions.load()
        var k: Int?
        if case .topK(let value) = sae.activation { k = value }
        let info = Info(hook_name: sae.hookName, architecture: sae.architecture, d_in: sae.width, d_sae: sae.features, k: k,
                        apply_b_dec_to_input: sae.subtractsDecoderBias, model_name: sae.modelName, notes: sae.notes)
        if output.json { return try Output.json(info) }
        print("\(sae.architecture) SAE on \(sae.hookName): d_in \(sae.width), d_sae \(sae.features)\(k.map { ", k \($0)" } ?? "")\(sae.subtractsDecoderBias ? ", subtracts b_dec from its input" : "")")
        if let m = sae.modelName { print("model: \(m)") }
        for (key, value) in sae.notes.sorted(by: { $0.key < $1.key }) { print("  \(key): \(value)") }
    }
}

struct EncodeSAE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Run a prompt and show the SAE features active at each token.",
        discussion: """
            --dump writes the hook's activations and their dense encodings to a safetensors file (tensors `activations` [n, d_in] and `encodings` [n, d_sae]), for checks against other tools.

            Examples:
              circuitry saes encode "The capital of France is Paris" \\
                  --sae models/saes/smollm2-l15 --top 3
              circuitry saes encode "Hello" --sae models/saes/smollm2-l15 \\
                  --dump /tmp/hello.safetensors --json
            """)

    @Argument(help: "The prompt.")
    var prompt: String

    @OptionGroup var saeOptions: SAEOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var output: JSONOption

    @Option(name: .long, help: "Features shown per token, strongest first.")
    var top = 5

    @Option(name: .long, help: ArgumentHelp("Write activations and encodings to this safetensors file.", valueName: "file"))
    var dump: String?

    struct Token: Encodable { var position: Int; var token: String; var features: [Feature] }
    struct Feature: Encodable { var feature: Int; var activation: Float }

    func validate() throws { guard top > 0 else { throw ValidationError("--top must be at least 1") } }

    func run() throws {
        let sae = try saeOptions.load()
        let loaded = try modelOptions.load()
        let point = try sae.validate(for: loaded.model)
        let ids = try loaded.tokenize(prompt)
        guard !ids.isEmpty else { throw CommandError("the prompt is empty: it has no tokens") }
        let run = try loaded.running { try loaded.model.forward([ids], cache: .points([point]), logits: .none) }
        let x = try run.cache[point]!.reshaped([ids.count, sae.width])
        let active = try sae.encode(x)
        if let dump {
            try SafetensorsFile.write(["activations": x, "encodings": try sae.encodeDense(x)], metadata: ["hook_name": sae.hookName], to: dump)
        }
        var tokens = [Token]()
        for p in 0..<ids.count {
            let range = active.rowStarts[p]..<active.rowStarts[p + 1]
            let strongest = range.sorted { active.values[$0] > active.values[$1] }.prefix(top)
            tokens.append(Token(position: p, token: try loaded.tokenizer.decode([ids[p]]),
                                features: strongest.map { Feature(feature: Int(active.features[$0]), activation: active.values[$0]) }))
        }
        if output.json { return try Output.json(tokens) }
        for t in tokens {
            let list = t.features.map { String(format: "%d (%.2f)", $0.feature, $0.activation) }.joined(separator: "  ")
            print(String(format: "%3d %@  %@", t.position, ("\"" + Output.visible(t.token) + "\"") as NSString, list as NSString))
        }
    }
}
