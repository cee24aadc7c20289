// Runs the built `circuitry` binary the way a user would, capturing its output and exit status.

import Foundation

public struct CommandLineRun: Sendable {
    public let status: Int32
    public let standardOutput: String
    public let standardError: String

    /// The `circuitry` executable next to the test bundle in the build folder, or the one
    /// `CIRCUITRY_BINARY` names (benchmarks run the release build through the tests' browser).
    public static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["CIRCUITRY_BINARY"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var directory = bundle
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("circuitry")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        return bundle.appendingPathComponent("circuitry")
    }

    /// Runs `circuitry arguments…` with optional extra environment variables.
    public static func circuitry(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandLineRun {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes fully before waiting, so a large output cannot block the child.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandLineRun(status: process.terminationStatus,
                              standardOutput: String(decoding: outData, as: UTF8.self),
                              standardError: String(decoding: errData, as: UTF8.self))
    }
}
