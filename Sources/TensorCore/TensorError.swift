/// Errors thrown by tensor operations. Each names the operation and the shapes involved, so a
/// message reaching a user says what was wrong without a stack trace.
public enum TensorError: Error, Equatable, Sendable {
    /// Two operands whose shapes do not fit together.
    case shapeMismatch(op: String, lhs: [Int], rhs: [Int])
    /// A shape that cannot be used (negative size, wrong rank, too large).
    case invalidShape(op: String, shape: [Int], reason: String)
    /// A value count that does not equal the element count of a shape.
    case countMismatch(op: String, shape: [Int], count: Int)
    /// An axis outside `0..<rank` (negative axes count from the end).
    case axisOutOfRange(op: String, axis: Int, rank: Int)
    /// An index outside `0..<bound`.
    case indexOutOfRange(op: String, index: Int, bound: Int)
    /// An argument outside its valid range.
    case invalidArgument(op: String, reason: String)
}

extension TensorError: CustomStringConvertible {
    public var description: String {
        switch self {
        case let .shapeMismatch(op, lhs, rhs):
            return "\(op): shapes \(lhs) and \(rhs) do not match"
        case let .invalidShape(op, shape, reason):
            return "\(op): invalid shape \(shape): \(reason)"
        case let .countMismatch(op, shape, count):
            return "\(op): \(count) values do not fill shape \(shape) (\(shape.elementCount) elements)"
        case let .axisOutOfRange(op, axis, rank):
            return "\(op): axis \(axis) is out of range for rank \(rank)"
        case let .indexOutOfRange(op, index, bound):
            return "\(op): index \(index) is out of range 0..<\(bound)"
        case let .invalidArgument(op, reason):
            return "\(op): \(reason)"
        }
    }
}
