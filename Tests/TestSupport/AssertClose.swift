// Shared test helpers. Every helper takes the caller's source location, so a failure points at
// the test line that asked, not at this file.

import Testing
import TensorCore

/// Tolerances, named once per precision.
public enum Tolerance {
    /// Float32 arithmetic that should agree up to rounding (same algorithm, different order).
    public static let float32 = (rtol: Float(1e-5), atol: Float(1e-6))
    /// Central finite differences of Float32 functions (differences accumulated in Double).
    public static let finiteDifference = (rtol: Float(1e-3), atol: Float(5e-4))
    /// Two different reductions of a large sum (blocked versus sequential).
    public static let accumulation = (rtol: Float(1e-4), atol: Float(1e-5))
}

/// Checks |actual − expected| ≤ atol + rtol·|expected| element-wise and reports the worst element.
public func assertClose(
    _ actual: Tensor, _ expected: Tensor, rtol: Float, atol: Float, _ message: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.shape == expected.shape else {
        Issue.record("\(message) shapes differ: \(actual.shape) vs \(expected.shape)", sourceLocation: sourceLocation)
        return
    }
    var worst = (index: -1, excess: Float(0))
    for i in 0..<actual.count {
        let a = actual.scalars[i], e = expected.scalars[i]
        if a.isNaN != e.isNaN || (a.isInfinite || e.isInfinite) && a != e {
            worst = (i, .infinity)
            break
        }
        if a.isNaN || a.isInfinite { continue }
        let excess = abs(a - e) - (atol + rtol * abs(e))
        if excess > worst.excess { worst = (i, excess) }
    }
    if worst.index >= 0 {
        let i = worst.index
        Issue.record(
            "\(message) not close at flat index \(i) of \(actual.shape): \(actual.scalars[i]) vs \(expected.scalars[i]) (rtol \(rtol), atol \(atol))",
            sourceLocation: sourceLocation)
    }
}

/// Scalar version of `assertClose`.
public func assertClose(
    _ actual: Float, _ expected: Float, rtol: Float, atol: Float, _ message: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    assertClose(Tensor(scalar: actual), Tensor(scalar: expected), rtol: rtol, atol: atol, message, sourceLocation: sourceLocation)
}
