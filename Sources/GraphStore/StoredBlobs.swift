// The store's own encodings of what a graph row keeps as JSON: node facts (`nodes_blob`),
// provenance with the trace's options (`provenance`) and timings (`timings`). Each is written with
// an explicit `version` and explicit keys, and read field by field, so that a field added later
// (read with a default when absent) leaves every stored graph readable, and a blob from a newer
// Circuitry is refused by name instead of misread. Nothing here relies on the synthesised
// `Codable` of Attribution's types, which changes whenever they do.
//
// Versions:
//   0  (no `version` key) — written before blobs were versioned: the same keys, features and
//      attribution targets in the synthesised shapes ({"layer":…,"position":…} and
//      {"token":{"_0":…}}).
//   1  features as [layer, position, feature, activation]; targets as {"kind":…}.

import Attribution
import Foundation

enum StoredBlobs {
    /// The newest version this build writes and reads.
    static let version = 1

    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(value)
    }

    static func encodeText<T: Encodable>(_ value: T) throws -> String { String(decoding: try encode(value), as: UTF8.self) }

    /// The blobs of graph `graph` (named in errors), each read in whichever version wrote it.
    static func facts(_ data: Data, graph: String = "?") throws -> NodeFacts {
        try read("node facts", of: graph) { try JSONDecoder().decode(NodeFacts.self, from: data) }
    }

    static func provenance(_ text: String, graph: String = "?") throws -> GraphProvenance {
        try read("provenance", of: graph) { try JSONDecoder().decode(StoredProvenance.self, from: Data(text.utf8)).provenance }
    }

    static func timings(_ text: String, graph: String = "?") throws -> AttributionTimings {
        try read("timings", of: graph) { try JSONDecoder().decode(StoredTimings.self, from: Data(text.utf8)).timings }
    }

    static func provenanceText(_ p: GraphProvenance) throws -> String { try encodeText(StoredProvenance(provenance: p)) }
    static func timingsText(_ t: AttributionTimings) throws -> String { try encodeText(StoredTimings(timings: t)) }

    /// The version a blob declares, refused when it is newer than this build's.
    static func version<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K, what: String) throws -> Int {
        let v = try c.decodeIfPresent(Int.self, forKey: key) ?? 0
        guard (0...version).contains(v) else {
            throw GraphStoreError.invalidBlob(graph: "?", reason: "\(what): format version \(v), written by a newer Circuitry (this one reads versions up to \(version)); upgrade to read it")
        }
        return v
    }
}

/// Keys by name, for containers read field by field.
struct BlobKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension KeyedDecodingContainer where K == BlobKey {
    func need<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T { try decode(T.self, forKey: BlobKey(key)) }
    func maybe<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T? { try decodeIfPresent(T.self, forKey: BlobKey(key)) }
}

extension KeyedEncodingContainer where K == BlobKey {
    mutating func put<T: Encodable>(_ value: T, _ key: String) throws { try encode(value, forKey: BlobKey(key)) }
    mutating func putIfPresent<T: Encodable>(_ value: T?, _ key: String) throws { try encodeIfPresent(value, forKey: BlobKey(key)) }
}

// MARK: - node facts

extension NodeFacts: Codable {
    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: BlobKey.self)
        let version = try StoredBlobs.version(c, BlobKey("version"), what: "node facts")
        tokens = try c.need("tokens")
        let l = try c.nestedContainer(keyedBy: BlobKey.self, forKey: BlobKey("layout"))
        layout = NodeLayout(features: try l.need("features"), layers: try l.need("layers"), positions: try l.need("positions"), logits: try l.need("logits"))
        if version == 0 {
            features = try c.need("features", as: [LegacyFeature].self).map(\.feature)
        } else {
            func index(_ x: Float) -> Bool { x >= 0 && x < 16_777_216 && x == x.rounded() }
            features = try c.need("features", as: [[Float]].self).map { (row: [Float]) -> ActiveFeature in
                guard row.count == 4, index(row[0]), index(row[1]), index(row[2]) else {
                    throw GraphStoreError.invalidBlob(graph: "?", reason: "a feature in its node facts is not [layer, position, feature, activation]")
                }
                return ActiveFeature(layer: Int(row[0]), position: Int(row[1]), feature: Int(row[2]), activation: row[3])
            }
        }
        activeFeatureCount = try c.need("activeFeatureCount")
        logits = try c.need("logits", as: [StoredLogit].self).map(\.node)
        influence = try c.need("influence")
        tokenTexts = try c.maybe("tokenTexts") ?? []
        logitTexts = try c.maybe("logitTexts") ?? []
        importedShares = try c.maybe("importedShares")
        importedLabels = try c.maybe("importedLabels")
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: BlobKey.self)
        try c.put(StoredBlobs.version, "version")
        try c.put(tokens, "tokens")
        var l = c.nestedContainer(keyedBy: BlobKey.self, forKey: BlobKey("layout"))
        try l.put(layout.features, "features"); try l.put(layout.layers, "layers")
        try l.put(layout.positions, "positions"); try l.put(layout.logits, "logits")
        // Indices below 2^24 are exact as floats, so a feature is one small array.
        try c.put(features.map { [Float($0.layer), Float($0.position), Float($0.feature), $0.activation] }, "features")
        try c.put(activeFeatureCount, "activeFeatureCount")
        try c.put(logits.map(StoredLogit.init), "logits")
        try c.put(influence, "influence")
        try c.put(tokenTexts, "tokenTexts")
        try c.put(logitTexts, "logitTexts")
        try c.putIfPresent(importedShares, "importedShares")
        try c.putIfPresent(importedLabels, "importedLabels")
    }

    /// A feature as version 0 wrote it.
    private struct LegacyFeature: Decodable {
        let feature: ActiveFeature
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: BlobKey.self)
            feature = ActiveFeature(layer: try c.need("layer"), position: try c.need("position"), feature: try c.need("feature"), activation: try c.need("activation"))
        }
    }
}

/// A logit node, the same in every version so far.
struct StoredLogit: Codable {
    let node: LogitNode
    init(_ node: LogitNode) { self.node = node }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: BlobKey.self)
        node = LogitNode(token: try c.need("token"), probability: try c.need("probability"), demeanedLogit: try c.need("demeanedLogit"),
                         minus: try c.maybe("minus"), direction: try c.maybe("direction"), label: try c.maybe("label"))
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: BlobKey.self)
        try c.put(node.token, "token"); try c.put(node.probability, "probability"); try c.put(node.demeanedLogit, "demeanedLogit")
        try c.putIfPresent(node.minus, "minus"); try c.putIfPresent(node.direction, "direction"); try c.putIfPresent(node.label, "label")
    }
}

// MARK: - provenance and options

struct StoredProvenance: Codable {
    let provenance: GraphProvenance
    init(provenance: GraphProvenance) { self.provenance = provenance }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: BlobKey.self)
        let version = try StoredBlobs.version(c, BlobKey("version"), what: "provenance")
        let o = try c.nestedContainer(keyedBy: BlobKey.self, forKey: BlobKey("options"))
        var options = AttributionOptions()
        options.maxLogits = try o.maybe("maxLogits") ?? options.maxLogits
        options.logitProbability = try o.maybe("logitProbability") ?? options.logitProbability
        options.batchSize = try o.maybe("batchSize") ?? options.batchSize
        options.maxFeatureNodes = try o.maybe("maxFeatureNodes")
        options.updateInterval = try o.maybe("updateInterval") ?? options.updateInterval
        options.nodeThreshold = try o.maybe("nodeThreshold") ?? options.nodeThreshold
        options.edgeThreshold = try o.maybe("edgeThreshold") ?? options.edgeThreshold
        options.memoryLimit = try o.maybe("memoryLimit")
        options.targets = version == 0 ? try o.maybe("targets", as: [AttributionTarget].self) : try o.maybe("targets", as: [StoredTarget].self)?.map(\.target)
        provenance = GraphProvenance(modelPath: try c.need("modelPath"), modelFingerprint: try c.need("modelFingerprint"),
                                     transcoderSet: try c.need("transcoderSet"), transcoderFingerprint: try c.need("transcoderFingerprint"),
                                     prompt: try c.need("prompt"), tokens: try c.need("tokens"), options: options,
                                     engineVersion: try c.maybe("engineVersion") ?? "unknown")
    }

    func encode(to encoder: Encoder) throws {
        let p = provenance, options = p.options
        var c = encoder.container(keyedBy: BlobKey.self)
        try c.put(StoredBlobs.version, "version")
        try c.put(p.modelPath, "modelPath"); try c.put(p.modelFingerprint, "modelFingerprint")
        try c.put(p.transcoderSet, "transcoderSet"); try c.put(p.transcoderFingerprint, "transcoderFingerprint")
        try c.put(p.prompt, "prompt"); try c.put(p.tokens, "tokens"); try c.put(p.engineVersion, "engineVersion")
        var o = c.nestedContainer(keyedBy: BlobKey.self, forKey: BlobKey("options"))
        try o.put(options.maxLogits, "maxLogits"); try o.put(options.logitProbability, "logitProbability")
        try o.put(options.batchSize, "batchSize"); try o.putIfPresent(options.maxFeatureNodes, "maxFeatureNodes")
        try o.put(options.updateInterval, "updateInterval"); try o.put(options.nodeThreshold, "nodeThreshold")
        try o.put(options.edgeThreshold, "edgeThreshold"); try o.putIfPresent(options.memoryLimit, "memoryLimit")
        try o.putIfPresent(options.targets?.map(StoredTarget.init), "targets")
    }
}

/// An attribution target: {"kind": "token", "token": 5}, {"kind": "difference", "token": 5,
/// "minus": 7} or {"kind": "direction", "direction": […], "label": "…"}.
struct StoredTarget: Codable {
    let target: AttributionTarget
    init(_ target: AttributionTarget) { self.target = target }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: BlobKey.self)
        switch try c.need("kind", as: String.self) {
        case "token": target = .token(try c.need("token"))
        case "difference": target = .difference(try c.need("token"), minus: try c.need("minus"))
        case "direction": target = .direction(try c.need("direction"), label: try c.need("label"))
        case let other: throw GraphStoreError.invalidBlob(graph: "?", reason: "its provenance names an unknown target kind \"\(other.prefix(40))\"")
        }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: BlobKey.self)
        switch target {
        case let .token(t): try c.put("token", "kind"); try c.put(t, "token")
        case let .difference(t, minus): try c.put("difference", "kind"); try c.put(t, "token"); try c.put(minus, "minus")
        case let .direction(d, label): try c.put("direction", "kind"); try c.put(d, "direction"); try c.put(label, "label")
        }
    }
}

// MARK: - timings

struct StoredTimings: Codable {
    let timings: AttributionTimings
    init(timings: AttributionTimings) { self.timings = timings }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: BlobKey.self)
        _ = try StoredBlobs.version(c, BlobKey("version"), what: "timings")
        var t = AttributionTimings()
        t.forward = try c.maybe("forward") ?? 0
        t.logitRows = try c.maybe("logitRows") ?? 0
        t.featureRows = try c.maybe("featureRows") ?? 0
        t.assembly = try c.maybe("assembly") ?? 0
        t.pruning = try c.maybe("pruning") ?? 0
        timings = t
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: BlobKey.self)
        try c.put(StoredBlobs.version, "version")
        try c.put(timings.forward, "forward"); try c.put(timings.logitRows, "logitRows"); try c.put(timings.featureRows, "featureRows")
        try c.put(timings.assembly, "assembly"); try c.put(timings.pruning, "pruning")
    }
}

extension StoredBlobs {
    /// Reads one of graph `key`'s blobs: a refusal names the graph; anything else that does not
    /// decode is "its <what> do not decode".
    private static func read<T>(_ what: String, of key: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let GraphStoreError.invalidBlob(_, reason) {
            throw GraphStoreError.invalidBlob(graph: key, reason: reason)
        } catch let error as GraphStoreError {
            throw error
        } catch { throw GraphStoreError.invalidBlob(graph: key, reason: "its \(what) do not decode") }
    }
}
