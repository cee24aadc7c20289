import ArgumentParser
import CircuitQL
import Foundation
import GraphStore

struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Query stored graphs with CircuitQL, a Cypher-style language.",
        discussion: """
            Nodes are :Token, :Feature, :Error and :Logit with properties graph, layer, pos, feature, token, token_id, activation, influence, label, prob, kind and index; relationships (:ATTR, may be left out) go source → target with weight and share. A query spans every stored graph unless it starts with USE 'slug' or says WHERE n.graph = 'slug'. The grammar is in the README.

            Examples:
              circuitry query "MATCH (f:Feature) WHERE f.layer >= 10 AND f.layer <= 20
                  AND f.influence > 0.001 RETURN f.graph, f.layer, f.feature, f.influence
                  ORDER BY f.influence DESC LIMIT 10"
              circuitry query "USE 'the-capital-of-texas-is'
                  MATCH p = (t:Token {token: ' Texas'})-[*1..4]->(l:Logit)
                  RETURN nodes(p), strength(p) AS s ORDER BY s DESC LIMIT 5"
              circuitry query --file Queries/recurring-features.cql --format json
            """)

    @Argument(help: "The query (or give --file).") var query: String?
    @Option(name: .long, help: ArgumentHelp("Read the query from a file.", valueName: "file")) var file: String?
    @Option(name: .long, help: "Output: table, json (an array of objects keyed by column) or csv.") var format: Format = .table
    @Flag(name: .long, help: "The same as --format json.") var json = false
    @Option(name: .long, help: "Refuse results with more rows than this.") var maxRows = CircuitQL.defaultMaxRows
    @Option(name: .long, help: ArgumentHelp("Stop the query after this many seconds (0: no limit).", valueName: "seconds"))
    var timeout: Double = CircuitQL.defaultTimeout
    @Flag(name: .long, help: "Print the SQL, SQLite's plan (which indexes it uses) and each path walk's cost instead of running the query.") var explain = false
    @OptionGroup var storeOptions: StoreOptions

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, csv }

    func validate() throws {
        guard (query == nil) != (file == nil) else { throw ValidationError("give a query or --file, not both or neither") }
        guard maxRows > 0 else { throw ValidationError("--max-rows must be positive") }
        guard timeout.isFinite, timeout >= 0 else { throw ValidationError("--timeout must be a number of seconds, 0 or more (0: no limit)") }
    }

    func run() throws {
        let text: String
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else { throw CommandError("\(file): cannot read the query file") }
            text = String(decoding: data, as: UTF8.self)
        } else {
            text = query!
        }
        let store = try storeOptions.openForReading()
        do {
            if explain {
                try printPlan(text, store: store)
                return
            }
            let start = Date()
            let result = try CircuitQL.run(text, on: store, maxRows: maxRows, timeout: timeout > 0 ? timeout : nil)
            let seconds = Date().timeIntervalSince(start)
            switch json ? .json : format {
            case .table:
                print(result.table())
                Output.note(String(format: "%.1f ms", seconds * 1000))
            case .json: print(String(decoding: try result.json(), as: UTF8.self))
            case .csv: print(result.csv(), terminator: "")
            }
        } catch let error as CircuitQLError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    func printPlan(_ text: String, store: GraphStore) throws {
        let compiled = try CircuitQL.compile(text, for: store, maxRows: maxRows)
        print(compiled.sql)
        print("-- parameters: " + compiled.arguments.enumerated().map { "?\($0.offset + 1) = \($0.element)" }.joined(separator: ", "))
        print("-- plan:")
        for row in try store.select(sql: store.dialect.explain + compiled.sql, arguments: compiled.arguments) {
            if case let .text(detail)? = row.last { print("--   " + detail) }
        }
        let walks = try CircuitQL.walkCosts(text, on: store, maxRows: maxRows, timeout: timeout > 0 ? timeout : nil)
        if !walks.isEmpty {
            print("-- path walks (computed before the statement, their rows passed as JSON):")
            for line in walks { print("--   " + line) }
        }
    }
}
