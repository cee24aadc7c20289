// Element-wise arithmetic with broadcasting. Each op: forward, then its pullback.

import TensorCore

/// Sums a cotangent of shape [b] + broadcastShape back down to [b] + shape.
func unbroadcast(_ cotangent: Tensor, to shape: [Int]) throws -> Tensor {
    let batch = cotangent.shape[0]
    let outShape = Array(cotangent.shape.dropFirst())
    if outShape == shape { return cotangent }
    let padded = [Int](repeating: 1, count: outShape.count - shape.count) + shape
    var result = cotangent
    for (axis, size) in padded.enumerated() where size == 1 && outShape[axis] != 1 {
        result = try result.sum(axis: axis + 1, keepingAxis: true)
    }
    return try result.reshaped([batch] + shape)
}

extension Variable {
    public static func + (a: Variable, b: Variable) throws -> Variable {
        let (sa, sb) = (a.shape, b.shape)
        return a.tape.record(try a.value + b.value, inputs: [a, b], name: "add") { g, needed in
            [needed[0] ? try unbroadcast(g, to: sa) : nil,
             needed[1] ? try unbroadcast(g, to: sb) : nil]
        }
    }

    public static func - (a: Variable, b: Variable) throws -> Variable {
        let (sa, sb) = (a.shape, b.shape)
        return a.tape.record(try a.value - b.value, inputs: [a, b], name: "subtract") { g, needed in
            [needed[0] ? try unbroadcast(g, to: sa) : nil,
             needed[1] ? try unbroadcast(-g, to: sb) : nil]
        }
    }

    public static func * (a: Variable, b: Variable) throws -> Variable {
        let (x, y) = (a.value, b.value)
        return a.tape.record(try x * y, inputs: [a, b], name: "multiply") { g, needed in
            [needed[0] ? try unbroadcast(g * y, to: x.shape) : nil,
             needed[1] ? try unbroadcast(g * x, to: y.shape) : nil]
        }
    }

    public static func / (a: Variable, b: Variable) throws -> Variable {
        let (x, y) = (a.value, b.value)
        return a.tape.record(try x / y, inputs: [a, b], name: "divide") { g, needed in
            // d(x/y)/dx = 1/y;  d(x/y)/dy = −x/y²
            [needed[0] ? try unbroadcast(g / y, to: x.shape) : nil,
             needed[1] ? try unbroadcast(g * (-x / (y * y)), to: y.shape) : nil]
        }
    }

    /// Multiplies by a constant scalar.
    public func scaled(by factor: Float) -> Variable {
        tape.record(value.scaled(by: factor), inputs: [self], name: "scale") { g, _ in [g.scaled(by: factor)] }
    }

    /// Adds a constant scalar.
    public func adding(_ constant: Float) -> Variable {
        tape.record(value.adding(constant), inputs: [self], name: "add scalar") { g, _ in [g] }
    }

    public static prefix func - (a: Variable) -> Variable { a.scaled(by: -1) }
}
