// Trainable parameters and the Adam optimiser.

import Foundation
import TensorCore

/// A trainable tensor. Backward passes add into `gradient`; an optimiser step consumes it.
public final class Parameter: @unchecked Sendable {
    public let name: String
    public var value: Tensor
    /// The accumulated gradient (same shape as `value`), or nil when none has arrived.
    public var gradient: Tensor?

    public init(_ value: Tensor, name: String) {
        self.value = value
        self.name = name
    }

    /// Clears the accumulated gradient.
    public func zeroGradient() { gradient = nil }
}

/// Adam (Kingma & Ba, 2015) with optional decoupled weight decay (AdamW).
public final class Adam {
    public var learningRate: Float
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    /// Number of steps taken.
    public private(set) var stepCount: Int = 0

    /// First and second moment estimates, per parameter.
    public struct Moments: Codable, Sendable {
        public var first: [Float]
        public var second: [Float]

        public init(first: [Float], second: [Float]) {
            self.first = first
            self.second = second
        }
    }
    /// Moment estimates by parameter name (a copy; the optimiser updates its own in place).
    public var moments: [String: Moments] { states.mapValues { Moments(first: $0.first, second: $0.second) } }

    /// Moments kept in reference boxes so a step updates them in place (no copy-on-write).
    private final class State {
        var first: [Float]
        var second: [Float]
        init(first: [Float], second: [Float]) { self.first = first; self.second = second }
    }
    private var states: [String: State] = [:]

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    /// Restores moments and step count saved from an earlier run (for resuming training).
    public func restore(moments: [String: Moments], stepCount: Int) {
        states = moments.mapValues { State(first: $0.first, second: $0.second) }
        self.stepCount = stepCount
    }

    /// One update of every parameter that has a gradient; gradients are cleared afterwards.
    /// Parameters are identified by name, so names must be unique.
    public func step(_ parameters: [Parameter]) {
        stepCount += 1
        let correction1 = 1 - Float(Foundation.pow(Double(beta1), Double(stepCount)))
        let correction2 = 1 - Float(Foundation.pow(Double(beta2), Double(stepCount)))
        let stepSize = learningRate / correction1
        let (b1, b2, eps, decay, lr) = (beta1, beta2, epsilon, weightDecay, learningRate)
        let inverseRoot2 = 1 / correction2.squareRoot()
        for parameter in parameters {
            guard let gradient = parameter.gradient else { continue }
            let state: State
            if let existing = states[parameter.name] {
                state = existing
            } else {
                state = State(first: [Float](repeating: 0, count: parameter.value.count),
                              second: [Float](repeating: 0, count: parameter.value.count))
                states[parameter.name] = state
            }
            parameter.value.scalars.withUnsafeMutableBufferPointer { w in
                gradient.scalars.withUnsafeBufferPointer { g in
                    state.first.withUnsafeMutableBufferPointer { m in
                        state.second.withUnsafeMutableBufferPointer { v in
                            for i in 0..<w.count {
                                m[i] = b1 * m[i] + (1 - b1) * g[i]
                                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                                let denominator = v[i].squareRoot() * inverseRoot2 + eps
                                w[i] -= stepSize * m[i] / denominator + lr * decay * w[i]
                            }
                        }
                    }
                }
            }
            parameter.gradient = nil
        }
    }
}
