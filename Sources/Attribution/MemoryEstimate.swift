// What an attribution run will hold in memory, estimated from the prompt's length before any
// work starts, so a prompt too long for the machine is refused at once with the numbers instead
// of running for many minutes and failing (or swapping) late. The two large parts:
//   - the frozen attention patterns: layers × heads × n² floats;
//   - the feature rows kept for the influence ranking: (rows) × (columns) floats, where columns
//     are every active feature, error and token and rows are the budget (or every active feature)
//     plus the logits; then the square adjacency over the chosen nodes;
//   - what the active features write (a·W_dec rows): one [d] vector per feature and layer it
//     writes to — one for per-layer transcoders, (L + 1)/2 on average across layers.
// Active features are estimated at 16 per token and layer, below what SmolLM2's default
// transcoders show (about 22), so a prompt that fits is not refused on a guess.

import Foundation
import LanguageModels

public struct MemoryEstimate: Sendable, Equatable {
    public var patterns: Double
    public var rows: Double
    public var writes: Double = 0
    public var activeFeatures: Int
    public var total: Double { patterns + rows + writes }

    static let featuresPerTokenAndLayer = 16

    public static func of(tokens n: Int, configuration c: ModelConfiguration, options: AttributionOptions, crossLayer: Bool = false) -> MemoryEstimate {
        let active = n * c.layers * featuresPerTokenAndLayer
        let columns = Double(active + n * (c.layers + 1))
        let rows = Double(min(options.maxFeatureNodes ?? active, active) + options.maxLogits)
        let square = pow(Double(min(options.maxFeatureNodes ?? active, active) + n * (c.layers + 1) + options.maxLogits), 2)
        let span = crossLayer ? Double(c.layers + 1) / 2 : 1
        return MemoryEstimate(patterns: 4 * Double(c.layers * c.heads) * Double(n) * Double(n), rows: 4 * (rows * columns + square),
                              writes: 4 * Double(active) * span * Double(c.width), activeFeatures: active)
    }

    /// The memory a run may use: 80% of the machine's physical memory.
    public static var available: Double {
        0.8 * Double(sysconf(Int32(_SC_PHYS_PAGES))) * Double(sysconf(Int32(_SC_PAGESIZE)))
    }
}
