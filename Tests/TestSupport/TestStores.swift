// Stores on every backend the suites run against: SQLite always, PostgreSQL when
// CIRCUITRY_TEST_POSTGRES names a server (`make test` starts a throwaway one and sets it). With
// CIRCUITRY_REQUIRE_POSTGRES=1 a missing server fails the tests instead of narrowing them.

import Foundation
import GraphStore
import PostgresStore

public enum TestStores {
    /// The server's URL (a database the tests may make schemas in), if one is given.
    public static var postgresURL: String? {
        let url = ProcessInfo.processInfo.environment["CIRCUITRY_TEST_POSTGRES"]
        return url?.isEmpty == false ? url : nil
    }

    /// The PostgreSQL backend, registered once (tests run in parallel).
    private static let registered: Void = PostgresStoreDatabase.register()

    /// The backends to run store tests on, by name.
    public static var backends: [String] {
        if postgresURL == nil && ProcessInfo.processInfo.environment["CIRCUITRY_REQUIRE_POSTGRES"] == "1" {
            return ["sqlite", "postgres (CIRCUITRY_TEST_POSTGRES is not set)"]
        }
        return ["sqlite"] + (postgresURL == nil ? [] : ["postgres"])
    }

    /// A fresh, empty store location on a backend: a new file, or a new schema on the server.
    public static func location(_ backend: String) throws -> String {
        _ = registered
        switch backend {
        case "sqlite": return temporaryPath(".sqlite")
        case "postgres":
            guard let url = postgresURL else { throw TestStoreError.noServer }
            let schema = "t_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
            return url + (url.contains("?") ? "&" : "?") + "schema=" + schema
        default: throw TestStoreError.noServer
        }
    }

    /// A fresh, empty store on a backend.
    public static func make(_ backend: String) throws -> GraphStore {
        try GraphStore.open(try location(backend))
    }

    public enum TestStoreError: Error, CustomStringConvertible {
        case noServer
        public var description: String { "no PostgreSQL server for the tests: set CIRCUITRY_TEST_POSTGRES (make test does)" }
    }
}
