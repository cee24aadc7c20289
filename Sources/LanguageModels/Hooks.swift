// Reading and replacing activations during a forward pass.

import TensorCore

/// A hook sees an activation (shapes in `HookPoint`) and may replace it in place; the
/// replacement must keep the shape.
public typealias Hook = (HookPoint, inout Tensor) throws -> Void

/// Which activations a forward pass keeps.
public enum CacheSelection {
    case none
    case all
    case points(Set<HookPoint>)
    case matching((HookPoint) -> Bool)

    func includes(_ point: HookPoint) -> Bool {
        switch self {
        case .none: false
        case .all: true
        case .points(let set): set.contains(point)
        case .matching(let predicate): predicate(point)
        }
    }
}

/// Activations recorded by a forward pass.
public struct ActivationCache: Sendable {
    var storage: [HookPoint: Tensor] = [:]

    public init() {}

    public subscript(_ point: HookPoint) -> Tensor? {
        get { storage[point] }
        set { storage[point] = newValue }
    }

    /// The recorded points in forward order.
    public var points: [HookPoint] { storage.keys.sorted() }
}

/// Common hooks.
public enum Hooks {
    /// Replaces the activation with the same point's value from another run (all positions, or
    /// only `positions`). The other run must have the same batch size and length.
    public static func patch(from cache: ActivationCache, positions: [Int]? = nil) -> Hook {
        { point, value in
            guard let source = cache[point] else { return }
            guard source.shape == value.shape else {
                throw LanguageModelError.hookShape(hook: point.description, expected: value.shape, found: source.shape)
            }
            guard let positions else { value = source; return }
            try value.replacePositions(positions, from: source, point: point)
        }
    }

    /// Sets the activation to zero (at all positions, or only `positions`).
    public static func zeroAblate(positions: [Int]? = nil) -> Hook {
        { point, value in
            let zeros = try Tensor(zeros: value.shape)
            guard let positions else { value = zeros; return }
            try value.replacePositions(positions, from: zeros, point: point)
        }
    }

    /// Adds `scale · vector` ([d]) to a residual-stream activation (at all positions, or only `positions`).
    public static func steer(vector: Tensor, scale: Float = 1, positions: [Int]? = nil) -> Hook {
        { point, value in
            guard value.rank == 3, vector.shape == [value.shape[2]] else {
                throw LanguageModelError.hookShape(hook: point.description, expected: [value.shape.last ?? 0], found: vector.shape)
            }
            let (b, n, d) = (value.shape[0], value.shape[1], value.shape[2])
            let selected = positions ?? Array(0..<n)
            for p in selected where p < 0 || p >= n { throw LanguageModelError.invalidPosition(position: p, length: n) }
            for j in 0..<b {
                for p in selected {
                    for i in 0..<d { value.scalars[(j * n + p) * d + i] += scale * vector.scalars[i] }
                }
            }
        }
    }

    /// Observes the activation without changing it.
    public static func read(_ body: @escaping (HookPoint, Tensor) -> Void) -> Hook {
        { point, value in body(point, value) }
    }
}

extension Tensor {
    /// Copies positions (axis 1 of [b, n, ...]; axis 2 for attention patterns' query axis) from `source`.
    mutating func replacePositions(_ positions: [Int], from source: Tensor, point: HookPoint) throws {
        let axis: Int
        if case .attnPattern = point { axis = 2 } else { axis = 1 }
        guard rank > axis else { return }
        let n = shape[axis]
        let inner = shape[(axis + 1)...].reduce(1, *)
        let outer = shape[..<axis].reduce(1, *)
        for p in positions where p < 0 || p >= n { throw LanguageModelError.invalidPosition(position: p, length: n) }
        for o in 0..<outer {
            for p in positions {
                let base = (o * n + p) * inner
                for i in 0..<inner { scalars[base + i] = source.scalars[base + i] }
            }
        }
    }
}
