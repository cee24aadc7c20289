// Feature pages in the store: saving a set's scan (one transaction), reading one feature's page
// with the graphs it appears in, and user labels (which win over automatic ones everywhere).

import Foundation
import Transcoders

/// A model and transcoder set, as the store identifies them (by content fingerprints).
public struct SetIdentity: Sendable {
    public var modelFingerprint: String
    public var modelPath: String
    public var architecture: String
    public var layers: Int
    public var width: Int
    public var setFingerprint: String
    public var setName: String
    public var setPath: String
    public var features: Int

    public init(modelFingerprint: String, modelPath: String, architecture: String, layers: Int, width: Int,
                setFingerprint: String, setName: String, setPath: String, features: Int) {
        self.modelFingerprint = modelFingerprint
        self.modelPath = modelPath
        self.architecture = architecture
        self.layers = layers
        self.width = width
        self.setFingerprint = setFingerprint
        self.setName = setName
        self.setPath = setPath
        self.features = features
    }
}

/// What a set's feature pages were built from.
public struct FeatureScanSummary: Sendable, Codable, Equatable {
    public var setName: String
    public var setFingerprint: String
    public var createdAt: String
    public var tokens: Int
    public var seconds: Double
    public var corpus: String
}

/// One feature's page.
public struct FeaturePage: Sendable, Codable {
    public struct Context: Sendable, Codable, Equatable {
        public var tokens: [String]
        public var activations: [Float]
        public var peak: Int
        public var sequence: Int
        public var start: Int
    }
    public struct Token: Sendable, Codable, Equatable {
        public var id: Int
        public var text: String
        public var score: Float
    }
    public struct Appearance: Sendable, Codable, Equatable {
        public var graphId: Int64
        public var slug: String
        public var prompt: String
        public var position: Int
        public var token: String?
        public var activation: Float?
        public var influence: Float
    }
    public var layer: Int
    public var index: Int
    public var set: FeatureScanSummary
    /// The label shown everywhere: the user's when set, else the automatic one.
    public var label: String?
    public var automaticLabel: String?
    public var userLabel: String?
    public var firings: Int
    public var frequency: Double
    public var meanActivation: Double
    public var maxActivation: Double
    public var contexts: [Context]
    public var promoted: [Token]
    public var suppressed: [Token]
    public var graphs: [Appearance]
}

extension GraphStore {
    /// A token's text from a stored vocabulary ("<id>" for an id it lacks).
    static func tokenText(_ id: Int, in vocabulary: [String]) -> String {
        vocabulary.indices.contains(id) ? vocabulary[id] : "<\(id)>"
    }

    /// The ids of a model's and a set's rows, made when new.
    static func ensure(_ s: SetIdentity, _ db: any StoreConnection) throws -> (model: Int64, set: Int64) {
        try db.execute("INSERT INTO model (fingerprint, path, architecture, layers, width) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                       [s.modelFingerprint, s.modelPath, s.architecture, s.layers, s.width])
        let modelId: Int64 = try db.scalar("SELECT id FROM model WHERE fingerprint = ?", [s.modelFingerprint])!
        try db.execute("INSERT INTO transcoder_set (model_id, fingerprint, name, path, features) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                       [modelId, s.setFingerprint, s.setName, s.setPath, s.features])
        let setId: Int64 = try db.scalar("SELECT id FROM transcoder_set WHERE model_id = ? AND fingerprint = ?", [modelId, s.setFingerprint])!
        return (modelId, setId)
    }

    /// Saves a set's feature pages in one transaction, replacing an earlier scan of the set and
    /// keeping user labels. `evidence` holds every feature of every layer; `sequences` are the
    /// scanned token sequences that contexts point into; `vocabulary` the model's token texts.
    public func saveFeaturePages(_ identity: SetIdentity, evidence: [FeatureEvidence], sequences: [[Int]], vocabulary: [String],
                                 corpus: String, options: String, seconds: Double) throws {
        guard let length = sequences.first?.count, sequences.allSatisfy({ $0.count == length }) else {
            throw GraphStoreError.invalidRequest("a feature scan needs scanned sequences of one length")
        }
        func text(_ id: Int) -> String { GraphStore.tokenText(id, in: vocabulary) }
        let tokens = evidence.first?.tokensScanned ?? 0
        let vocabularyJSON = String(decoding: try JSONEncoder().encode(vocabulary), as: UTF8.self)
        try write { db in
            try serialise(db)
            let (modelId, setId) = try GraphStore.ensure(identity, db)
            try db.execute("""
                INSERT INTO vocabulary (model_id, texts) VALUES (?, ?) ON CONFLICT (model_id) DO UPDATE SET texts = excluded.texts
                """, [modelId, vocabularyJSON])
            try db.execute("""
                INSERT INTO feature_scan (transcoder_set_id, created_at, tokens, sequence_length, sequences, corpus, options, seconds)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (transcoder_set_id) DO UPDATE SET created_at = excluded.created_at, tokens = excluded.tokens,
                    sequence_length = excluded.sequence_length, sequences = excluded.sequences, corpus = excluded.corpus,
                    options = excluded.options, seconds = excluded.seconds
                """, [setId, ISO8601DateFormatter().string(from: Date()), tokens, length,
                                 FeaturePageBlobs.encode(sequences: sequences), corpus, options, seconds])
            // The scan replaces the set's pages and keeps its user labels: the old rows' values go
            // (user labels stay on their rows), then the new rows are merged in.
            let userLabels = try db.rows("SELECT layer, idx, user_label FROM feature WHERE transcoder_set_id = ? AND user_label IS NOT NULL", [setId])
            try db.execute("DELETE FROM feature WHERE transcoder_set_id = ?", [setId])
            var labelled = [LayerFeature: String]()
            for row in userLabels {
                labelled[LayerFeature(layer: try row.value("layer"), feature: try row.value("idx"))] = try row.value("user_label")
            }
            try db.insert(into: "feature", columns: ["transcoder_set_id", "layer", "idx", "label", "user_label", "firings", "frequency",
                                                      "mean_activation", "max_activation", "contexts", "logit_lens"], count: evidence.count) { i, v in
                let e = evidence[i]
                let peaks = e.contexts.map { sequences[$0.sequence][$0.start + $0.peak] }
                let label = FeatureLabel.automatic(e, layers: identity.layers, peakTokens: peaks, text: text)
                v[0] = .integer(setId); v[1] = .integer(Int64(e.layer)); v[2] = .integer(Int64(e.index))
                v[3] = label.isEmpty ? .null : .text(label)
                v[4] = labelled.removeValue(forKey: LayerFeature(layer: e.layer, feature: e.index)).map { .text($0) } ?? .null
                v[5] = .integer(Int64(e.firings)); v[6] = .double(e.frequency); v[7] = .double(e.meanActivation)
                v[8] = .double(Double(e.maxActivation)); v[9] = .blob(FeaturePageBlobs.encode(contexts: e.contexts))
                v[10] = .blob(FeaturePageBlobs.encode(promoted: e.promoted, suppressed: e.suppressed))
            }
            // User labels of features the scan did not cover stay as they were.
            let rest = labelled.sorted { $0.key < $1.key }
            try db.insert(into: "feature", columns: ["transcoder_set_id", "layer", "idx", "user_label"], count: rest.count) { i, v in
                v[0] = .integer(setId); v[1] = .integer(Int64(rest[i].key.layer)); v[2] = .integer(Int64(rest[i].key.feature)); v[3] = .text(rest[i].value)
            }
        }
    }

    /// What the pages of a set (by fingerprint) were built from, or nil when they were not.
    public func featureScan(setFingerprint: String) throws -> FeatureScanSummary? {
        try read { db in
            try db.row(GraphStore.scanSQL + " WHERE t.fingerprint = ?", [setFingerprint]).map { try GraphStore.scanSummary($0) }
        }
    }

    /// Every set with feature pages in the store.
    public func featureScans() throws -> [FeatureScanSummary] {
        try read { db in try db.rows(GraphStore.scanSQL + " ORDER BY t.name").map { try GraphStore.scanSummary($0) } }
    }

    static let scanSQL = """
        SELECT t.name, t.fingerprint, s.created_at, s.tokens, s.seconds, s.corpus FROM feature_scan s
        JOIN transcoder_set t ON t.id = s.transcoder_set_id
        """

    static func scanSummary(_ row: StoreRow) throws -> FeatureScanSummary {
        FeatureScanSummary(setName: try row.value("name"), setFingerprint: try row.value("fingerprint"), createdAt: try row.value("created_at"), tokens: try row.value("tokens"),
                           seconds: try row.value("seconds"), corpus: try row.value("corpus"))
    }

    /// The page of feature `index` of layer `layer` in the set with this fingerprint.
    public func featurePage(setFingerprint: String, setName: String, layer: Int, index: Int) throws -> FeaturePage {
        try read { db in
            guard let scanRow = try db.row("""
                SELECT s.*, t.id AS set_id, t.name, t.fingerprint, t.features, t.model_id, m.layers FROM feature_scan s
                JOIN transcoder_set t ON t.id = s.transcoder_set_id JOIN model m ON m.id = t.model_id WHERE t.fingerprint = ?
                """, [setFingerprint]) else {
                let others = try db.rows(GraphStore.scanSQL).map { "\"\(try $0.value("name") as String)\" (\(try $0.value("fingerprint") as String))" }
                throw GraphStoreError.invalidRequest("no feature pages for transcoder set \"\(setName)\" (\(setFingerprint)) in \(path)"
                    + (others.isEmpty ? "" : "; pages exist for \(others.joined(separator: ", "))")
                    + "; build them with `circuitry features build`")
            }
            let layers: Int = try scanRow.value("layers"), features: Int = try scanRow.value("features")
            guard (0..<layers).contains(layer) else {
                throw GraphStoreError.invalidRequest("layer \(layer) is out of range: the model has layers 0–\(layers - 1)")
            }
            guard (0..<features).contains(index) else {
                throw GraphStoreError.invalidRequest("feature \(index) is out of range: the set has features 0–\(features - 1) in each layer")
            }
            let setId: Int64 = try scanRow.value("set_id")
            let length: Int = try scanRow.value("sequence_length")
            let vocabulary = try (db.scalar("SELECT texts FROM vocabulary WHERE model_id = ?", [try scanRow.value("model_id") as Int64]) as String?)
                .map { try JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? []
            func text(_ id: Int) -> String { GraphStore.tokenText(id, in: vocabulary) }
            guard let row = try db.row("SELECT * FROM feature WHERE transcoder_set_id = ? AND layer = ? AND idx = ?", [setId, layer, index]), let contextBlob = try row.value("contexts") as Data?,
                  let lensBlob = try row.value("logit_lens") as Data? else {
                throw GraphStoreError.invalidRequest("the pages of set \"\(setName)\" have no entry for feature \(layer)/\(index): rebuild them")
            }
            let corrupt = GraphStoreError.invalidRequest("the stored page of feature \(layer)/\(index) is damaged: rebuild the pages")
            let sequences: [[Int]], stored: [FeatureContext], lens: (promoted: [TokenScore], suppressed: [TokenScore])
            do {
                sequences = try FeaturePageBlobs.decodeSequences(try scanRow.value("sequences") as Data, length: length)
                stored = try FeaturePageBlobs.decodeContexts(contextBlob)
                lens = try FeaturePageBlobs.decodeLogitLens(lensBlob)
            } catch { throw corrupt }
            let contexts = try stored.map { c -> FeaturePage.Context in
                guard sequences.indices.contains(c.sequence), c.positions.upperBound <= length else { throw corrupt }
                return FeaturePage.Context(tokens: c.positions.map { text(sequences[c.sequence][$0]) }, activations: c.activations,
                                           peak: c.peak, sequence: c.sequence, start: c.start)
            }
            let graphs = try db.rows("""
                SELECT g.id, g.slug, p.text AS prompt, n.position, n.token_text, n.activation, n.influence FROM node n
                JOIN graph g ON g.id = n.graph_id JOIN prompt p ON p.id = g.prompt_id
                WHERE n.kind = 'feature' AND n.layer = ? AND n.feature = ? AND g.transcoder_set_id = ?
                ORDER BY n.influence DESC, g.id
                """, [layer, index, setId]).map { r in
                FeaturePage.Appearance(graphId: try r.value("id"), slug: try r.value("slug"), prompt: try r.value("prompt"), position: try r.value("position"), token: try r.value("token_text"),
                                       activation: (try r.value("activation") as Double?).map(Float.init), influence: Float(try r.value("influence") as Double))
            }
            let automatic: String? = try row.value("label"), user: String? = try row.value("user_label")
            return FeaturePage(layer: layer, index: index, set: try GraphStore.scanSummary(scanRow), label: user ?? automatic,
                               automaticLabel: automatic, userLabel: user, firings: try row.value("firings") ?? 0, frequency: try row.value("frequency") ?? 0,
                               meanActivation: try row.value("mean_activation") ?? 0, maxActivation: try row.value("max_activation") ?? 0, contexts: contexts,
                               promoted: lens.promoted.map { .init(id: $0.token, text: text($0.token), score: $0.score) },
                               suppressed: lens.suppressed.map { .init(id: $0.token, text: text($0.token), score: $0.score) },
                               graphs: graphs)
        }
    }

    /// Sets (or with nil, removes) the user's label of a feature; it wins over the automatic one.
    public func setUserLabel(_ label: String?, layer: Int, index: Int, identity: SetIdentity) throws {
        guard (0..<identity.layers).contains(layer), (0..<identity.features).contains(index) else {
            throw GraphStoreError.invalidRequest("no feature \(layer)/\(index): the set has layers 0–\(identity.layers - 1) and features 0–\(identity.features - 1)")
        }
        let text = label?.trimmingCharacters(in: .whitespacesAndNewlines)
        try write { db in
            let (_, setId) = try GraphStore.ensure(identity, db)
            try db.execute("""
                INSERT INTO feature (transcoder_set_id, layer, idx, user_label) VALUES (?, ?, ?, ?)
                ON CONFLICT (transcoder_set_id, layer, idx) DO UPDATE SET user_label = excluded.user_label
                """, [setId, layer, index, text?.isEmpty == false ? text : nil])
        }
    }
}
