// Every differentiable op against central finite differences, on several shapes, and its batched
// pullback against single pullbacks. Each test prints how many input elements it compared.

import Testing
import TensorCore
import Autodiff
import TestSupport

/// Runs the finite-difference check and the batched-versus-single check for one op.
private func checkOp(
    _ name: String, _ inputs: [Tensor], step: Float = 1e-2,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ function: (Tape, [Variable]) throws -> Variable
) throws {
    let n = try FiniteDifferences.check(inputs, step: step, sourceLocation: sourceLocation, function)
    try FiniteDifferences.checkBatched(inputs, sourceLocation: sourceLocation, function)
    print("finite-difference checks: \(name) \(inputs.map(\.shape)) \(n) elements")
}

/// Distinct values a fixed gap apart, shuffled: ranking cannot change under a small step.
private func separated(_ shape: [Int], gap: Float = 0.1, random: inout TestRandom) -> Tensor {
    var values = (0..<shape.elementCount).map { Float($0) * gap - Float(shape.elementCount) * gap / 2 }
    values.shuffle(using: &random.generator)
    return try! Tensor(shape: shape, scalars: values)
}

@Suite struct ElementwiseGradientTests {
    static let shapePairs: [([Int], [Int])] = [([3, 4], [3, 4]), ([2, 3, 4], [4]), ([3, 4], [3, 1]), ([2, 1, 3], [4, 1])]

    @Test(arguments: shapePairs)
    func arithmetic(_ shapes: ([Int], [Int])) throws {
        var random = TestRandom(seed: 21)
        let a = random.normal(shapes.0), b = random.uniform(shapes.1, 0.5, 1.5)
        try checkOp("add", [a, b]) { _, v in try v[0] + v[1] }
        try checkOp("subtract", [a, b]) { _, v in try v[0] - v[1] }
        try checkOp("multiply", [a, b]) { _, v in try v[0] * v[1] }
        try checkOp("divide", [a, b], step: 1e-3) { _, v in try v[0] / v[1] }
        try checkOp("scale+add scalar", [a]) { _, v in -(v[0].scaled(by: 3).adding(2)) }
    }

    @Test(arguments: [[7], [3, 5], [2, 3, 4]])
    func activations(_ shape: [Int]) throws {
        var random = TestRandom(seed: UInt64(shape.elementCount))
        let x = random.normal(shape, std: 1.5)
        let kinkFree = random.awayFromZero(shape, gap: 0.05)
        try checkOp("relu", [kinkFree]) { _, v in v[0].relu() }
        try checkOp("silu", [x]) { _, v in v[0].silu() }
        try checkOp("sigmoid", [x]) { _, v in v[0].sigmoid() }
        try checkOp("tanh", [x]) { _, v in v[0].tanh() }
        try checkOp("exp", [x], step: 1e-3) { _, v in v[0].exp() }
        try checkOp("square", [x]) { _, v in v[0].squared() }
        try checkOp("gelu", [x]) { _, v in v[0].gelu() }
        try checkOp("geluTanh", [x]) { _, v in v[0].geluTanh() }
    }
}

@Suite struct LinearAlgebraGradientTests {
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func matmulTransposes(_ flags: (Bool, Bool)) throws {
        var random = TestRandom(seed: 22)
        let (m, k, n) = (3, 4, 5)
        let a = random.normal(flags.0 ? [k, m] : [m, k]), b = random.normal(flags.1 ? [n, k] : [k, n])
        try checkOp("matmul", [a, b]) { _, v in try v[0].matmul(v[1], transposeSelf: flags.0, transposeOther: flags.1) }
    }

    @Test func matmulBatchesAndSharedWeights() throws {
        var random = TestRandom(seed: 23)
        try checkOp("matmul batched", [random.normal([2, 3, 4]), random.normal([2, 4, 2])]) { _, v in try v[0].matmul(v[1]) }
        try checkOp("matmul shared right", [random.normal([2, 3, 4]), random.normal([5, 4])]) { _, v in
            try v[0].matmul(v[1], transposeOther: true)
        }
        try checkOp("matmul shared left", [random.normal([3, 4]), random.normal([2, 4, 2])]) { _, v in try v[0].matmul(v[1]) }
        try checkOp("matmul batched transposed", [random.normal([2, 4, 3]), random.normal([2, 2, 4])]) { _, v in
            try v[0].matmul(v[1], transposeSelf: true, transposeOther: true)
        }
    }

    @Test(arguments: [[4, 6], [2, 3, 6]])
    func linearLayer(_ shape: [Int]) throws {
        var random = TestRandom(seed: 24)
        let x = random.normal(shape), w = random.normal([5, 6]), b = random.normal([5])
        try checkOp("linear+bias", [x, w, b]) { _, v in try v[0].linear(v[1], bias: v[2]) }
        try checkOp("linear", [x, w]) { _, v in try v[0].linear(v[1]) }
    }
}

@Suite struct ReductionAndShapeGradientTests {
    @Test(arguments: [[3, 4], [2, 3, 4]])
    func reductions(_ shape: [Int]) throws {
        var random = TestRandom(seed: 25)
        let x = random.normal(shape)
        for axis in 0..<shape.count {
            try checkOp("sum axis \(axis)", [x]) { _, v in try v[0].sum(axis: axis) }
        }
        try checkOp("mean last", [x]) { _, v in try v[0].mean(axis: -1) }
        try checkOp("sumAll", [x]) { _, v in v[0].sumAll() }
        try checkOp("meanAll", [x]) { _, v in v[0].meanAll() }
    }

    @Test func shapeOps() throws {
        var random = TestRandom(seed: 26)
        let x = random.normal([2, 3, 4])
        try checkOp("reshape", [x]) { _, v in try v[0].reshaped([6, 4]) }
        try checkOp("permute", [x]) { _, v in try v[0].permuted([2, 0, 1]) }
        try checkOp("transpose", [x]) { _, v in try v[0].transposed() }
        try checkOp("slice", [x]) { _, v in try v[0].slice(axis: 1, 1..<3) }
        try checkOp("concatenate", [x, random.normal([2, 2, 4])]) { _, v in try Variable.concatenate(v, axis: 1) }
        try checkOp("gatherRows", [random.normal([5, 3])]) { _, v in try v[0].gatherRows([4, 1, 4, 0]) }
    }
}

@Suite struct LayerGradientTests {
    @Test(arguments: [[3, 6], [2, 2, 5]])
    func softmaxes(_ shape: [Int]) throws {
        var random = TestRandom(seed: 27)
        let x = random.normal(shape)
        try checkOp("softmax", [x]) { _, v in try v[0].softmax() }
        try checkOp("logSoftmax", [x]) { _, v in try v[0].logSoftmax() }
        try checkOp("causal softmax", [random.normal([2, 4, 4])]) { _, v in try v[0].causalMasked().softmax() }
    }

    @Test(arguments: [[3, 8], [2, 3, 6]])
    func norms(_ shape: [Int]) throws {
        var random = TestRandom(seed: 28)
        let x = random.normal(shape), w = random.normal([shape.last!]), b = random.normal([shape.last!])
        try checkOp("rmsNorm", [x, w]) { _, v in try v[0].rmsNorm(weight: v[1], epsilon: 1e-5) }
        try checkOp("layerNorm", [x, w, b]) { _, v in try v[0].layerNorm(weight: v[1], bias: v[2], epsilon: 1e-5) }
        let scales = random.uniform([shape.dropLast().elementCount], 0.5, 2)
        try checkOp("frozenRMSNorm", [x]) { _, v in try v[0].frozenRMSNorm(scales: scales, weight: w) }
        let bias = random.normal([x.shape.last!], std: 0.5)
        try checkOp("frozenLayerNorm", [x]) { _, v in try v[0].frozenLayerNorm(scales: scales, weight: w, bias: bias) }
    }

    @Test(arguments: [RotaryStyle.interleaved, .halfSplit])
    func rotary(_ style: RotaryStyle) throws {
        var random = TestRandom(seed: 29)
        let table = RotaryTable(inverseFrequencies: RotaryTable.inverseFrequencies(base: 100, dimension: 4), positions: 16)
        try checkOp("rotary \(style)", [random.normal([3, 2, 6])]) { _, v in try v[0].rotary(table, style: style, startPosition: 2) }
    }

    @Test(arguments: [(4, 1), (4, 2), (6, 3)])
    func attentionMix(_ heads: (Int, Int)) throws {
        var random = TestRandom(seed: 30)
        let (h, g, n, e) = (heads.0, heads.1, 5, 3)
        let values = random.normal([n, g, e]), pattern = random.causalPattern(heads: h, positions: n)
        try checkOp("attend h=\(h) g=\(g)", [values, pattern]) { _, v in try v[0].attend(pattern: v[1]) }
        // With the pattern frozen, only the values are differentiated.
        try checkOp("attend frozen", [values]) { t, v in try v[0].attend(pattern: t.constant(pattern)) }
    }

    @Test func losses() throws {
        var random = TestRandom(seed: 31)
        let x = random.normal([4, 5]), target = random.normal([4, 5])
        try checkOp("meanSquaredError", [x]) { _, v in try v[0].meanSquaredError(target) }
        try checkOp("crossEntropy", [x]) { _, v in try v[0].crossEntropy(targets: [0, 4, 2, 2]) }
    }

    @Test func sparseActivations() throws {
        var random = TestRandom(seed: 32)
        let z = separated([3, 8], random: &random)
        try checkOp("topKActivation", [z]) { _, v in try v[0].topKActivation(3) }
        let threshold = Tensor([0.05, -0.15, 0.25, 0.35, -0.45, 0.55, 0.65, -0.75])   // off the grid
        try checkOp("jumpReLU", [z]) { _, v in try v[0].jumpReLU(threshold: threshold) }
    }
}
