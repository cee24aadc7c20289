// swift-tools-version: 6.1
// Circuitry: attribution graphs for language models, natively on the CPU.
// Targets are listed lowest layer first; docs/ARCHITECTURE.md says who may import whom.
import PackageDescription

/// Release builds drop overflow and bounds traps so numeric loops vectorise; shapes are checked
/// explicitly (and throw) before any loop runs, so nothing user-reachable relies on those traps.
let numericSettings: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
    .unsafeFlags(["-O"], .when(configuration: .debug)),
]
/// Tests and the viewer build optimised too; the packages we depend on keep the debug default.
let optimisedDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "Circuitry",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "circuitry", targets: ["circuitry"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // The viewer's HTTP server; without its default traits (swift-configuration, full Foundation).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // The PostgreSQL store backend's client.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // MARK: System libraries
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CGraphviz", path: "Sources/CGraphviz", pkgConfig: "libgvc",
            providers: [.apt(["libgraphviz-dev"])]),
        .systemLibrary(name: "CRuntime", path: "Sources/CRuntime"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),

        // MARK: Numerics
        .target(name: "TensorCore", dependencies: ["CBLAS"], swiftSettings: numericSettings),
        .target(name: "Autodiff", dependencies: ["TensorCore"], swiftSettings: numericSettings),

        // MARK: Models
        .target(name: "ModelIO", dependencies: ["TensorCore", "CZlib"], swiftSettings: numericSettings),
        .target(name: "Tokenizer", dependencies: ["ModelIO"], swiftSettings: numericSettings),
        .target(name: "LanguageModels", dependencies: ["TensorCore", "Autodiff", "ModelIO", "Tokenizer"],
                swiftSettings: numericSettings),
        .target(name: "Attribution", dependencies: ["TensorCore", "Autodiff", "ModelIO", "LanguageModels", "Transcoders"],
                swiftSettings: numericSettings),
        .target(name: "Analysis", dependencies: ["CBLAS", "TensorCore", "ModelIO", "LanguageModels", "Transcoders", "Attribution"], swiftSettings: numericSettings),
        .target(name: "GraphStore", dependencies: ["TensorCore", "Transcoders", "Attribution", "CZlib", .product(name: "GRDB", package: "GRDB.swift"),
                                                   .product(name: "GRDBSQLite", package: "GRDB.swift")],
                swiftSettings: numericSettings),
        // The PostgreSQL backend of the store interface (GraphStore knows only the interface).
        .target(name: "PostgresStore", dependencies: ["GraphStore", .product(name: "PostgresNIO", package: "postgres-nio")],
                swiftSettings: optimisedDebug),
        .target(name: "CircuitQL", dependencies: ["GraphStore"], swiftSettings: numericSettings),
        .target(name: "CircuitCompare", dependencies: ["GraphStore", "CircuitQL"], swiftSettings: numericSettings),
        .target(name: "GraphExport", dependencies: ["TensorCore", "ModelIO", "Attribution", "GraphStore", "CircuitCompare", "CGraphviz"],
                swiftSettings: numericSettings),
        .target(name: "Viewer",
                dependencies: ["GraphStore", "CircuitQL", "CircuitCompare", "GraphExport", .product(name: "Hummingbird", package: "hummingbird"),
                             .product(name: "HTTPTypes", package: "swift-http-types")], swiftSettings: optimisedDebug),
        .target(name: "Transcoders",
                dependencies: ["TensorCore", "Autodiff", "ModelIO", "Tokenizer", "LanguageModels", .product(name: "Yams", package: "Yams")],
                swiftSettings: numericSettings),

        // MARK: Command line
        .executableTarget(
            name: "circuitry",
            dependencies: [
                "TensorCore", "Autodiff", "CBLAS", "CRuntime", "ModelIO", "Tokenizer", "LanguageModels", "Analysis", "Transcoders", "Attribution", "GraphStore", "GraphExport", "CircuitQL", "CircuitCompare", "Viewer", "PostgresStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: numericSettings),

        // MARK: Tests
        .target(name: "TestSupport", dependencies: ["TensorCore", "Autodiff", "ModelIO", "Tokenizer", "LanguageModels", "Transcoders", "Attribution", "GraphStore", "PostgresStore"],
                path: "Tests/TestSupport", swiftSettings: optimisedDebug),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"], swiftSettings: optimisedDebug),
        .testTarget(name: "AutodiffTests", dependencies: ["Autodiff", "TestSupport"], swiftSettings: optimisedDebug),
        .testTarget(name: "ModelIOTests", dependencies: ["ModelIO", "TestSupport"], swiftSettings: optimisedDebug),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "TestSupport"], swiftSettings: optimisedDebug),
        .testTarget(name: "LanguageModelsTests", dependencies: ["LanguageModels", "TestSupport"], swiftSettings: optimisedDebug),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "Attribution", "Transcoders", "TestSupport"], swiftSettings: optimisedDebug),
        .testTarget(name: "TranscodersTests", dependencies: ["Transcoders", "TestSupport"], swiftSettings: optimisedDebug),
        .testTarget(name: "AttributionTests", dependencies: ["Attribution", "TestSupport"], swiftSettings: optimisedDebug),
        .testTarget(name: "GraphStoreTests", dependencies: ["GraphStore", "GraphExport", "Attribution", "TestSupport",
                                                      .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: optimisedDebug),
        .testTarget(name: "CircuitQLTests", dependencies: ["CircuitQL", "GraphStore", "PostgresStore", "Attribution", "TestSupport"], swiftSettings: optimisedDebug),
        .testTarget(name: "CircuitCompareTests", dependencies: ["CircuitCompare", "GraphStore", "GraphExport", "TestSupport"], swiftSettings: optimisedDebug),
        .testTarget(name: "ViewerTests", dependencies: ["Viewer", "GraphStore", "GraphExport", "Attribution", "TestSupport"], swiftSettings: optimisedDebug),
        .testTarget(name: "CircuitryCLITests", dependencies: ["circuitry", "GraphStore", "ModelIO", "TensorCore", "TestSupport",
                                                         .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: optimisedDebug),
    ]
)

// MARK: Fuzzing (`make fuzz`; docs/FUZZING.md)
// Built only when CIRCUITRY_FUZZ is set, so ordinary builds and tests never see them: the harness
// is compiled with libFuzzer and the address sanitizer (the flags come from the make target, for
// every module, so the parsers themselves are instrumented); the seed writer reuses the test
// fixtures.
if Context.environment["CIRCUITRY_FUZZ"] != nil {
    package.targets += [
        .executableTarget(
            name: "circuitry-fuzz",
            dependencies: ["ModelIO", "TensorCore", "Tokenizer", "LanguageModels", "Transcoders", "Analysis", "GraphStore", "GraphExport", "CircuitQL"],
            path: "Fuzz/Harness", swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "fuzz-seeds", dependencies: ["TestSupport"], path: "Fuzz/Seeds"),
    ]
}

