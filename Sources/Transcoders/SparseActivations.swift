// Feature activations of a batch of rows, stored sparsely: row r's active features are
// features[rowStarts[r]..<rowStarts[r + 1]] with the matching values.

public struct SparseActivations: Sendable, Equatable {
    /// Number of rows (positions).
    public let rows: Int
    /// Number of features per row (the transcoder's width f).
    public let width: Int
    /// rows + 1 offsets into `features` and `values`.
    public var rowStarts: [Int]
    public var features: [Int32]
    public var values: [Float]

    public init(rows: Int, width: Int, rowStarts: [Int], features: [Int32], values: [Float]) {
        self.rows = rows
        self.width = width
        self.rowStarts = rowStarts
        self.features = features
        self.values = values
    }

    /// Number of active (row, feature) pairs.
    public var count: Int { features.count }

    /// Active features of one row as (feature, value) pairs.
    public func row(_ r: Int) -> [(feature: Int, value: Float)] {
        (rowStarts[r]..<rowStarts[r + 1]).map { (Int(features[$0]), values[$0]) }
    }

    /// Mean number of active features per row (L0).
    public var meanL0: Double { rows == 0 ? 0 : Double(count) / Double(rows) }
}
