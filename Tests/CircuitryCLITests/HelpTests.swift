// The command-line tool, run as a user runs it.

import Foundation
import Testing
import TestSupport

@Suite struct HelpTests {
    @Test func helpListsCommandsAndVersionPrints() throws {
        let help = try CommandLineRun.circuitry(["--help"])
        #expect(help.status == 0)
        #expect(help.standardOutput.contains("USAGE: circuitry"))
        let version = try CommandLineRun.circuitry(["--version"])
        #expect(version.status == 0)
        #expect(version.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
    }

    @Test func unknownOptionIsAUsageError() throws {
        let run = try CommandLineRun.circuitry(["--no-such-option"])
        #expect(run.status == 64 || run.status == 2)
        #expect(run.standardError.contains("no-such-option"))
    }

    @Test(arguments: [["trace"], ["query"], ["compare"], ["features"], ["features", "build"], ["features", "label"], ["feature"],
                      ["transcoders", "train"], ["graphs", "show"], ["lens"], ["patch"], ["dla"], ["heads"]])
    func everyCommandHasHelpWithExamples(_ command: [String]) throws {
        let help = try CommandLineRun.circuitry(command + ["--help"])
        #expect(help.status == 0)
        #expect(help.standardOutput.contains("OVERVIEW:") && help.standardOutput.contains("USAGE: circuitry \(command.joined(separator: " "))"))
        #expect(help.standardOutput.contains("Example"), "\(command) --help gives examples")
    }
}
