// Matrix products through OpenBLAS.
//
// `matmul` covers the shapes a transformer needs: [m, k]·[k, n]; a batch of rows against one
// weight ([..., m, k]·[k, n], done as a single product over all rows); and batched products
// ([b, m, k]·[b, k, n], one product per batch entry). Either operand may be transposed.
// OpenBLAS runs single-threaded (see Parallel.swift): a large product is split into row (or
// column) blocks computed on every core, and batch entries run as parallel tasks. `BLAS`
// exposes the raw pointer-level calls for kernels that work on strided sub-matrices.

import CBLAS

/// Raw BLAS calls on row-major memory.
public enum BLAS {
    /// Configures OpenBLAS once: every call runs on its calling thread.
    static let singleThreaded: Void = { openblas_set_num_threads(1) }()

    /// Products below this many multiply-adds are not worth splitting across cores.
    static let splitThreshold = 1 << 21

    /// C = alpha · op(A) · op(B) + beta · C split across cores along the longer side of C, so
    /// each task packs a share of the larger operand and all of the smaller one.
    public static func parallelGemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard Parallel.width > 1, m * n * k >= splitThreshold else {
            gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                 a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        let (pa, pb, pc) = (SharedPointer(a), SharedPointer(b), SharedPointer(c))
        if m >= 1024 && n >= 1024 {
            // Large on both sides: a grid of blocks, so tasks running together share panels.
            let (rowBlocks, columnBlocks) = (Parallel.width, 2)
            let (mb, nb) = ((m + rowBlocks - 1) / rowBlocks, (n + columnBlocks - 1) / columnBlocks)
            Parallel.forEach(rowBlocks * columnBlocks) { task in
                let (r0, c0) = ((task / columnBlocks) * mb, (task % columnBlocks) * nb)
                let (rows, columns) = (min(mb, m - r0), min(nb, n - c0))
                guard rows > 0, columns > 0 else { return }
                let aStart = transposeA ? pa.floats + r0 : pa.floats + r0 * lda
                let bStart = transposeB ? pb.floats + c0 * ldb : pb.floats + c0
                gemm(transposeA: transposeA, transposeB: transposeB, m: rows, n: columns, k: k, alpha: alpha,
                     a: aStart, lda: lda, b: bStart, ldb: ldb, beta: beta, c: pc.floats + r0 * ldc + c0, ldc: ldc)
            }
        } else if m >= n {
            Parallel.forChunks(m, minimum: 8) { rows in
                // Rows of C come from rows of op(A): row i of A, or column i of Aᵀ.
                let aStart = transposeA ? pa.floats + rows.lowerBound : pa.floats + rows.lowerBound * lda
                gemm(transposeA: transposeA, transposeB: transposeB, m: rows.count, n: n, k: k, alpha: alpha,
                     a: aStart, lda: lda, b: pb.floats, ldb: ldb, beta: beta, c: pc.floats + rows.lowerBound * ldc, ldc: ldc)
            }
        } else {
            Parallel.forChunks(n, minimum: 64) { columns in
                let bStart = transposeB ? pb.floats + columns.lowerBound * ldb : pb.floats + columns.lowerBound
                gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: columns.count, k: k, alpha: alpha,
                     a: pa.floats, lda: lda, b: bStart, ldb: ldb, beta: beta, c: pc.floats + columns.lowerBound, ldc: ldc)
            }
        }
    }

    /// C[m, n] = alpha · op(A) · op(B) + beta · C, row-major with leading dimensions, on the
    /// calling thread.
    @inline(__always)
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = singleThreaded
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            // A product over an empty contraction is zero; BLAS may not touch C at all.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        if m == 1 {
            // One row (a last position's logits): a matrix–vector product streams op(B) once,
            // where sgemm would first copy all of it into packed panels.
            let incx = Int32(transposeA ? lda : 1)
            // Some OpenBLAS versions scale y by beta even when it is 0 (NaN · 0 stays NaN).
            if beta == 0 { c.update(repeating: 0, count: n) }
            cblas_sgemv(
                CblasRowMajor, transposeB ? CblasNoTrans : CblasTrans, Int32(transposeB ? n : k), Int32(transposeB ? k : n),
                alpha, b, Int32(ldb), a, incx, beta, c, 1)
            return
        }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y[m] = alpha · op(A) · x + beta · y, with A stored row-major as [rows, cols].
    @inline(__always)
    public static func gemv(
        transpose: Bool, rows: Int, cols: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>
    ) {
        _ = singleThreaded
        guard rows > 0, cols > 0 else { return }
        cblas_sgemv(
            CblasRowMajor, transpose ? CblasTrans : CblasNoTrans, Int32(rows), Int32(cols), alpha, a,
            Int32(lda), x, 1, beta, y, 1)
    }

    /// Dot product of two contiguous vectors.
    @inline(__always)
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        count > 0 ? cblas_sdot(Int32(count), x, 1, y, 1) : 0
    }

    /// OpenBLAS's build and kernel description (for benchmark reports).
    public static var configuration: String {
        let core = String(cString: openblas_get_corename())
        let config = String(cString: openblas_get_config())
        return "\(config) [core \(core)]"
    }
}

extension Tensor {
    /// The matrix product op(a) · op(b) (see the file header for the batch rules).
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) throws -> Tensor {
        let plan = try MatMulPlan(a.shape, b.shape, transposeA: transposeA, transposeB: transposeB)
        var c = Tensor(validShape: plan.outShape) { _ in }
        plan.run(a, b, alpha: 1, beta: 0, into: &c)
        return c
    }

    /// c = alpha · op(a) · op(b) + beta · c, in place; `c` must already have the product's shape.
    public static func gemm(
        _ a: Tensor, transposeA: Bool = false, _ b: Tensor, transposeB: Bool = false,
        alpha: Float = 1, beta: Float = 0, into c: inout Tensor
    ) throws {
        let plan = try MatMulPlan(a.shape, b.shape, transposeA: transposeA, transposeB: transposeB)
        guard c.shape == plan.outShape else {
            throw TensorError.shapeMismatch(op: "gemm output", lhs: c.shape, rhs: plan.outShape)
        }
        plan.run(a, b, alpha: alpha, beta: beta, into: &c)
    }

    /// The matrix–vector product op(a) · x for a rank-2 `a` and rank-1 `x`.
    public static func matvec(_ a: Tensor, _ x: Tensor, transposeA: Bool = false) throws -> Tensor {
        guard a.rank == 2, x.rank == 1, x.count == (transposeA ? a.shape[0] : a.shape[1]) else {
            throw TensorError.shapeMismatch(op: "matvec", lhs: a.shape, rhs: x.shape)
        }
        let outCount = transposeA ? a.shape[1] : a.shape[0]
        return Tensor(validShape: [outCount]) { y in
            if outCount == 0 { return }
            if x.count == 0 { for i in 0..<outCount { y[i] = 0 }; return }
            a.scalars.withUnsafeBufferPointer { pa in
                x.scalars.withUnsafeBufferPointer { px in
                    BLAS.gemv(transpose: transposeA, rows: a.shape[0], cols: a.shape[1], a: pa.baseAddress!,
                              lda: a.shape[1], x: px.baseAddress!, y: y.baseAddress!)
                }
            }
        }
    }
}

/// How a (possibly batched) product maps onto sgemm calls.
struct MatMulPlan {
    var outShape: [Int]
    var batch: Int          // number of sgemm calls
    var m: Int, n: Int, k: Int
    var strideA: Int, strideB: Int  // elements between consecutive batch entries (0: shared)
    var transposeA: Bool, transposeB: Bool

    init(_ sa: [Int], _ sb: [Int], transposeA: Bool, transposeB: Bool) throws {
        guard sa.count >= 2, sb.count >= 2 else {
            throw TensorError.shapeMismatch(op: "matmul (needs rank ≥ 2)", lhs: sa, rhs: sb)
        }
        let (ra, ca) = (sa[sa.count - 2], sa[sa.count - 1])
        let (rb, cb) = (sb[sb.count - 2], sb[sb.count - 1])
        let (m, ka) = transposeA ? (ca, ra) : (ra, ca)
        let (kb, n) = transposeB ? (cb, rb) : (rb, cb)
        guard ka == kb else { throw TensorError.shapeMismatch(op: "matmul", lhs: sa, rhs: sb) }
        self.n = n; self.k = ka
        self.transposeA = transposeA; self.transposeB = transposeB
        let batchA = Array(sa.dropLast(2)), batchB = Array(sb.dropLast(2))
        if batchB.isEmpty && !transposeA {
            // Every row of every batch entry against one weight: a single tall product.
            self.batch = 1
            self.m = batchA.elementCount * m
            self.strideA = 0; self.strideB = 0
            self.outShape = batchA + [m, n]
        } else if batchB.isEmpty || batchA.isEmpty || batchA == batchB {
            let batchShape = batchA.isEmpty ? batchB : batchA
            self.batch = batchShape.elementCount
            self.m = m
            self.strideA = batchA.isEmpty ? 0 : ra * ca
            self.strideB = batchB.isEmpty ? 0 : rb * cb
            self.outShape = batchShape + [m, n]
        } else {
            throw TensorError.shapeMismatch(op: "matmul (batch axes differ)", lhs: sa, rhs: sb)
        }
    }

    func run(_ a: Tensor, _ b: Tensor, alpha: Float, beta: Float, into c: inout Tensor) {
        let lda = a.shape[a.rank - 1], ldb = b.shape[b.rank - 1]
        let (m, n, k) = (self.m, self.n, self.k)
        let (batch, strideA, strideB, tA, tB) = (self.batch, self.strideA, self.strideB, transposeA, transposeB)
        a.scalars.withUnsafeBufferPointer { ba in
            b.scalars.withUnsafeBufferPointer { bb in
                c.scalars.withUnsafeMutableBufferPointer { bc in
                    guard let cBase = bc.baseAddress else { return }
                    guard let aBase = ba.baseAddress, let bBase = bb.baseAddress else {
                        // An operand with no elements: the product is zero (scaled C).
                        for j in 0..<bc.count { bc[j] = beta == 0 ? 0 : beta * bc[j] }
                        return
                    }
                    if batch == 1 {
                        BLAS.parallelGemm(transposeA: tA, transposeB: tB, m: m, n: n, k: k, alpha: alpha,
                                          a: aBase, lda: lda, b: bBase, ldb: ldb, beta: beta, c: cBase, ldc: n)
                        return
                    }
                    let (pa, pb, pc) = (SharedPointer(aBase), SharedPointer(bBase), SharedPointer(cBase))
                    Parallel.forChunks(batch) { entries in
                        for i in entries {
                            BLAS.gemm(transposeA: tA, transposeB: tB, m: m, n: n, k: k, alpha: alpha,
                                      a: pa.floats + i * strideA, lda: lda, b: pb.floats + i * strideB, ldb: ldb,
                                      beta: beta, c: pc.floats + i * m * n, ldc: n)
                        }
                    }
                }
            }
        }
    }
}
