// Softmax and log-softmax over the last axis.

import TensorCore

extension Variable {
    public func softmax() throws -> Variable {
        let y = try value.softmax()
        return tape.record(y, inputs: [self], name: "softmax") { g, _ in
            // gx = y ⊙ (g − Σ_j g_j y_j)
            let gy = try g * y
            let dot = try gy.sum(axis: -1, keepingAxis: true)
            return [try gy - (dot * y)]
        }
    }

    public func logSoftmax() throws -> Variable {
        let y = try value.logSoftmax()
        return tape.record(y, inputs: [self], name: "logSoftmax") { g, _ in
            // gx = g − softmax(x) · Σ_j g_j
            let total = try g.sum(axis: -1, keepingAxis: true)
            return [try g - (total * y.exp())]
        }
    }
}
