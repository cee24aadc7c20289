// Running independent pieces of work on every core.
//
// OpenBLAS is configured once, at first use, to run each call on the calling thread; Circuitry
// splits work across cores itself (large products by rows or columns, loops of small products
// by task). Nothing changes process-wide state afterwards, so any number of threads may run
// tensor code at the same time. The number of tasks is the number of active processors, or
// CIRCUITRY_THREADS when set.

import CBLAS
import Dispatch
import Foundation

public enum Parallel {
    /// Number of tasks work is split into.
    public static let width: Int = {
        if let value = ProcessInfo.processInfo.environment["CIRCUITRY_THREADS"], let n = Int(value), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Runs `body(i)` for i in 0..<count, spread over the cores.
    public static func forEach(_ count: Int, _ body: @Sendable (Int) -> Void) {
        guard count > 1, width > 1 else {
            for i in 0..<count { body(i) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }

    /// Splits 0..<count into at most `width` contiguous chunks of at least `minimum` and runs them in parallel.
    public static func forChunks(_ count: Int, minimum: Int = 1, _ body: @Sendable (Range<Int>) -> Void) {
        let chunks = max(1, min(width, count / max(minimum, 1)))
        guard chunks > 1 else {
            if count > 0 { body(0..<count) }
            return
        }
        let size = (count + chunks - 1) / chunks
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let range = (c * size)..<min(count, (c + 1) * size)
            if !range.isEmpty { body(range) }
        }
    }
}

/// A raw address shared with parallel tasks, which only read it or write disjoint parts of it.
/// Valid only inside the `withUnsafe…Pointer` scope that produced it.
public struct SharedPointer: @unchecked Sendable {
    public let floats: UnsafeMutablePointer<Float>
    public init(_ pointer: UnsafeMutablePointer<Float>) { floats = pointer }
    public init(_ pointer: UnsafePointer<Float>) { floats = UnsafeMutablePointer(mutating: pointer) }
    public init(_ buffer: UnsafeBufferPointer<Float>) { floats = UnsafeMutablePointer(mutating: buffer.baseAddress!) }
    public init(_ buffer: UnsafeMutableBufferPointer<Float>) { floats = buffer.baseAddress! }
}
