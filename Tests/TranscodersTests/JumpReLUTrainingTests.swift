// JumpReLU training's straight-through pseudo-derivatives, against their formulas: the gradient
// reaches z only where a feature is on, and reaches the thresholds only through rows within ε/2
// of them — −(θ/ε)·g·θ from the activation and −(1/ε)·θ/n per such row from the L0 term.

import Foundation
import Testing
import Autodiff
import TensorCore
@testable import Transcoders
import TestSupport

@Suite struct JumpReLUTrainingTests {
    @Test func pseudoDerivativesFollowTheirFormulas() throws {
        let (n, f, eps): (Int, Int, Float) = (4, 3, 0.2)
        let theta: [Float] = [0.5, 1.0, 2.0]
        let zValues: [Float] = [0.45, 1.05, 3.0,   0.7, 0.95, 1.95,   -1, 1.2, 2.05,   0.55, 0.0, 0.5]
        let tape = Tape()
        let zParameter = Parameter(try Tensor(shape: [n, f], scalars: zValues), name: "z")
        let logT = Parameter(try Tensor(shape: [f], scalars: theta.map { Foundation.log($0) }), name: "logT")
        let z = tape.parameter(zParameter), t = tape.parameter(logT)
        let a = try z.jumpReLU(logThreshold: t, bandwidth: eps)
        // a = z · H(z − θ)
        for r in 0..<n { for i in 0..<f { #expect(a.value.scalars[r * f + i] == (zValues[r * f + i] > theta[i] ? zValues[r * f + i] : 0)) } }
        let weights = try Tensor(shape: [n, f], scalars: (0..<(n * f)).map { Float($0 % 5) - 2 })
        let l0 = try z.jumpReLUL0(logThreshold: t, bandwidth: eps)
        #expect(l0.value.scalars[0] == Float(zValues.enumerated().filter { $0.element > theta[$0.offset % f] }.count) / Float(n))
        let loss = try (a * tape.constant(weights)).sumAll() + l0.scaled(by: 0.5)
        _ = try tape.backward(seeds: [(loss, try Tensor(repeating: 1, shape: [1]))], keep: [])
        for r in 0..<n {
            for i in 0..<f {
                let on: Float = zValues[r * f + i] > theta[i] ? 1 : 0
                #expect(zParameter.gradient!.scalars[r * f + i] == weights.scalars[r * f + i] * on)
            }
        }
        for i in 0..<f {
            var expected: Float = 0
            for r in 0..<n where abs(zValues[r * f + i] - theta[i]) / eps < 0.5 {
                expected += -weights.scalars[r * f + i] * theta[i] * theta[i] / eps - 0.5 * theta[i] / eps / Float(n)
            }
            #expect(abs(logT.gradient!.scalars[i] - expected) < 1e-4, "threshold \(i): \(logT.gradient!.scalars[i]) against \(expected)")
            #expect(expected != 0)
        }
    }
}
