// The tape's contract: batched seeds, constants and stop-gradient, parameter accumulation,
// reuse of one recording, partial pullbacks, and Adam.

import Testing
import TensorCore
import Autodiff
import TestSupport

@Suite struct TapeTests {
    @Test func batchedSeedsGiveJacobianRows() throws {
        // y = W x: seeding the b-th unit vector returns row b of W.
        var random = TestRandom(seed: 40)
        let w = random.normal([4, 3]), x = random.normal([1, 3])
        let tape = Tape()
        let input = tape.input(x)
        let y = try input.linear(tape.constant(w))                 // [1, 4]
        var seeds = try Tensor(zeros: [4, 1, 4])
        for b in 0..<4 { seeds.scalars[b * 4 + b] = 1 }
        let jacobian = try tape.backward(seeds: [(y, seeds)])[input]!
        assertClose(try jacobian.reshaped([4, 3]), w, rtol: 0, atol: 1e-7)
    }

    @Test func constantsAndDetachedValuesGetNoGradient() throws {
        let tape = Tape()
        let x = tape.input(Tensor([1, 2, 3]))
        let frozen = x.detached()
        let c = tape.constant(Tensor([4, 5, 6]))
        let y = try (x * c) + (frozen * frozen)
        let g = try tape.backward(seeds: [(y, try Tensor(repeating: 1, shape: [1, 3]))])
        #expect(g[x] == (try Tensor(shape: [1, 3], scalars: [4, 5, 6])))  // nothing through `frozen`
        #expect(g[c] == nil)
        #expect(!c.requiresGradient && !frozen.requiresGradient && y.requiresGradient)
    }

    @Test func oneRecordingServesManyBackwardPassesAndParametersAccumulate() throws {
        let p = Parameter(Tensor([2, -1]), name: "p")
        let tape = Tape()
        let loss = try tape.parameter(p).squared().sumAll()          // Σ p²
        for _ in 0..<3 { try tape.backward(seeds: [(loss, Tensor(repeating: 1, shape: [1]))]) }
        #expect(p.gradient == Tensor([12, -6]))                      // 3 × 2p
        p.zeroGradient()
        #expect(p.gradient == nil)
    }

    @Test func seedsAtSeveralValuesAndPartialPullbacks() throws {
        let tape = Tape()
        let x = tape.input(Tensor([1, 2]))
        let h = x.scaled(by: 3)            // h = 3x
        let y = h.scaled(by: 2)            // y = 6x
        // Seeds at y and at h: x gets 6·1 + 3·1.
        var visited = [Int]()
        let g = try tape.backward(
            seeds: [(y, try Tensor(repeating: 1, shape: [1, 2])), (h, try Tensor(repeating: 1, shape: [1, 2]))],
            keep: [x.id], visit: { v, _ in visited.append(v.id) })
        #expect(g[x] == (try Tensor(shape: [1, 2], scalars: [9, 9])))
        #expect(g[h] == nil)                                          // not kept
        #expect(visited == [y.id, h.id, x.id])
        // Seeding only h never touches y.
        var touched = Set<Int>()
        try tape.backward(seeds: [(h, try Tensor(repeating: 1, shape: [1, 2]))], visit: { v, _ in touched.insert(v.id) })
        #expect(!touched.contains(y.id))
    }

    @Test func badSeedsAreTypedErrors() throws {
        let tape = Tape()
        let x = tape.input(Tensor([1, 2]))
        #expect(throws: AutodiffError.noSeeds) { try tape.backward(seeds: []) }
        #expect(throws: AutodiffError.seedShape(variable: "input", expected: [1, 2], got: [1, 3])) {
            try tape.backward(seeds: [(x, try Tensor(zeros: [1, 3]))])
        }
    }

    @Test func adamFirstStepAndConvergence() throws {
        // The first Adam step moves each weight by lr · sign(gradient) (bias-corrected moments).
        let p = Parameter(Tensor([1, -2, 3]), name: "w")
        let adam = Adam(learningRate: 0.1)
        let tape = Tape()
        _ = try tape.gradients(of: tape.parameter(p).squared().sumAll())
        adam.step([p])
        assertClose(p.value, Tensor([0.9, -1.9, 2.9]), rtol: 0, atol: 1e-6)
        // Fitting a linear map by gradient descent reaches the true weights.
        var random = TestRandom(seed: 41)
        let truth = random.normal([2, 3]), inputs = random.normal([32, 3])
        let targets = try Tensor.matmul(inputs, truth, transposeB: true)
        let w = Parameter(try Tensor(zeros: [2, 3]), name: "fit")
        let optimiser = Adam(learningRate: 0.05)
        for _ in 0..<400 {
            let t = Tape()
            _ = try t.gradients(of: try t.constant(inputs).linear(t.parameter(w)).meanSquaredError(targets))
            optimiser.step([w])
        }
        assertClose(w.value, truth, rtol: 0, atol: 1e-2)
        #expect(optimiser.stepCount == 400)
    }
}
