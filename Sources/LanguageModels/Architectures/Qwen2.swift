// Qwen 2 and 2.5: the Llama block with biases on the query, key and value projections (read
// when present). Qwen has no beginning-of-sequence token: the id its files give as BOS is
// <|endoftext|>, and a prompt that starts with it is answered worse (" the" rather than
// " Paris" for "The capital of France is").

public enum Qwen2: PreNormArchitecture {
    public static let ggufNames = ["qwen2"]
    public static let modelTypes = ["qwen2"]
    public static let startsWithBOS = false
    public static let requiredTensors = preNormTensors
    public static func huggingFaceName(_ tensor: LayerTensor) -> String { preNormHuggingFaceName(tensor) }
}
