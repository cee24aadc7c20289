import Foundation

/// Default locations of downloaded and derived files: the `models/` folder that holds the
/// default model (git-ignored), found near the working directory or the executable.
enum Paths {
    static var modelsFolder: String {
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(directory)
            directory.deleteLastPathComponent()
        }
        for base in candidates {
            let folder = base.appendingPathComponent("models")
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent(ModelOptions.defaultFileName).path) { return folder.path }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("models").path
    }

    /// The repository folder that holds `models/` (where `Graphs/` lives too).
    static var root: String { (modelsFolder as NSString).deletingLastPathComponent }

    /// The default graph store.
    static var defaultStore: String { "\(root)/Graphs/circuits.sqlite" }

    /// The default transcoder set for the default model.
    static var defaultTranscoders: String { "\(modelsFolder)/transcoders/smollm2-default" }

    /// The token corpus cache for a source and seed.
    static func corpusCache(key: String) -> String { "\(modelsFolder)/corpus/\(key).tok" }
}

extension Paths {
    /// Where a feature-page scan of a set keeps its checkpoint until the pages are stored.
    static func featureCheckpoint(_ setFingerprint: String) -> String { "\(modelsFolder)/features/\(setFingerprint).checkpoint" }
}
