// The `circuitry` command-line tool: one file per subcommand, thin over the libraries. Errors
// from the libraries become a one-line message on standard error and exit status 1; usage
// errors exit with status 2; `--json` output is one JSON document on standard output.

import ArgumentParser
import CRuntime
import Foundation
import PostgresStore

@main
struct Circuitry: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "circuitry",
        abstract: "Trace the circuits inside language models: attribution graphs on the CPU.",
        discussion: """
            Examples:
              circuitry model info
              circuitry tokenize "The capital of Texas is" --bos
              circuitry logits "The capital of Texas is" --top 5
              circuitry generate "The capital of Texas is" --max-tokens 8
              circuitry trace "The capital of Texas is" --svg Graphs/texas.svg
              circuitry graphs list
              circuitry features build
              circuitry feature 17/2381
              circuitry lens "The capital of Texas is" --target " Austin"
              circuitry patch "…Mary…" "…John…" --metric "logit_diff( Mary, John)"
              circuitry serve
            """,
        version: CircuitryVersion.string,
        subcommands: [ModelCommand.self, TokenizeCommand.self, LogitsCommand.self, GenerateCommand.self, TranscodersCommand.self,
                      FeaturesCommand.self, FeatureCommand.self, TraceCommand.self, GraphsCommand.self, ExportCommand.self, QueryCommand.self, CompareCommand.self, InterveneCommand.self,
                      LensCommand.self, PatchCommand.self, DLACommand.self, HeadsCommand.self, SAEsCommand.self, ProbeCommand.self, SteeringVectorCommand.self, MonitorCommand.self,
                      ServeCommand.self, StoreCommand.self, BatchCommand.self, BenchCommand.self])

    static func main() {
        circuitry_keep_freed_memory()
        PostgresStoreDatabase.register()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help and --version.
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            if let exit = error as? ExitCode { Foundation.exit(exit.rawValue) }
            let message = String(describing: error).replacingOccurrences(of: "\n", with: " ")
            FileHandle.standardError.write(Data("error: \(message)\n".utf8))
            Foundation.exit(1)
        }
    }
}

enum CircuitryVersion {
    static let string = "0.1.0"
}
