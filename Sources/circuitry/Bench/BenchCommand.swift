import ArgumentParser

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Circuitry's kernels (release builds only give meaningful numbers).",
        subcommands: [BenchBLAS.self, BenchOps.self, BenchModel.self, BenchAttribution.self, BenchQuery.self])
}
