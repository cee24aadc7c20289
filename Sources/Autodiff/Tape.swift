// Autodiff: reverse-mode automatic differentiation over TensorCore.
//
// A `Tape` records a computation as it runs: every op appends an entry holding its value, its
// inputs and its pullback (vector–Jacobian product). Ops are defined with forward and pullback
// side by side (see the Ops+*.swift files), the pullback written as the forward read in reverse.
//
// Batched seeds. Every cotangent on the tape carries a leading batch axis: a cotangent for a
// value of shape S has shape [b] + S. Seeding b output cotangents at once makes one backward
// pass return b rows of a Jacobian; attribution seeds hundreds of rows per pass. Ordinary
// training seeds b = 1.
//
// Constants and stop-gradient. Constants (and `detached()` values) never receive gradients and
// ops whose inputs are all constant record no pullback, so a frozen attention pattern or norm
// scale costs nothing in the backward pass.
//
// Reuse. A recorded tape is never changed by a backward pass: the same forward recording can be
// pulled back many times with different seeds.

import TensorCore

/// The pullback of one op: given the cotangent of its output ([b] + output shape) and which
/// inputs need a gradient, returns one cotangent per input ([b] + input shape) or nil.
public typealias Pullback = (_ upstream: Tensor, _ needed: [Bool]) throws -> [Tensor?]

/// A recorded computation.
public final class Tape {
    struct Entry {
        var value: Tensor
        var inputs: [Int]
        var pullback: Pullback?
        var requiresGradient: Bool
        var parameter: Parameter?
        var name: String
    }

    var entries: [Entry] = []

    public init() {}

    /// Number of recorded values.
    public var count: Int { entries.count }

    /// A value that never receives a gradient.
    public func constant(_ value: Tensor, name: String = "constant") -> Variable {
        append(Entry(value: value, inputs: [], pullback: nil, requiresGradient: false, parameter: nil, name: name))
    }

    /// A leaf whose gradient is wanted (an input of a Jacobian).
    public func input(_ value: Tensor, name: String = "input") -> Variable {
        append(Entry(value: value, inputs: [], pullback: nil, requiresGradient: true, parameter: nil, name: name))
    }

    /// A leaf bound to a trainable parameter: backward passes accumulate into its gradient.
    public func parameter(_ parameter: Parameter) -> Variable {
        append(Entry(value: parameter.value, inputs: [], pullback: nil, requiresGradient: true,
                     parameter: parameter, name: parameter.name))
    }

    /// Records the result of an op. `pullback` is kept only when some input needs a gradient.
    /// A pullback must capture tensors and sizes, never a `Variable`: a variable holds its tape and
    /// the tape holds the pullback, so capturing one would keep the whole tape alive forever.
    public func record(_ value: Tensor, inputs: [Variable], name: String, pullback: @escaping Pullback) -> Variable {
        for input in inputs { precondition(input.tape === self, "\(name): input from another tape") }
        let needsGradient = inputs.contains { entries[$0.id].requiresGradient }
        return append(Entry(value: value, inputs: inputs.map(\.id), pullback: needsGradient ? pullback : nil,
                            requiresGradient: needsGradient, parameter: nil, name: name))
    }

    private func append(_ entry: Entry) -> Variable {
        entries.append(entry)
        return Variable(tape: self, id: entries.count - 1)
    }

    func value(_ id: Int) -> Tensor { entries[id].value }
    func requiresGradient(_ id: Int) -> Bool { entries[id].requiresGradient }
}

/// A value recorded on a tape.
public struct Variable {
    public let tape: Tape
    /// Position on the tape; later values have larger ids.
    public let id: Int

    /// The forward value.
    public var value: Tensor { tape.value(id) }
    /// The forward value's shape.
    public var shape: [Int] { tape.entries[id].value.shape }
    /// True when a backward pass can reach this value from a gradient-carrying leaf.
    public var requiresGradient: Bool { tape.requiresGradient(id) }

    /// The same value as a constant: gradients stop here.
    public func detached() -> Variable {
        tape.constant(value, name: "detached")
    }
}
