// The backward pass: seeds in, cotangents of every reached value out.

import TensorCore

/// Errors from recording or pulling back.
public enum AutodiffError: Error, Equatable, CustomStringConvertible {
    /// A seed whose shape is not [b] + the seeded value's shape, or seeds with different b.
    case seedShape(variable: String, expected: [Int], got: [Int])
    /// A backward pass with no seeds.
    case noSeeds
    /// An op's pullback returned a cotangent of the wrong shape (a bug in that op).
    case pullbackShape(op: String, expected: [Int], got: [Int])

    public var description: String {
        switch self {
        case let .seedShape(variable, expected, got):
            return "seed for \(variable) has shape \(got), expected \(expected)"
        case .noSeeds:
            return "backward pass needs at least one seed"
        case let .pullbackShape(op, expected, got):
            return "pullback of \(op) returned shape \(got), expected \(expected)"
        }
    }
}

/// Cotangents from one backward pass, each of shape [b] + the value's shape.
public struct Gradients {
    /// The number of seed rows.
    public let batch: Int
    var storage: [Int: Tensor]

    /// The cotangent of `variable`, or nil if the pass did not reach it (or did not keep it).
    public subscript(_ variable: Variable) -> Tensor? { storage[variable.id] }
}

extension Tape {
    /// Pulls a batch of cotangents back through the tape.
    ///
    /// - Parameters:
    ///   - seeds: (value, cotangent) pairs; each cotangent has shape [b] + value.shape with the same
    ///     b for all. Several seeds, at different values, are summed where they meet.
    ///   - keep: the values whose cotangents are returned; nil keeps all. Cotangents not kept are
    ///     freed as soon as they have been pulled back, so long tapes stay small.
    ///   - visit: called once per reached value with its complete cotangent, in reverse tape
    ///     order, before it is pulled back further (for reading gradients on the fly).
    /// Parameters reached by the pass accumulate the sum over the batch of their cotangents.
    @discardableResult
    public func backward(
        seeds: [(Variable, Tensor)], keep: Set<Int>? = nil,
        visit: ((Variable, Tensor) throws -> Void)? = nil
    ) throws -> Gradients {
        guard let firstSeed = seeds.first else { throw AutodiffError.noSeeds }
        let batch = firstSeed.1.shape.first ?? 0
        var pending = [Tensor?](repeating: nil, count: entries.count)
        var start = 0
        for (variable, cotangent) in seeds {
            let expected = [batch] + variable.shape
            guard cotangent.shape == expected else {
                throw AutodiffError.seedShape(variable: entries[variable.id].name, expected: expected, got: cotangent.shape)
            }
            try accumulate(cotangent, into: &pending[variable.id])
            start = max(start, variable.id)
        }
        var kept = [Int: Tensor]()
        for id in stride(from: start, through: 0, by: -1) {
            guard let upstream = pending[id] else { continue }
            pending[id] = nil
            let entry = entries[id]
            try visit?(Variable(tape: self, id: id), upstream)
            if keep == nil || keep!.contains(id) { kept[id] = upstream }
            if let parameter = entry.parameter {
                let total = try upstream.sumToShape(entry.value.shape)
                if parameter.gradient == nil { parameter.gradient = total } else { try parameter.gradient!.add(total) }
            }
            guard let pullback = entry.pullback else { continue }
            let needed = entry.inputs.map { entries[$0].requiresGradient }
            let results = try pullback(upstream, needed)
            for (slot, input) in entry.inputs.enumerated() where needed[slot] {
                guard let cotangent = results[slot] else { continue }
                let expected = [batch] + entries[input].value.shape
                guard cotangent.shape == expected else {
                    throw AutodiffError.pullbackShape(op: entry.name, expected: expected, got: cotangent.shape)
                }
                try accumulate(cotangent, into: &pending[input])
            }
        }
        return Gradients(batch: batch, storage: kept)
    }

    /// The gradient of a scalar `loss` with respect to `variables` (shapes as the variables).
    /// Parameters reached also accumulate their gradients.
    public func gradients(of loss: Variable, with variables: [Variable] = []) throws -> [Tensor] {
        let seed = try Tensor(repeating: 1, shape: [1] + loss.shape)
        let result = try backward(seeds: [(loss, seed)], keep: Set(variables.map(\.id)))
        return try variables.map { variable in
            try (result[variable] ?? Tensor(zeros: [1] + variable.shape)).reshaped(variable.shape)
        }
    }

    private func accumulate(_ cotangent: Tensor, into slot: inout Tensor?) throws {
        if slot == nil { slot = cotangent } else { try slot!.add(cotangent) }
    }
}
