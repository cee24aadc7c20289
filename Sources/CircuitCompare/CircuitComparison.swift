// The comparison of two or more graphs: metrics, shared circuit, unique parts, recurrence.

import GraphStore

public struct CircuitComparison: Sendable {
    public struct Recurrence: Sendable, Equatable {
        public var feature: LayerFeature
        public var graphs: Int
        public var meanInfluence: Double
    }

    public var graphs: [ComparedGraph]
    public var featureIoU: Double
    public var featureIoM: Double
    public var alignedFeatureIoU: Double
    public var alignedFeatureIoM: Double
    public var weightedFeatureIoU: Double
    public var weightedFeatureIoM: Double
    public var weightedAlignedFeatureIoU: Double
    public var weightedAlignedFeatureIoM: Double
    public var edgeIoU: Double
    /// nil when fewer than two features are shared (a rank correlation needs two).
    public var influenceRankCorrelation: Double?
    /// Features in every graph, with each graph's influence.
    public var sharedFeatures: [(feature: LayerFeature, influence: [Double])]
    /// Per graph: features in no other graph.
    public var uniqueFeatures: [[(feature: LayerFeature, influence: Double)]]
    /// Aligned nodes and edges present in every graph.
    public var sharedNodes: Set<AlignedNode>
    public var sharedEdges: Set<AlignedEdge>
    /// For three or more graphs: every feature, in how many graphs it appears, and its mean influence there.
    public var recurrence: [Recurrence]

    /// Compares graphs that come from one model and transcoder set.
    public init(_ graphs: [ComparedGraph]) throws {
        guard graphs.count >= 2 else { throw CompareError.tooFew }
        var seen = Set<Int64>()
        for g in graphs where !seen.insert(g.summary.id).inserted { throw CompareError.repeated(g.summary.slug) }
        let first = graphs[0]
        for g in graphs.dropFirst() {
            if g.modelFingerprint != first.modelFingerprint {
                throw CompareError.incomparable("graphs \"\(first.summary.slug)\" and \"\(g.summary.slug)\" come from different models; their features cannot be matched")
            }
            if g.transcoderFingerprint != first.transcoderFingerprint {
                throw CompareError.incomparable("graphs \"\(first.summary.slug)\" (transcoders \(first.summary.transcoderSet)) and \"\(g.summary.slug)\" (transcoders \(g.summary.transcoderSet)) use different transcoder sets; their features cannot be matched")
            }
        }
        self.graphs = graphs
        (featureIoU, featureIoM) = Self.overlap(graphs.map { Set($0.features.keys) })
        (alignedFeatureIoU, alignedFeatureIoM) = Self.overlap(graphs.map { Set($0.alignedFeatures.keys) })
        (weightedFeatureIoU, weightedFeatureIoM) = Self.weightedOverlap(graphs.map(\.features))
        (weightedAlignedFeatureIoU, weightedAlignedFeatureIoM) = Self.weightedOverlap(graphs.map(\.alignedFeatures))
        edgeIoU = Self.overlap(graphs.map { Set($0.edges.keys) }).iou

        let shared = graphs.dropFirst().reduce(Set(first.features.keys)) { $0.intersection($1.features.keys) }.sorted()
        sharedFeatures = shared.map { key in (key, graphs.map { $0.features[key]! }) }
        uniqueFeatures = graphs.indices.map { i in
            let others = graphs.indices.filter { $0 != i }.reduce(into: Set<LayerFeature>()) { $0.formUnion(graphs[$1].features.keys) }
            return graphs[i].features.filter { !others.contains($0.key) }.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .map { ($0.key, $0.value) }
        }
        var correlations = [Double]()
        if shared.count >= 2 {
            for i in graphs.indices {
                for j in graphs.indices where j > i {
                    if let rho = Self.spearman(shared.map { graphs[i].features[$0]! }, shared.map { graphs[j].features[$0]! }) { correlations.append(rho) }
                }
            }
        }
        influenceRankCorrelation = correlations.isEmpty ? nil : correlations.reduce(0, +) / Double(correlations.count)
        sharedNodes = graphs.dropFirst().reduce(first.nodes) { $0.intersection($1.nodes) }
        sharedEdges = graphs.dropFirst().reduce(Set(first.edges.keys)) { $0.intersection($1.edges.keys) }
        if graphs.count >= 3 {
            var counts = [LayerFeature: (Int, Double)]()
            for g in graphs { for (key, influence) in g.features { counts[key, default: (0, 0)].0 += 1; counts[key]!.1 += influence } }
            recurrence = counts.map { Recurrence(feature: $0.key, graphs: $0.value.0, meanInfluence: $0.value.1 / Double($0.value.0)) }
                .sorted { ($0.graphs, $0.meanInfluence) != ($1.graphs, $1.meanInfluence) ? ($0.graphs, $0.meanInfluence) > ($1.graphs, $1.meanInfluence) : $0.feature < $1.feature }
        } else {
            recurrence = []
        }
    }

    /// Intersection over union and over the smallest set (0 when the sets are all empty).
    static func overlap<T: Hashable>(_ sets: [Set<T>]) -> (iou: Double, iom: Double) {
        let intersection = sets.dropFirst().reduce(sets[0]) { $0.intersection($1) }.count
        let union = sets.reduce(into: Set<T>()) { $0.formUnion($1) }.count
        let smallest = sets.map(\.count).min() ?? 0
        return (union == 0 ? 0 : Double(intersection) / Double(union), smallest == 0 ? 0 : Double(intersection) / Double(smallest))
    }

    /// Influence-weighted overlap of normalised weights: Σ min / Σ max, and Σ min.
    static func weightedOverlap<T: Hashable>(_ weights: [[T: Double]]) -> (iou: Double, iom: Double) {
        let normalised = weights.map { w -> [T: Double] in
            let total = w.values.reduce(0) { $0 + max($1, 0) }
            return total > 0 ? w.mapValues { max($0, 0) / total } : [:]
        }
        let keys = normalised.reduce(into: Set<T>()) { $0.formUnion($1.keys) }
        var minimum = 0.0, maximum = 0.0
        for key in keys {
            let values = normalised.map { $0[key] ?? 0 }
            minimum += values.min()!
            maximum += values.max()!
        }
        return (maximum == 0 ? 0 : minimum / maximum, minimum)
    }

    /// Spearman's rank correlation with average ranks for ties (nil when a side is constant).
    static func spearman(_ x: [Double], _ y: [Double]) -> Double? {
        func ranks(_ v: [Double]) -> [Double] {
            let order = v.indices.sorted { v[$0] < v[$1] }
            var r = [Double](repeating: 0, count: v.count)
            var i = 0
            while i < order.count {
                var j = i
                while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
                for k in i...j { r[order[k]] = Double(i + j) / 2 + 1 }
                i = j + 1
            }
            return r
        }
        let (a, b) = (ranks(x), ranks(y))
        let n = Double(a.count)
        let (ma, mb) = (a.reduce(0, +) / n, b.reduce(0, +) / n)
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for i in a.indices { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) * (a[i] - ma); sbb += (b[i] - mb) * (b[i] - mb) }
        guard saa > 0, sbb > 0 else { return nil }
        return sab / (saa * sbb).squareRoot()
    }
}

extension CircuitComparison {
    /// Loads and compares stored graphs by id or slug.
    public static func compare(_ keys: [String], in store: GraphStore) throws -> CircuitComparison {
        guard keys.count >= 2 else { throw CompareError.tooFew }
        return try CircuitComparison(keys.map { ComparedGraph(try store.graph($0)) })
    }
}
