// The default model, loaded once per test process.

import LanguageModels

public enum SharedModel {
    private static let loaded: Result<LoadedModel, Error> = Result { try LoadedModel.load(path: Fixtures.requireModel()) }

    /// The default SmolLM2 model and tokenizer (fails with a clear message when not set up).
    public static func get() throws -> LoadedModel { try loaded.get() }
}
