// L2-regularised logistic regression, fitted to convergence by L-BFGS in double precision:
// the objective scikit-learn's LogisticRegression minimises (penalty "l2", intercept not
// penalised), so that the two give the same classifier on the same data.
//
//   two classes (y ∈ {−1, +1}, one weight vector):   ½‖w‖² + C Σ_i log(1 + exp(−y_i (w·x_i + b)))
//   k > 2 classes (multinomial, one row per class):  ½‖W‖² + C Σ_i (logsumexp(z_i) − z_i[y_i]),
//                                                     z_i = W x_i + b
// Features are standardised first (mean 0, variance 1 over the training rows; constant features
// left at 0), as a StandardScaler before the regression would.

import CBLAS
import Foundation

public struct LogisticRegression: Codable, Sendable {
    /// Classes 0..<classes.
    public var classes: Int
    public var width: Int
    /// Standardisation of the inputs: x' = (x − mean) / scale.
    public var mean: [Double]
    public var scale: [Double]
    /// [1, width] for two classes (the log-odds of class 1), else [classes, width], row-major.
    public var weights: [Double]
    public var intercepts: [Double]
    /// Iterations L-BFGS took and whether it met the tolerance.
    public var iterations: Int
    public var converged: Bool

    var rows: Int { classes == 2 ? 1 : classes }

    /// Fits rows `x` ([n, width], row-major) with labels in 0..<classes.
    public static func fit(_ x: [Float], rows n: Int, width d: Int, labels: [Int], classes: Int, c: Double = 1,
                           maxIterations: Int = 1000, tolerance: Double = 1e-6) throws -> LogisticRegression {
        guard n > 0, d > 0, x.count == n * d, labels.count == n else { throw AnalysisError.invalid("a probe needs rows of equal width and one label each") }
        guard classes >= 2 else { throw AnalysisError.invalid("a probe needs at least two classes") }
        guard c > 0, c.isFinite else { throw AnalysisError.invalid("the inverse regularisation C must be positive") }
        var mean = [Double](repeating: 0, count: d), scale = [Double](repeating: 0, count: d)
        for r in 0..<n { for j in 0..<d { mean[j] += Double(x[r * d + j]) } }
        for j in 0..<d { mean[j] /= Double(n) }
        for r in 0..<n { for j in 0..<d { let v = Double(x[r * d + j]) - mean[j]; scale[j] += v * v } }
        for j in 0..<d { let s = (scale[j] / Double(n)).squareRoot(); scale[j] = s > 1e-12 ? s : 1 }
        var model = LogisticRegression(classes: classes, width: d, mean: mean, scale: scale, weights: [], intercepts: [], iterations: 0, converged: false)
        let z = model.standardise(x, rows: n)
        let k = model.rows
        let objective = Objective(x: z, n: n, d: d, labels: labels, rows: k, c: c)
        let (solution, iterations, converged) = LBFGS.minimise(count: k * (d + 1), maxIterations: maxIterations, tolerance: tolerance) {
            objective.evaluate($0, gradient: &$1)
        }
        model.weights = Array(solution[0..<(k * d)])
        model.intercepts = Array(solution[(k * d)...])
        model.iterations = iterations
        model.converged = converged
        return model
    }

    func standardise(_ x: [Float], rows n: Int) -> [Double] {
        var z = [Double](repeating: 0, count: n * width)
        for r in 0..<n { for j in 0..<width { z[r * width + j] = (Double(x[r * width + j]) - mean[j]) / scale[j] } }
        return z
    }

    /// Class probabilities [n, classes] of rows x.
    public func probabilities(_ x: [Float], rows n: Int) throws -> [[Double]] {
        guard x.count == n * width else { throw AnalysisError.invalid("the probe reads rows of width \(width), not \(n > 0 ? x.count / n : 0)") }
        let z = standardise(x, rows: n)
        let k = rows
        var scores = [Double](repeating: 0, count: n * k)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(k), Int32(width), 1, z, Int32(width), weights, Int32(width), 0, &scores, Int32(k))
        return (0..<n).map { r in
            if classes == 2 {
                let p = 1 / (1 + Foundation.exp(-(scores[r] + intercepts[0])))
                return [1 - p, p]
            }
            let s = (0..<k).map { scores[r * k + $0] + intercepts[$0] }
            let top = s.max()!
            let e = s.map { Foundation.exp($0 - top) }
            let total = e.reduce(0, +)
            return e.map { $0 / total }
        }
    }

    /// The most probable class of each row.
    public func predict(_ x: [Float], rows n: Int) throws -> [Int] {
        try probabilities(x, rows: n).map { p in p.indices.max { p[$0] < p[$1] }! }
    }
}

/// The objective and its gradient over parameters [W (rows·d) | b (rows)].
private struct Objective {
    let x: [Double]
    let n: Int, d: Int
    let labels: [Int]
    let rows: Int
    let c: Double

    func evaluate(_ theta: [Double], gradient g: inout [Double]) -> Double {
        let k = rows
        var scores = [Double](repeating: 0, count: n * k)
        theta.withUnsafeBufferPointer { t in
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(k), Int32(d), 1, x, Int32(d), t.baseAddress!, Int32(d), 0, &scores, Int32(k))
        }
        var loss = 0.0
        // residual[i, r]: ∂(data term)/∂score, times C.
        var residual = [Double](repeating: 0, count: n * k)
        for i in 0..<n {
            if k == 1 {
                let y: Double = labels[i] == 1 ? 1 : -1
                let m = y * (scores[i] + theta[d])
                // log(1 + exp(−m)), stably
                loss += m > 0 ? Foundation.log1p(Foundation.exp(-m)) : -m + Foundation.log1p(Foundation.exp(m))
                residual[i] = -c * y / (1 + Foundation.exp(m))
            } else {
                var top = -Double.infinity
                for r in 0..<k { scores[i * k + r] += theta[k * d + r]; top = max(top, scores[i * k + r]) }
                var total = 0.0
                for r in 0..<k { total += Foundation.exp(scores[i * k + r] - top) }
                loss += top + Foundation.log(total) - scores[i * k + labels[i]]
                for r in 0..<k { residual[i * k + r] = c * (Foundation.exp(scores[i * k + r] - top) / total - (labels[i] == r ? 1 : 0)) }
            }
        }
        var penalty = 0.0
        for j in 0..<(k * d) { penalty += theta[j] * theta[j] }
        // ∂/∂W = W + residualᵀ · X ; ∂/∂b = Σ_i residual
        for j in 0..<(k * d) { g[j] = theta[j] }
        g.withUnsafeMutableBufferPointer { gw in
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(d), Int32(n), 1, residual, Int32(k), x, Int32(d), 1, gw.baseAddress!, Int32(d))
        }
        for r in 0..<k {
            var s = 0.0
            for i in 0..<n { s += residual[i * k + r] }
            g[k * d + r] = s
        }
        return 0.5 * penalty + c * loss
    }
}

/// Limited-memory BFGS with a backtracking (Armijo) line search.
enum LBFGS {
    /// Minimises f from 0; stops when the largest gradient entry is below `tolerance` times
    /// max(1, |f|) or after `maxIterations`.
    static func minimise(count: Int, maxIterations: Int, tolerance: Double, memory: Int = 10,
                         _ f: (_ x: [Double], _ gradient: inout [Double]) -> Double) -> ([Double], Int, Bool) {
        var x = [Double](repeating: 0, count: count), g = [Double](repeating: 0, count: count)
        var value = f(x, &g)
        var s = [[Double]](), y = [[Double]](), rho = [Double]()
        func dot(_ a: [Double], _ b: [Double]) -> Double { cblas_ddot(Int32(a.count), a, 1, b, 1) }
        for iteration in 0..<maxIterations {
            if (g.map(abs).max() ?? 0) <= tolerance * max(1, abs(value)) { return (x, iteration, true) }
            // Two-loop recursion: direction = −H·g.
            var q = g
            var alpha = [Double](repeating: 0, count: s.count)
            for i in stride(from: s.count - 1, through: 0, by: -1) {
                alpha[i] = rho[i] * dot(s[i], q)
                cblas_daxpy(Int32(count), -alpha[i], y[i], 1, &q, 1)
            }
            var gamma = 1.0
            if let lastS = s.last, let lastY = y.last { gamma = dot(lastS, lastY) / max(dot(lastY, lastY), 1e-300) }
            else { gamma = 1 / max(g.map(abs).reduce(0, +), 1) }
            for i in 0..<q.count { q[i] *= gamma }
            for i in 0..<s.count {
                let beta = rho[i] * dot(y[i], q)
                cblas_daxpy(Int32(count), alpha[i] - beta, s[i], 1, &q, 1)
            }
            var direction = q.map { -$0 }
            var slope = dot(g, direction)
            if slope >= 0 {   // not a descent direction: restart from steepest descent
                s.removeAll(); y.removeAll(); rho.removeAll()
                direction = g.map { -$0 / max(g.map(abs).reduce(0, +), 1) }
                slope = dot(g, direction)
            }
            var step = 1.0, next = x, nextG = g, nextValue = value
            var accepted = false
            for _ in 0..<60 {
                for i in 0..<count { next[i] = x[i] + step * direction[i] }
                nextValue = f(next, &nextG)
                if nextValue <= value + 1e-4 * step * slope { accepted = true; break }
                step *= 0.5
            }
            guard accepted else { return (x, iteration, false) }
            let sk = zip(next, x).map { $0 - $1 }, yk = zip(nextG, g).map { $0 - $1 }
            let sy = dot(sk, yk)
            if sy > 1e-12 {
                s.append(sk); y.append(yk); rho.append(1 / sy)
                if s.count > memory { s.removeFirst(); y.removeFirst(); rho.removeFirst() }
            }
            let change = abs(value - nextValue)
            (x, g, value) = (next, nextG, nextValue)
            if change <= 1e-15 * max(1, abs(value)) { return (x, iteration + 1, (g.map(abs).max() ?? 0) <= tolerance * max(1, abs(value)) * 100) }
        }
        return (x, maxIterations, false)
    }
}
