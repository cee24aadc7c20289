/// Errors from loading, checking, training or evaluating transcoders.
public enum TranscoderError: Error, Equatable, Sendable {
    case missingLayerFile(folder: String, layer: Int, path: String)
    case missingTensor(file: String, tensor: String)
    case shape(file: String, tensor: String, expected: [Int], found: [Int])
    case nonFinite(file: String, tensor: String)
    case widthMismatch(set: String, transcoderWidth: Int, modelWidth: Int)
    case layerCountMismatch(set: String, transcoders: Int, modelLayers: Int)
    case invalidConfig(file: String, reason: String)
    case invalidOptions(String)
    case corpus(String)
    case checkpoint(file: String, reason: String)
    /// A decoder that writes to the wrong number of layers.
    case decoderSpan(set: String, layer: Int, span: Int, expected: Int, crossLayer: Bool)
}

extension TranscoderError: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .missingLayerFile(folder, layer, path):
            return "\(folder): the transcoder for layer \(layer) is missing (\(path))"
        case let .missingTensor(file, tensor):
            return "\(file): missing tensor \(tensor)"
        case let .shape(file, tensor, expected, found):
            return "\(file): \(tensor) has shape \(found), expected \(expected)"
        case let .nonFinite(file, tensor):
            return "\(file): \(tensor) contains NaN or infinite values"
        case let .widthMismatch(set, transcoderWidth, modelWidth):
            return "\(set): transcoders read width \(transcoderWidth) but the model's residual stream has width \(modelWidth)"
        case let .layerCountMismatch(set, transcoders, modelLayers):
            return "\(set): \(transcoders) transcoder layers for a model with \(modelLayers) layers"
        case let .invalidConfig(file, reason):
            return "\(file): \(reason)"
        case let .invalidOptions(reason):
            return reason
        case let .corpus(reason):
            return "corpus: \(reason)"
        case let .checkpoint(file, reason):
            return "\(file): \(reason)"
        case let .decoderSpan(set, layer, span, expected, crossLayer):
            return "\(set): the decoder of layer \(layer) writes to \(span) layer\(span == 1 ? "" : "s"), but in a "
                + "\(crossLayer ? "cross-layer transcoder of this depth" : "per-layer set") it must write to \(expected)"
        }
    }
}
