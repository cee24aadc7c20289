// Running independent pieces of work on every core.
//
// OpenBLAS keeps its own thread pool for single large products. Work that is a loop of many
// small products (one per attention head, one per seed) runs faster as independent tasks, each
// calling single-threaded BLAS; `Parallel.forEach` switches OpenBLAS to one thread for the
// duration and restores it afterwards.

import CBLAS
import Dispatch

public enum Parallel {
    /// Number of tasks to split work into (the cores OpenBLAS was started with).
    public static let width: Int = max(1, Int(openblas_get_num_threads()))

    /// Runs `body(i)` for i in 0..<count, spread over the cores.
    public static func forEach(_ count: Int, _ body: @Sendable (Int) -> Void) {
        guard count > 1, width > 1 else {
            for i in 0..<count { body(i) }
            return
        }
        let previous = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(previous) }
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }
}

/// A raw address shared with parallel tasks, which only read it or write disjoint parts of it.
/// Valid only inside the `withUnsafe…Pointer` scope that produced it.
public struct SharedPointer: @unchecked Sendable {
    public let floats: UnsafeMutablePointer<Float>
    public init(_ pointer: UnsafeMutablePointer<Float>) { floats = pointer }
    public init(_ buffer: UnsafeBufferPointer<Float>) { floats = UnsafeMutablePointer(mutating: buffer.baseAddress!) }
    public init(_ buffer: UnsafeMutableBufferPointer<Float>) { floats = buffer.baseAddress! }
}
