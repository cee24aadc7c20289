// Matrix products. For C = op(A)·op(B) the pullbacks are
//   C = A B    : gA = gC Bᵀ     gB = Aᵀ gC
//   C = A Bᵀ   : gA = gC B      gB = gCᵀ A
//   C = Aᵀ B   : gA = B gCᵀ     gB = A gC
//   C = Aᵀ Bᵀ  : gA = Bᵀ gCᵀ    gB = gCᵀ Aᵀ
// with the seed batch handled in one product where the weight is a shared matrix (the common
// case: activations times a weight), and one product per seed row otherwise.

import TensorCore

extension Variable {
    /// op(self) · op(other), with TensorCore's batching rules.
    public func matmul(_ other: Variable, transposeSelf: Bool = false, transposeOther: Bool = false) throws -> Variable {
        let (a, b) = (value, other.value)
        let (tA, tB) = (transposeSelf, transposeOther)
        let c = try Tensor.matmul(a, b, transposeA: tA, transposeB: tB)
        return tape.record(c, inputs: [self, other], name: "matmul") { g, needed in
            let batch = g.shape[0]
            if b.rank == 2 && !tA {
                // Rows of A against one matrix B: every seed row and every A row in one product.
                let gA = needed[0] ? try Tensor.matmul(g, b, transposeB: !tB) : nil
                var gB: Tensor? = nil
                if needed[1] {
                    let rows = a.count / a.shape[a.rank - 1]
                    let a2 = try a.reshaped([rows, a.shape[a.rank - 1]])
                    let g3 = try g.reshaped([batch, rows, c.shape[c.rank - 1]])
                    gB = tB ? try Tensor.matmul(g3, a2, transposeA: true) : try Tensor.matmul(a2, g3, transposeA: true)
                }
                return [gA, gB]
            }
            var gAs = [Tensor](), gBs = [Tensor]()
            for s in 0..<batch {
                let gc = try g.row(s)
                if needed[0] {
                    let full: Tensor
                    switch (tA, tB) {
                    case (false, false): full = try Tensor.matmul(gc, b, transposeB: true)
                    case (false, true): full = try Tensor.matmul(gc, b)
                    case (true, false): full = try Tensor.matmul(b, gc, transposeB: true)
                    case (true, true): full = try Tensor.matmul(b, gc, transposeA: true, transposeB: true)
                    }
                    gAs.append(try full.sumToShape(a.shape))
                }
                if needed[1] {
                    let full: Tensor
                    switch (tA, tB) {
                    case (false, false): full = try Tensor.matmul(a, gc, transposeA: true)
                    case (false, true): full = try Tensor.matmul(gc, a, transposeA: true)
                    case (true, false): full = try Tensor.matmul(a, gc)
                    case (true, true): full = try Tensor.matmul(gc, a, transposeA: true, transposeB: true)
                    }
                    gBs.append(try full.sumToShape(b.shape))
                }
            }
            return [needed[0] ? try Tensor.stack(gAs) : nil, needed[1] ? try Tensor.stack(gBs) : nil]
        }
    }

    /// A fully connected layer: self · weightᵀ + bias, with weight [out, in] (the PyTorch layout
    /// of checkpoints) and bias [out]. `self` is [..., in].
    public func linear(_ weight: Variable, bias: Variable? = nil) throws -> Variable {
        var y = try Tensor.matmul(value, weight.value, transposeB: true)
        let x = value, w = weight.value
        if let bias {
            guard bias.shape == [w.shape[0]] else {
                throw TensorError.shapeMismatch(op: "linear bias", lhs: w.shape, rhs: bias.shape)
            }
            y = try y + bias.value
        }
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        return tape.record(y, inputs: inputs, name: "linear") { g, needed in
            let batch = g.shape[0]
            let (outWidth, inWidth) = (w.shape[0], w.shape[1])
            let rows = x.count / max(inWidth, 1)
            let g3 = try g.reshaped([batch, rows, outWidth])
            let gx = needed[0] ? try Tensor.matmul(g, w) : nil
            // gW[s] = g[s]ᵀ · x  over all rows of x.
            let gw = needed[1] ? try Tensor.matmul(g3, x.reshaped([rows, inWidth]), transposeA: true) : nil
            let gb = needed.count > 2 && needed[2] ? try g3.sum(axis: 1) : nil
            return needed.count > 2 ? [gx, gw, gb] : [gx, gw]
        }
    }
}
