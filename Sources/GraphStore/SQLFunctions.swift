// The parts of compiled queries (CircuitQL) that engines spell differently, declared by each
// backend beside its dialect: the query compiler writes everything else once, and asks these for
// the rest. Each takes SQL text for its operands and gives SQL text back.

/// A column of a JSON row set that compiled queries read (walk rows are bound as one JSON array).
public enum JSONColumnType: Sendable {
    case integer, real, text, flag
}

public struct SQLFunctions: Sendable {
    /// A condition the planner may assume is rarely true (SQLite's likelihood hint).
    public var rarely: @Sendable (_ condition: String) -> String
    /// A condition as a truth value that treats NULL as false.
    public var truth: @Sendable (_ condition: String) -> String
    /// Literal true and false.
    public var trueValue: String
    public var falseValue: String
    /// Exactly one of two conditions.
    public var xor: @Sendable (_ a: String, _ b: String) -> String
    /// Whether text `y` occurs in `x`; whether `x` ends with `y` (y non-empty).
    public var contains: @Sendable (_ x: String, _ y: String) -> String
    public var endsWith: @Sendable (_ x: String, _ y: String) -> String
    /// An aggregate collecting its argument (with any DISTINCT prefix) into a JSON array.
    public var collect: @Sendable (_ argument: String) -> String
    /// The length of a JSON array.
    public var arrayLength: @Sendable (_ array: String) -> String
    /// A JSON array from text that spells one.
    public var json: @Sendable (_ text: String) -> String
    /// A FROM item over the elements of a JSON array of numbers (text), as columns `value` and
    /// `key` (its position), under `alias`.
    public var arrayElements: @Sendable (_ array: String, _ alias: String) -> String
    /// A FROM item over a JSON array of rows (a bound parameter), element k of row `value`.
    public var jsonRows: @Sendable (_ array: String) -> String
    public var jsonRowColumn: @Sendable (_ index: Int, _ type: JSONColumnType) -> String
    /// A number as a real (floating-point) value, as SQLite's avg and round give it.
    public var real: @Sendable (_ x: String) -> String
    /// round(x) and round(x, digits), halves away from zero.
    public var round: @Sendable (_ x: String, _ digits: String?) -> String
    /// A number as printf's "%.4g" shows it, inside " (…)".
    public var weightLabel: @Sendable (_ x: String) -> String
    /// A number as exact text, for JSON.
    public var numberText: @Sendable (_ x: String) -> String
    /// What follows an ORDER BY term so NULLs sort first ascending and last descending, as SQLite does.
    public var nullsOrder: @Sendable (_ descending: Bool) -> String

    public init(rarely: @escaping @Sendable (String) -> String, truth: @escaping @Sendable (String) -> String, trueValue: String, falseValue: String,
                xor: @escaping @Sendable (String, String) -> String, contains: @escaping @Sendable (String, String) -> String,
                endsWith: @escaping @Sendable (String, String) -> String, collect: @escaping @Sendable (String) -> String,
                arrayLength: @escaping @Sendable (String) -> String, json: @escaping @Sendable (String) -> String,
                arrayElements: @escaping @Sendable (String, String) -> String, jsonRows: @escaping @Sendable (String) -> String,
                jsonRowColumn: @escaping @Sendable (Int, JSONColumnType) -> String, real: @escaping @Sendable (String) -> String, round: @escaping @Sendable (String, String?) -> String,
                weightLabel: @escaping @Sendable (String) -> String, numberText: @escaping @Sendable (String) -> String,
                nullsOrder: @escaping @Sendable (Bool) -> String) {
        self.rarely = rarely
        self.truth = truth
        self.trueValue = trueValue
        self.falseValue = falseValue
        self.xor = xor
        self.contains = contains
        self.endsWith = endsWith
        self.collect = collect
        self.arrayLength = arrayLength
        self.json = json
        self.arrayElements = arrayElements
        self.jsonRows = jsonRows
        self.jsonRowColumn = jsonRowColumn
        self.real = real
        self.round = round
        self.weightLabel = weightLabel
        self.numberText = numberText
        self.nullsOrder = nullsOrder
    }

    /// SQLite's spellings (JSON1, printf, likelihood).
    public static let sqlite = SQLFunctions(
        rarely: { "likelihood(\($0), 0.05)" },
        truth: { "coalesce((\($0)), 0) <> 0" },
        trueValue: "1", falseValue: "0",
        xor: { "((\($0) <> 0) <> (\($1) <> 0))" },
        contains: { "(instr(\($0), \($1)) > 0)" },
        endsWith: { "(substr(\($0), -length(\($1))) = \($1))" },
        collect: { "json_group_array(\($0))" },
        arrayLength: { "json_array_length(\($0))" },
        json: { "json(\($0))" },
        arrayElements: { "json_each(\($0)) \($1)" },
        jsonRows: { "json_each(\($0))" },
        jsonRowColumn: { i, _ in "value ->> \(i)" },
        real: { $0 },
        round: { x, digits in "round(\(x)\(digits.map { ", " + $0 } ?? ""))" },
        weightLabel: { "printf(' (%.4g)', \($0))" },
        numberText: { "CAST(\($0) AS TEXT)" },
        nullsOrder: { _ in "" })
}
