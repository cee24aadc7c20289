import Foundation
import Testing
import TensorCore
import TestSupport

@Suite struct ActivationTests {
    @Test func fastExpIsWithinTwoUlpOfExpf() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            let expected = Foundation.exp(x)
            let ulps = abs(fastExp(x) - expected) / expected.ulp
            worst = max(worst, ulps)
            x += 0.0137
        }
        #expect(worst <= 2, "worst error \(worst) ulp")
        #expect(fastExp(-100) == 0)
        #expect(fastExp(100) == .infinity)
        #expect(fastExp(0) == 1)
    }

    @Test func activationsMatchDoubleFormulas() {
        let xs = stride(from: -8.0, through: 8.0, by: 0.173).map { Float($0) }
        let t = Tensor(xs)
        let silu = t.silu(), gelu = t.gelu(), geluTanh = t.geluTanh(), sigmoid = t.sigmoid(), tanh = t.tanh()
        for (i, x) in xs.enumerated() {
            let d = Double(x)
            assertClose(silu.scalars[i], Float(d / (1 + Foundation.exp(-d))), rtol: 1e-5, atol: 1e-6)
            assertClose(gelu.scalars[i], Float(0.5 * d * (1 + Foundation.erf(d / 2.0.squareRoot()))), rtol: 1e-5, atol: 2e-6)
            let u = (2 / Double.pi).squareRoot() * (d + 0.044715 * d * d * d)
            assertClose(geluTanh.scalars[i], Float(0.5 * d * (1 + Foundation.tanh(u))), rtol: 1e-5, atol: 1e-6)
            assertClose(sigmoid.scalars[i], Float(1 / (1 + Foundation.exp(-d))), rtol: 1e-5, atol: 1e-7)
            assertClose(tanh.scalars[i], Float(Foundation.tanh(d)), rtol: 1e-5, atol: 1e-6)
        }
    }

    @Test func jumpReLUUsesPerFeatureThresholds() throws {
        let x = try Tensor(shape: [2, 3], scalars: [0.5, 0.5, 0.5, 2, -1, 0.1])
        let y = try x.jumpReLU(threshold: Tensor([0.4, 0.6, 0]))
        #expect(y == (try Tensor(shape: [2, 3], scalars: [0.5, 0, 0.5, 2, 0, 0.1])))
        #expect(throws: TensorError.self) { try x.jumpReLU(threshold: Tensor([1, 2])) }
    }
}
