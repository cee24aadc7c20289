// Copying between stores, whatever their backends (a laptop's SQLite to a lab's PostgreSQL and
// back): graphs with their model, transcoder set, prompt and saved subgraphs; feature pages with
// their scan and vocabulary; user labels. Idempotent: a graph already in the target (the same
// prompt, model, set, creation time and provenance) is not copied again, a scan already there is
// kept, and copying twice changes nothing. Each graph lands in one transaction of its own.

import Foundation

/// What a copy did.
public struct StoreCopyReport: Codable, Sendable, Equatable {
    public var graphsCopied = 0
    public var graphsAlreadyThere = 0
    /// Graphs whose slug was taken in the target by another graph: copied under a new slug.
    public var renamed: [String: String] = [:]
    public var featureSetsCopied = 0
    public var featureSetsAlreadyThere = 0
    public var userLabelsCopied = 0
}

extension GraphStore {
    /// Copies everything in this store that `target` lacks into it. `progress(done, total, what)`
    /// is called after each graph and feature set.
    public func copy(to target: GraphStore, progress: (Int, Int, String) -> Void = { _, _, _ in }) throws -> StoreCopyReport {
        var report = StoreCopyReport()
        let graphIds: [Int64] = try read { try $0.column("SELECT id FROM graph ORDER BY id") }
        let sets: [Int64] = try read { try $0.column("SELECT transcoder_set_id FROM feature_scan ORDER BY transcoder_set_id") }
        let total = graphIds.count + sets.count
        var done = 0
        for id in graphIds {
            let slug = try copyGraph(id, to: target, report: &report)
            done += 1
            progress(done, total, slug)
        }
        for set in sets {
            let name = try copyFeatureSet(set, to: target, report: &report)
            done += 1
            progress(done, total, name)
        }
        report.userLabelsCopied = try copyUserLabels(to: target)
        return report
    }

    /// The model and set rows a graph or scan refers to, as the target's ids (made when new).
    private static func identity(set setId: Int64, _ db: any StoreConnection) throws -> SetIdentity {
        guard let row = try db.row("""
            SELECT t.fingerprint, t.name, t.path, t.features, m.fingerprint AS model_fingerprint, m.path AS model_path, m.architecture,
                m.layers, m.width FROM transcoder_set t JOIN model m ON m.id = t.model_id WHERE t.id = ?
            """, [setId]) else { throw GraphStoreError.damagedRow(graph: nil, reason: "transcoder set \(setId) is missing") }
        return SetIdentity(modelFingerprint: try row.value("model_fingerprint"), modelPath: try row.value("model_path"),
                           architecture: try row.value("architecture"), layers: try row.value("layers"), width: try row.value("width"),
                           setFingerprint: try row.value("fingerprint"), setName: try row.value("name"), setPath: try row.value("path"),
                           features: try row.value("features"))
    }

    private func copyGraph(_ id: Int64, to target: GraphStore, report: inout StoreCopyReport) throws -> String {
        let (graph, prompt, identity, nodes, edges, subgraphs) = try read { db in
            let graph = try db.row("SELECT * FROM graph WHERE id = ?", [id])!
            let prompt = try db.row("SELECT text, token_ids FROM prompt WHERE id = ?", [try graph.value("prompt_id") as Int64])!
            let identity = try GraphStore.identity(set: try graph.value("transcoder_set_id"), db)
            return (graph, prompt, identity, try db.rows("SELECT * FROM node WHERE graph_id = ?", [id]),
                    try db.rows("SELECT source, target, weight FROM edge WHERE graph_id = ?", [id]),
                    try db.rows("SELECT name, content, updated_at FROM subgraph WHERE graph_id = ?", [id]))
        }
        let slug: String = try graph.value("slug")
        let text: String = try prompt.value("text"), tokenIds: String = try prompt.value("token_ids")
        return try target.write { db in
            try target.serialise(db)
            let (modelId, setId) = try GraphStore.ensure(identity, db)
            if try db.row("""
                SELECT 1 FROM graph g JOIN prompt p ON p.id = g.prompt_id
                WHERE p.text = ? AND p.token_ids = ? AND g.model_id = ? AND g.transcoder_set_id = ? AND g.created_at = ? AND g.provenance = ?
                """, [text, tokenIds, modelId, setId, try graph.value("created_at") as String, try graph.value("provenance") as String]) != nil {
                report.graphsAlreadyThere += 1
                return slug
            }
            try db.execute("INSERT INTO prompt (text, token_ids) VALUES (?, ?) ON CONFLICT DO NOTHING", [text, tokenIds])
            let promptId: Int64 = try db.scalar("SELECT id FROM prompt WHERE text = ? AND token_ids = ?", [text, tokenIds])!
            let newSlug = try target.uniqueSlug(slug, requested: false, db)
            if newSlug != slug { report.renamed[slug] = newSlug }
            // Every column of the row as it is, but the ids, which are the target's.
            var columns = [String](), values = [StoreValue]()
            for (name, value) in zip(graph.columns.names, graph.values) where name != "id" {
                columns.append(name)
                switch name {
                case "slug": values.append(.text(newSlug))
                case "prompt_id": values.append(.integer(promptId))
                case "model_id": values.append(.integer(modelId))
                case "transcoder_set_id": values.append(.integer(setId))
                default: values.append(value)
                }
            }
            let newId: Int64 = try db.scalar("INSERT INTO graph (\(columns.joined(separator: ", "))) VALUES ("
                                             + columns.map { _ in "?" }.joined(separator: ", ") + ") RETURNING id", values)!
            try GraphStore.copyRows(nodes, into: "node", graph: newId, db)
            try GraphStore.copyRows(edges, into: "edge", graph: newId, db)
            try GraphStore.copyRows(subgraphs, into: "subgraph", graph: newId, db)
            report.graphsCopied += 1
            return newSlug
        }
    }

    /// Rows of a graph's table, inserted with the graph's new id.
    private static func copyRows(_ rows: [StoreRow], into table: String, graph id: Int64, _ db: any StoreConnection) throws {
        guard let first = rows.first else { return }
        let names = first.columns.names.filter { $0 != "graph_id" }
        let positions = names.map { name in first.columns.names.firstIndex(of: name)! }
        try db.insert(into: table, columns: ["graph_id"] + names, count: rows.count) { i, v in
            v[0] = .integer(id)
            for (k, p) in positions.enumerated() { v[k + 1] = rows[i].values[p] }
        }
    }

    private func copyFeatureSet(_ setId: Int64, to target: GraphStore, report: inout StoreCopyReport) throws -> String {
        let (identity, scan, vocabulary, features) = try read { db in
            (try GraphStore.identity(set: setId, db), try db.row("SELECT * FROM feature_scan WHERE transcoder_set_id = ?", [setId])!,
             try db.row("SELECT v.texts FROM vocabulary v JOIN transcoder_set t ON t.model_id = v.model_id WHERE t.id = ?", [setId]),
             try db.rows("""
                SELECT layer, idx, label, statistics, firings, frequency, mean_activation, max_activation, contexts, logit_lens
                FROM feature WHERE transcoder_set_id = ? AND firings IS NOT NULL
                """, [setId]))
        }
        try target.write { db in
            try target.serialise(db)
            let (modelId, targetSet) = try GraphStore.ensure(identity, db)
            let created: String = try scan.value("created_at")
            if try db.row("SELECT 1 FROM feature_scan WHERE transcoder_set_id = ? AND created_at = ?", [targetSet, created]) != nil {
                report.featureSetsAlreadyThere += 1
                return
            }
            if let texts: String = try vocabulary?.value("texts") {
                try db.execute("INSERT INTO vocabulary (model_id, texts) VALUES (?, ?) ON CONFLICT (model_id) DO UPDATE SET texts = excluded.texts",
                               [modelId, texts])
            }
            try db.execute("DELETE FROM feature_scan WHERE transcoder_set_id = ?", [targetSet])
            var columns = [String](), values = [StoreValue]()
            for (name, value) in zip(scan.columns.names, scan.values) {
                columns.append(name)
                values.append(name == "transcoder_set_id" ? .integer(targetSet) : value)
            }
            try db.execute("INSERT INTO feature_scan (\(columns.joined(separator: ", "))) VALUES (" + columns.map { _ in "?" }.joined(separator: ", ") + ")",
                           values)
            // The pages replace the target's; its user labels stay on their rows.
            let labels = try db.rows("SELECT layer, idx, user_label FROM feature WHERE transcoder_set_id = ? AND user_label IS NOT NULL", [targetSet])
            try db.execute("DELETE FROM feature WHERE transcoder_set_id = ?", [targetSet])
            var kept = [LayerFeature: StoreValue]()
            for row in labels { kept[LayerFeature(layer: try row.value("layer"), feature: try row.value("idx"))] = row[2] }
            let names = features.first?.columns.names ?? []
            try db.insert(into: "feature", columns: ["transcoder_set_id", "user_label"] + names, count: features.count) { i, v in
                v[0] = .integer(targetSet)
                let key = LayerFeature(layer: Int.read(features[i][0]) ?? -1, feature: Int.read(features[i][1]) ?? -1)
                v[1] = kept.removeValue(forKey: key) ?? .null
                for (k, value) in features[i].values.enumerated() { v[k + 2] = value }
            }
            let rest = kept.sorted { $0.key < $1.key }
            try db.insert(into: "feature", columns: ["transcoder_set_id", "layer", "idx", "user_label"], count: rest.count) { i, v in
                v[0] = .integer(targetSet); v[1] = .integer(Int64(rest[i].key.layer)); v[2] = .integer(Int64(rest[i].key.feature)); v[3] = rest[i].value
            }
            report.featureSetsCopied += 1
        }
        return identity.setName
    }

    /// User labels: the source's wins where both have one. Returns how many changed in the target.
    private func copyUserLabels(to target: GraphStore) throws -> Int {
        let labelled: [(Int64, [StoreRow])] = try read { db in
            try (db.column("SELECT DISTINCT transcoder_set_id FROM feature WHERE user_label IS NOT NULL ORDER BY transcoder_set_id") as [Int64]).map {
                ($0, try db.rows("SELECT layer, idx, user_label FROM feature WHERE transcoder_set_id = ? AND user_label IS NOT NULL", [$0]))
            }
        }
        var changed = 0
        for (set, rows) in labelled {
            let identity = try read { try GraphStore.identity(set: set, $0) }
            changed += try target.write { db in
                let (_, targetSet) = try GraphStore.ensure(identity, db)
                var n = 0
                for row in rows {
                    n += try db.execute("""
                        INSERT INTO feature (transcoder_set_id, layer, idx, user_label) VALUES (?, ?, ?, ?)
                        ON CONFLICT (transcoder_set_id, layer, idx) DO UPDATE SET user_label = excluded.user_label
                        WHERE feature.user_label IS DISTINCT FROM excluded.user_label
                        """, [targetSet, row[0], row[1], row[2]])
                }
                return n
            }
        }
        return changed
    }
}
