// Checks an op's pullback against central finite differences of its forward.
//
// For a random cotangent c, L(x) = Σ c ⊙ f(x) is accumulated in Double, and for each checked
// input element ∂L/∂x_j ≈ (L(x + h e_j) − L(x − h e_j)) / 2h is compared with the pullback's
// value. Accumulating in Double keeps Float32 rounding of f far below the difference being
// measured, so a wrong pullback (an O(1) error) cannot hide behind rounding.

import Testing
import TensorCore
import Autodiff

public enum FiniteDifferences {
    /// Runs the check and returns how many input elements were compared.
    /// - Parameters:
    ///   - inputs: the op's differentiable inputs.
    ///   - maxElements: at most this many elements per input are checked (chosen evenly).
    @discardableResult
    public static func check(
        _ inputs: [Tensor], step: Float = 1e-2, maxElements: Int = 48,
        rtol: Float = Tolerance.finiteDifference.rtol, atol: Float = Tolerance.finiteDifference.atol,
        seed: UInt64 = 7, sourceLocation: SourceLocation = #_sourceLocation,
        _ function: (Tape, [Variable]) throws -> Variable
    ) throws -> Int {
        var random = TestRandom(seed: seed)
        let tape = Tape()
        let variables = inputs.map { tape.input($0) }
        let output = try function(tape, variables)
        let cotangent = random.normal([1] + output.shape)
        let gradients = try tape.backward(seeds: [(output, cotangent)])

        func objective(_ perturbed: [Tensor]) throws -> Double {
            let t = Tape()
            let y = try function(t, perturbed.map { t.constant($0) }).value
            var total = 0.0
            for i in 0..<y.count { total += Double(cotangent.scalars[i]) * Double(y.scalars[i]) }
            return total
        }

        var checked = 0
        for (slot, input) in inputs.enumerated() {
            let analytic = try gradients[variables[slot]] ?? Tensor(zeros: [1] + input.shape)
            let stride = max(1, input.count / maxElements)
            for j in Swift.stride(from: 0, to: input.count, by: stride) {
                var plus = inputs, minus = inputs
                plus[slot].scalars[j] += step
                minus[slot].scalars[j] -= step
                let numeric = Float((try objective(plus) - objective(minus)) / (2 * Double(step)))
                let value = analytic.scalars[j]
                if abs(value - numeric) > atol + rtol * abs(numeric) {
                    Issue.record("input \(slot) element \(j): pullback \(value), finite difference \(numeric)",
                                 sourceLocation: sourceLocation)
                    return checked
                }
                checked += 1
            }
        }
        return checked
    }

    /// Checks that one backward pass seeded with b cotangents equals b single backward passes.
    public static func checkBatched(
        _ inputs: [Tensor], batch: Int = 3, seed: UInt64 = 11, sourceLocation: SourceLocation = #_sourceLocation,
        _ function: (Tape, [Variable]) throws -> Variable
    ) throws {
        var random = TestRandom(seed: seed)
        let tape = Tape()
        let variables = inputs.map { tape.input($0) }
        let output = try function(tape, variables)
        let seeds = random.normal([batch] + output.shape)
        let batched = try tape.backward(seeds: [(output, seeds)])
        for s in 0..<batch {
            let single = try tape.backward(seeds: [(output, seeds.rows(s..<(s + 1)))])
            for variable in variables {
                guard let all = batched[variable], let one = single[variable] else {
                    Issue.record("no gradient for an input", sourceLocation: sourceLocation)
                    return
                }
                assertClose(try all.rows(s..<(s + 1)), one, rtol: Tolerance.float32.rtol * 10,
                            atol: Tolerance.float32.atol * 10, "seed \(s)", sourceLocation: sourceLocation)
            }
        }
    }
}
