// Steering: adding directions to the forward pass.
//
// A feature of an SAE or transcoder is steered by encoding, changing its activation, decoding and
// keeping the reconstruction error. The decoder is linear in the activations, so that is the same
// as adding Δa · W_dec[i] to the site's true value:
//   add:   x' = x + s · W_dec[i]                     (a_i + s)
//   clamp: x' = x + (v − a_i(x)) · W_dec[i]          (a_i set to v; SAE features)
// With s = 0 the run is the unsteered run exactly (x + 0 = x bit for bit) when the unsteered run
// carries `baselineHooks` at the same points: a pass with no hook at all may take a shorter
// arithmetic path for its last layer, equal only to rounding. A steering vector (a
// mean difference of activations between contrastive prompts) adds s · v the same way.

import Foundation
import LanguageModels
import ModelIO
import TensorCore
import Transcoders

public struct SteeringEdit: Sendable {
    public enum Kind: Sendable {
        /// Add strength · direction at every position.
        case add(strength: Float)
        /// Set an SAE feature's activation to `value` at every position.
        case clamp(value: Float, sae: SparseAutoencoder, feature: Int)
    }
    public var point: HookPoint
    /// [d]: the decoder vector or steering vector.
    public var direction: Tensor
    public var kind: Kind
    /// How the edit was asked for (shown in reports).
    public var label: String

    public init(point: HookPoint, direction: Tensor, kind: Kind, label: String) {
        self.point = point
        self.direction = direction
        self.kind = kind
        self.label = label
    }
}

/// A steering vector: the mean difference of a hook's activations between contrastive texts.
public struct SteeringVector: Sendable {
    public var hookName: String
    public var vector: Tensor
    public var pairs: Int

    public static func meanDifference(model: TransformerModel, positive: [[Int]], negative: [[Int]], layer: Int, site: String,
                                      position: ProbePosition, skipFirst: Bool) throws -> SteeringVector {
        guard !positive.isEmpty, !negative.isEmpty else { throw AnalysisError.invalid("a steering vector needs positive and negative texts") }
        let a = try ProbeActivations.collect(model: model, tokenized: positive, layers: [layer], site: site, position: position, skipFirst: skipFirst)
        let b = try ProbeActivations.collect(model: model, tokenized: negative, layers: [layer], site: site, position: position, skipFirst: skipFirst)
        let d = a.width
        var v = [Float](repeating: 0, count: d)
        for r in 0..<a.texts { for j in 0..<d { v[j] += a.rows[0][r * d + j] / Float(a.texts) } }
        for r in 0..<b.texts { for j in 0..<d { v[j] -= b.rows[0][r * d + j] / Float(b.texts) } }
        return SteeringVector(hookName: "blocks.\(layer).\(site)", vector: Tensor(v), pairs: min(positive.count, negative.count))
    }

    public func save(to path: String) throws {
        try SafetensorsFile.write(["vector": vector], metadata: ["hook_name": hookName, "pairs": "\(pairs)"], to: path)
    }

    public static func load(path: String) throws -> SteeringVector {
        let file = try SafetensorsFile(path: path)
        let metadata = file.metadata
        guard file.contains("vector"), let vector = try? file.tensor("vector"), vector.rank == 1 else { throw AnalysisError.invalid("\(path) holds no steering vector (a tensor `vector` [d])") }
        guard let hook = metadata["hook_name"] else { throw AnalysisError.invalid("\(path) does not name its hook (metadata hook_name)") }
        guard vector.isFinite else { throw AnalysisError.invalid("\(path): the steering vector is not finite") }
        return SteeringVector(hookName: hook, vector: vector, pairs: Int(metadata["pairs"] ?? "") ?? 0)
    }
}

public enum Steering {
    /// Hooks that do nothing, at the points the edits steer: the unsteered run to compare a steered
    /// one with, taking the same arithmetic path through the model.
    public static func baselineHooks(_ edits: [SteeringEdit]) -> [HookPoint: Hook] {
        Dictionary(uniqueKeysWithValues: Set(edits.map(\.point)).map { point -> (HookPoint, Hook) in (point, { _, _ in }) })
    }

    /// Hooks applying every edit (several at one point apply in order).
    public static func hooks(_ edits: [SteeringEdit]) -> [HookPoint: Hook] {
        var byPoint = [HookPoint: [SteeringEdit]]()
        for e in edits { byPoint[e.point, default: []].append(e) }
        return byPoint.mapValues { list in
            { point, value in
                let d = value.shape[value.rank - 1], rows = value.count / max(d, 1)
                for edit in list {
                    guard edit.direction.shape == [d] else {
                        throw LanguageModelError.hookShape(hook: point.description, expected: [d], found: edit.direction.shape)
                    }
                    switch edit.kind {
                    case .add(let s):
                        value.scalars.withUnsafeMutableBufferPointer { x in
                            edit.direction.scalars.withUnsafeBufferPointer { v in
                                for r in 0..<rows { for j in 0..<d { x[r * d + j] += s * v[j] } }
                            }
                        }
                    case let .clamp(target, sae, feature):
                        let z = try sae.encodeDense(try value.reshaped([rows, d]))
                        let f = sae.features
                        value.scalars.withUnsafeMutableBufferPointer { x in
                            edit.direction.scalars.withUnsafeBufferPointer { v in
                                for r in 0..<rows {
                                    let delta = target - z.scalars[r * f + feature]
                                    for j in 0..<d { x[r * d + j] += delta * v[j] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
