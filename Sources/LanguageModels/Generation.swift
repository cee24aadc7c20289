// Text generation: prefill the prompt once, then decode one token at a time with a KV cache.

import TensorCore

/// How to pick each next token.
public struct GenerationOptions: Sendable {
    public var maxTokens: Int
    /// 0 picks the most likely token (greedy); above 0 samples from softmax(logits / temperature).
    public var temperature: Float
    public var seed: UInt64
    /// Stop after the end-of-sequence token.
    public var stopAtEOS: Bool

    public init(maxTokens: Int = 32, temperature: Float = 0, seed: UInt64 = 0, stopAtEOS: Bool = true) {
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.seed = seed
        self.stopAtEOS = stopAtEOS
    }
}

extension TransformerModel {
    /// Continues `prompt`, calling `onToken` with each new token as it is chosen; returns the new tokens.
    /// `hooks` apply to every forward step (the prompt, then each new token); `onLogits` sees the
    /// logits [vocabulary] each token is chosen from.
    public func generate(_ prompt: [Int], options: GenerationOptions, hooks: [HookPoint: Hook] = [:],
                         onLogits: ([Float]) throws -> Void = { _ in }, onToken: (Int) throws -> Void = { _ in }) throws -> [Int] {
        guard !prompt.isEmpty else { throw LanguageModelError.emptyPrompt }
        guard prompt.count + options.maxTokens <= configuration.contextLength else {
            throw LanguageModelError.promptTooLong(tokens: prompt.count + options.maxTokens, context: configuration.contextLength)
        }
        var cache = KVCache(layers: configuration.layers)
        var random = SeededGenerator(seed: options.seed)
        var logits = try forward(prompt, continuing: &cache, hooks: hooks).logits
        var generated = [Int]()
        while generated.count < options.maxTokens {
            try onLogits(logits.scalars)
            let next = try pick(logits.scalars, temperature: options.temperature, random: &random)
            generated.append(next)
            try onToken(next)
            if options.stopAtEOS, next == configuration.eosTokenId { break }
            if generated.count == options.maxTokens { break }
            logits = try forward([next], continuing: &cache, hooks: hooks).logits
        }
        return generated
    }

    private func pick(_ logits: [Float], temperature: Float, random: inout SeededGenerator) throws -> Int {
        let row = try Tensor(shape: [1, logits.count], scalars: logits)
        if temperature <= 0 { return try row.argmaxLastAxis()[0] }
        let probabilities = try row.scaled(by: 1 / temperature).softmax().scalars
        var u = random.nextUniform()
        for (i, p) in probabilities.enumerated() {
            u -= p
            if u <= 0 { return i }
        }
        return probabilities.count - 1
    }
}
