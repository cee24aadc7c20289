// GGUF metadata values and typed look-ups that name the key when they fail.

/// One metadata value.
public enum GGUFValue: Sendable, Equatable {
    case uint(UInt64, bits: Int)
    case int(Int64, bits: Int)
    case float(Double, bits: Int)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    /// The value as an integer, if it is one (or a float with an integral value).
    public var intValue: Int? {
        switch self {
        case let .uint(v, _): Int(exactly: v)
        case let .int(v, _): Int(exactly: v)
        case let .float(v, _): v.rounded() == v ? Int(exactly: v) : nil
        default: nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case let .uint(v, _): Double(v)
        case let .int(v, _): Double(v)
        case let .float(v, _): v
        default: nil
        }
    }

    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    public var arrayValue: [GGUFValue]? {
        if case let .array(a) = self { return a }
        return nil
    }

    /// A short rendering for `model info`.
    public var summary: String {
        switch self {
        case let .uint(v, _): "\(v)"
        case let .int(v, _): "\(v)"
        case let .float(v, _): "\(v)"
        case let .bool(b): "\(b)"
        case let .string(s): s.count > 60 ? "\"\(s.prefix(57))…\" (\(s.count) characters)" : "\"\(s)\""
        case let .array(a): "[\(a.count) values]"
        }
    }
}

/// The metadata of one GGUF file.
public struct GGUFMetadata: Sendable {
    public let file: String
    public let values: [String: GGUFValue]
    /// Keys in file order.
    public let keys: [String]

    public subscript(_ key: String) -> GGUFValue? { values[key] }

    public func int(_ key: String) throws -> Int {
        guard let value = values[key] else { throw ModelIOError.missingKey(file: file, key: key) }
        guard let v = value.intValue else { throw ModelIOError.wrongKeyType(file: file, key: key, expected: "an integer") }
        return v
    }

    public func double(_ key: String) throws -> Double {
        guard let value = values[key] else { throw ModelIOError.missingKey(file: file, key: key) }
        guard let v = value.doubleValue else { throw ModelIOError.wrongKeyType(file: file, key: key, expected: "a number") }
        return v
    }

    public func string(_ key: String) throws -> String {
        guard let value = values[key] else { throw ModelIOError.missingKey(file: file, key: key) }
        guard let v = value.stringValue else { throw ModelIOError.wrongKeyType(file: file, key: key, expected: "a string") }
        return v
    }

    public func bool(_ key: String) throws -> Bool {
        guard let value = values[key] else { throw ModelIOError.missingKey(file: file, key: key) }
        guard let v = value.boolValue else { throw ModelIOError.wrongKeyType(file: file, key: key, expected: "a boolean") }
        return v
    }

    public func strings(_ key: String) throws -> [String] {
        guard let value = values[key] else { throw ModelIOError.missingKey(file: file, key: key) }
        guard let array = value.arrayValue else { throw ModelIOError.wrongKeyType(file: file, key: key, expected: "an array of strings") }
        return try array.map {
            guard let s = $0.stringValue else { throw ModelIOError.wrongKeyType(file: file, key: key, expected: "an array of strings") }
            return s
        }
    }

    public func ints(_ key: String) throws -> [Int] {
        guard let value = values[key] else { throw ModelIOError.missingKey(file: file, key: key) }
        guard let array = value.arrayValue else { throw ModelIOError.wrongKeyType(file: file, key: key, expected: "an array of integers") }
        return try array.map {
            guard let v = $0.intValue else { throw ModelIOError.wrongKeyType(file: file, key: key, expected: "an array of integers") }
            return v
        }
    }
}
