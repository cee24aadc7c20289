import ArgumentParser
import Foundation
import GraphStore

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Work with whole graph stores: copy between SQLite files and PostgreSQL servers.",
        subcommands: [CopyStore.self])
}

struct CopyStore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy graphs, feature pages and user labels from one store into another.",
        discussion: """
            Either store may be a SQLite file or a PostgreSQL URL (postgres://user@host[:port]/database). What the target already has is not copied again, so a copy can be repeated (or resumed) safely: each graph lands in one transaction. A graph whose slug the target already uses for another graph is copied under a new slug.

            Examples:
              circuitry store copy Graphs/circuits.sqlite postgres://me@lab-db/circuits
              circuitry store copy postgres://me@lab-db/circuits mine.sqlite --json
            """)
    @Argument(help: ArgumentHelp("The store to copy from (read only).", valueName: "from")) var from: String
    @Argument(help: ArgumentHelp("The store to copy into (made when missing).", valueName: "to")) var to: String
    @OptionGroup var output: JSONOption

    func run() throws {
        if !GraphStore.isURL(from) && !FileManager.default.fileExists(atPath: from) {
            throw CommandError("\(from): no graph store there")
        }
        let source = try GraphStore.open(from, readOnly: true)
        let target = try GraphStore.open(to)
        guard source.path != target.path || (GraphStore.isURL(from) != GraphStore.isURL(to)) else {
            throw CommandError("the source and the target are the same store")
        }
        let bar = output.json ? nil : ProgressBar("copy", total: 1)
        var shown: ProgressBar? = bar
        let report = try source.copy(to: target) { done, total, what in
            if shown?.total != total, bar != nil { shown = ProgressBar("copy", total: total) }
            shown?.update(done, detail: Output.visible(String(what.prefix(40))))
        }
        shown?.finish()
        if output.json { try Output.json(report); return }
        print("\(report.graphsCopied) graph\(report.graphsCopied == 1 ? "" : "s") copied, \(report.graphsAlreadyThere) already there; "
              + "\(report.featureSetsCopied) feature set\(report.featureSetsCopied == 1 ? "" : "s") copied, \(report.featureSetsAlreadyThere) already there; "
              + "\(report.userLabelsCopied) user label\(report.userLabelsCopied == 1 ? "" : "s") copied")
        for (old, new) in report.renamed.sorted(by: { $0.key < $1.key }) { print("  \(old) is \(new) in the target (its slug was taken)") }
        print("into \(target.path)")
    }
}
