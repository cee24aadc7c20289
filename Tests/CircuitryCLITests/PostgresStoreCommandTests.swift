// A PostgreSQL store named on the command line: where the password may come from (the URL,
// $PGPASSWORD, a password file), that it never shows, and the one-line errors for a server that
// is not there or refuses the credentials.

import Foundation
import GraphStore
import Testing
import TestSupport

@Suite struct PostgresStoreCommandTests {
    /// The test server's URL split into the URL without the password, and the password.
    static func parts() throws -> (plain: String, password: String)? {
        guard TestStores.backends.contains("postgres") else { return nil }
        let url = try TestStores.location("postgres")
        _ = try GraphStore.open(url)          // the store exists; the commands below only read it
        let components = try #require(URLComponents(string: url))
        let password = try #require(components.password)
        return (url.replacingOccurrences(of: ":" + password + "@", with: "@"), password)
    }

    static func list(_ store: String, _ environment: [String: String] = [:]) throws -> CommandLineRun {
        // No password from the developer's own environment or home.
        try CommandLineRun.circuitry(["graphs", "list", "--store", store],
                                     environment: ["PGPASSWORD": "", "PGPASSFILE": "/nonexistent", "HOME": "/nonexistent"].merging(environment) { $1 })
    }

    @Test func thePasswordComesFromTheURLTheEnvironmentOrAPasswordFileAndIsNeverShown() throws {
        guard let (plain, password) = try Self.parts() else { return }
        let withPassword = plain.replacingOccurrences(of: "circuitry@", with: "circuitry:\(password)@")
        let fromURL = try Self.list(withPassword)
        #expect(fromURL.status == 0 && fromURL.standardOutput.contains("no graphs in") && !fromURL.standardOutput.contains(password), "\(fromURL.standardError)")
        #expect(try Self.list(plain, ["PGPASSWORD": password]).status == 0)

        let file = temporaryPath(".pgpass")
        let host = try #require(URLComponents(string: plain))
        try "# a comment\nother:1:*:*:nope\n\(host.host!):\(host.port!):*:circuitry:\(password)\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o600)
        #expect(try Self.list(plain, ["PGPASSFILE": file]).status == 0)
        // A password file others can read is ignored, as libpq ignores it.
        chmod(file, 0o644)
        let ignored = try Self.list(plain, ["PGPASSFILE": file])
        #expect(ignored.status == 1)

        let wrong = try Self.list(plain.replacingOccurrences(of: "circuitry@", with: "circuitry:not-the-password@"))
        TraceFixture.expectOneLineError(wrong, containing: "password authentication failed")
        #expect(!wrong.standardError.contains("not-the-password"))
    }

    @Test func anUnreachableServerAndABadURLAreOneLineErrors() throws {
        TraceFixture.expectOneLineError(try Self.list("postgres://me:secret@127.0.0.1:1/circuits"), containing: "cannot reach the server")
        let unreachable = try Self.list("postgres://me:secret@127.0.0.1:1/circuits")
        #expect(!unreachable.standardError.contains("secret"))
        TraceFixture.expectOneLineError(try Self.list("postgres://me@127.0.0.1:1/"), containing: "names no database")
        TraceFixture.expectOneLineError(try Self.list("postgres://me@127.0.0.1/db?schema=a;b"), containing: "schema must be a plain name")
        TraceFixture.expectOneLineError(try Self.list("postgres://me@127.0.0.1/db?colour=red"), containing: "unknown URL parameter")
        TraceFixture.expectOneLineError(try Self.list("mysql://me@127.0.0.1/db"), containing: "no store backend for mysql://")
    }
}
