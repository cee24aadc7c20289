import ArgumentParser

@main
struct Circuitry: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "circuitry",
        abstract: "Trace the circuits inside language models: attribution graphs on the CPU.",
        version: CircuitryVersion.string,
        subcommands: [BenchCommand.self])
}

enum CircuitryVersion {
    static let string = "0.1.0"
}
