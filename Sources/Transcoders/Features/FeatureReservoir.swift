// Running statistics and the bounded reservoir of strongest contexts for every feature of one
// layer. Flat arrays (feature-major, `capacity` slots per feature) so a scan can checkpoint them
// as tensors.
//
// A sequence offers each feature once, at its largest activation there (the earliest position
// on ties); a feature keeps its `capacity` strongest offers, and an offer must be strictly
// stronger than the weakest kept one to replace it, so earlier sequences win ties.

import TensorCore

final class FeatureReservoir: @unchecked Sendable {
    let features: Int
    let capacity: Int
    /// Tokens before and after the peak shown in a context.
    let before: Int, after: Int
    var window: Int { before + 1 + after }

    var firings: [Int]
    var sums: [Double]
    var maxima: [Float]
    /// Filled slots per feature; slots hold the strongest offers, strongest first.
    var filled: [Int]
    var sequences: [Int]
    var starts: [Int]
    var peaks: [Int]
    var lengths: [Int]
    /// [features · capacity · window] activations of each slot's window (zero-padded).
    var windows: [Float]
    /// Scratch for one sequence: each feature's largest activation and its position (−1: none yet).
    private var bestValue: [Float]
    private var bestPosition: [Int]
    private var touched: [Int] = []

    init(features: Int, capacity: Int, before: Int, after: Int) {
        self.features = features
        self.capacity = capacity
        self.before = before
        self.after = after
        let slots = features * capacity
        firings = Array(repeating: 0, count: features)
        sums = Array(repeating: 0, count: features)
        maxima = Array(repeating: 0, count: features)
        filled = Array(repeating: 0, count: features)
        sequences = Array(repeating: 0, count: slots)
        starts = Array(repeating: 0, count: slots)
        peaks = Array(repeating: 0, count: slots)
        lengths = Array(repeating: 0, count: slots)
        windows = Array(repeating: 0, count: slots * (before + 1 + after))
        bestValue = Array(repeating: 0, count: features)
        bestPosition = Array(repeating: -1, count: features)
    }

    /// Adds one sequence's activations: rows `base ..< base + length` of `a` are its positions
    /// 0 ..< length, of which those from `firstPosition` on count (position 0, BOS, never makes a
    /// feature node).
    func add(sequence: Int, activations a: SparseActivations, base: Int, length: Int, firstPosition: Int = 1) {
        touched.removeAll(keepingCapacity: true)
        for p in firstPosition..<length {
            for s in a.rowStarts[base + p]..<a.rowStarts[base + p + 1] {
                let f = Int(a.features[s]), v = a.values[s]
                firings[f] += 1
                sums[f] += Double(v)
                if v > maxima[f] { maxima[f] = v }
                if bestPosition[f] < 0 { touched.append(f) } else if bestValue[f] >= v { continue }
                bestValue[f] = v
                bestPosition[f] = p
            }
        }
        for f in touched {
            let value = bestValue[f]
            if filled[f] < capacity || value > peakValue(f * capacity + filled[f] - 1) {
                insert(feature: f, value: value, sequence: sequence, position: bestPosition[f], activations: a, base: base, length: length,
                       firstPosition: firstPosition)
            }
            bestPosition[f] = -1
        }
    }

    private func insert(feature f: Int, value: Float, sequence: Int, position: Int, activations a: SparseActivations, base: Int, length: Int,
                        firstPosition: Int) {
        let first = f * capacity
        // The slot it takes: after every kept offer at least as strong.
        var slot = 0
        while slot < filled[f] && peakValue(first + slot) >= value { slot += 1 }
        var i = min(filled[f], capacity - 1)
        while i > slot {
            move(from: first + i - 1, to: first + i)
            i -= 1
        }
        if filled[f] < capacity { filled[f] += 1 }
        let start = max(firstPosition, position - before), end = min(length, position + after + 1)
        let target = first + slot
        sequences[target] = sequence
        starts[target] = start
        peaks[target] = position - start
        lengths[target] = end - start
        let w = target * window
        for j in 0..<window { windows[w + j] = 0 }
        for q in start..<end { windows[w + q - start] = Self.activation(of: f, row: base + q, in: a) }
    }

    /// A kept offer's strength: its window's activation at the peak.
    func peakValue(_ slot: Int) -> Float { windows[slot * window + peaks[slot]] }

    private func move(from source: Int, to target: Int) {
        sequences[target] = sequences[source]
        starts[target] = starts[source]
        peaks[target] = peaks[source]
        lengths[target] = lengths[source]
        for j in 0..<window { windows[target * window + j] = windows[source * window + j] }
    }

    /// A feature's activation in one row (0 when inactive); rows list features in increasing order.
    static func activation(of feature: Int, row: Int, in a: SparseActivations) -> Float {
        var lo = a.rowStarts[row], hi = a.rowStarts[row + 1]
        while lo < hi {
            let mid = (lo + hi) / 2
            let f = Int(a.features[mid])
            if f == feature { return a.values[mid] }
            if f < feature { lo = mid + 1 } else { hi = mid }
        }
        return 0
    }

    /// The kept contexts of a feature, strongest first.
    func contexts(of f: Int) -> [FeatureContext] {
        (0..<filled[f]).map { i in
            let slot = f * capacity + i
            return FeatureContext(sequence: sequences[slot], start: starts[slot],
                                  activations: Array(windows[(slot * window)..<(slot * window + lengths[slot])]), peak: peaks[slot])
        }
    }
}
