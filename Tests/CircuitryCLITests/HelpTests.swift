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

    /// Every command's help reads cleanly at 80 columns (what a pipe or a small terminal gets):
    /// prose paragraphs are left for the parser to wrap, so no line is a stray fragment of a
    /// hard-wrapped one, and examples and tables fit.
    @Test func everyHelpReadsCleanlyAtEightyColumns() throws {
        func subcommands(_ help: String) -> [String] {
            guard let start = help.range(of: "SUBCOMMANDS:\n") else { return [] }
            return help[start.upperBound...].split(separator: "\n").prefix { !$0.hasPrefix("  See ") }.compactMap { line in
                line.hasPrefix("  ") && !line.hasPrefix("   ") ? line.split(separator: " ").first.map(String.init) : nil
            }
        }
        let columns = ["COLUMNS": "80", "LINES": "25"]
        var queue = subcommands(try CommandLineRun.circuitry(["--help"], environment: columns).standardOutput).map { [$0] }
        var checked = 0
        while let command = queue.popLast() {
            let help = try CommandLineRun.circuitry(command + ["--help"], environment: columns).standardOutput
            queue += subcommands(help).map { command + [$0] }
            guard let end = help.range(of: "\nUSAGE:") else { continue }
            let lines = help[..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            // An example the wrapper broke continues at column 0 (a pasted copy would run two commands).
            var inExamples = false
            for line in lines {
                if line.hasPrefix("Example") { inExamples = true; continue }
                if line.isEmpty { inExamples = false; continue }
                #expect(!inExamples || line.hasPrefix(" "), "`circuitry \(command.joined(separator: " ")) --help`: an example wraps at \"\(line)\"")
            }
            for (i, line) in lines.enumerated() where i > 0 && i + 1 < lines.count {
                let fragment = !line.isEmpty && line.count < 24 && !line.hasPrefix(" ") && !line.hasSuffix(":")
                    && !lines[i - 1].isEmpty && !lines[i + 1].isEmpty && !lines[i + 1].hasPrefix(" ")
                #expect(!fragment, "`circuitry \(command.joined(separator: " ")) --help`: stray fragment \"\(line)\"")
                #expect(line.count <= 80, "`circuitry \(command.joined(separator: " ")) --help`: \"\(line)\" is wider than 80")
            }
            checked += 1
        }
        #expect(checked >= 30)
    }
}
