// libFuzzer entry point for every parser a user can feed Circuitry (`make fuzz`).
//
// One binary, one target per run: CIRCUITRY_FUZZ_TARGET names it. Each input is written where the
// real program would read it (a file, a folder's config.yaml) and handed to the same public entry
// point the command line uses, so the fuzzer exercises exactly what a user's file reaches. A thrown
// error is the expected answer to a bad input; a crash, a hang (libFuzzer's -timeout) or an
// address-sanitizer report is a finding.

import Analysis
import CircuitQL
import Foundation
import GraphExport
import GraphStore
import LanguageModels
import ModelIO
import TensorCore
import Tokenizer
import Transcoders

/// The targets, by name: what each reads and how.
enum FuzzTarget: String, CaseIterable {
    case gguf, safetensors, npz, tokenizer, transcoderConfig = "transcoder-config", circuitql, interchange, storeBlobs = "store-blobs"
    case saeConfig = "sae-config", toolkitFiles = "toolkit-files"
}

/// The folder a fuzzed SAE cfg.json is written into, beside the fixture SAE's weights
/// (Fuzz/fixtures/sae: d_in 8, d_sae 16, with a threshold) so that a valid config loads them.
let saeFolder: String = {
    let folder = scratch + "/sae"
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let fixtures = ProcessInfo.processInfo.environment["CIRCUITRY_FUZZ_FIXTURES"] ?? "Fuzz/fixtures"
    try? FileManager.default.copyItem(atPath: (fixtures as NSString).appendingPathComponent("sae/sae_weights.safetensors"),
                                      toPath: folder + "/sae_weights.safetensors")
    return folder
}()

/// Scratch space in memory (/dev/shm when present), one folder per process.
let scratch: String = {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let folder = "\(base)/circuitry-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    return folder
}()

let target: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["CIRCUITRY_FUZZ_TARGET"] ?? ""
    guard let t = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("set CIRCUITRY_FUZZ_TARGET to one of: \(names)\n".utf8))
        exit(2)
    }
    return t
}()

/// The folder a fuzzed config.yaml is written into, holding the fixture set's layer files
/// (Fuzz/fixtures/transcoders, or CIRCUITRY_FUZZ_FIXTURES) so that a valid list loads them.
let transcoderFolder: String = {
    let folder = scratch + "/set"
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let fixtures = ProcessInfo.processInfo.environment["CIRCUITRY_FUZZ_FIXTURES"] ?? "Fuzz/fixtures"
    let source = (fixtures as NSString).appendingPathComponent("transcoders")
    for name in (try? FileManager.default.contentsOfDirectory(atPath: source)) ?? [] where name.hasSuffix(".safetensors") {
        try? FileManager.default.copyItem(atPath: (source as NSString).appendingPathComponent(name),
                                          toPath: (folder as NSString).appendingPathComponent(name))
    }
    return folder
}()

/// One store for the interchange target, reused across inputs.
nonisolated(unsafe) var interchangeStore: GraphStore?

func write(_ bytes: UnsafeRawBufferPointer, to path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0, "cannot write \(path)")
    var offset = 0
    while offset < bytes.count {
        let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        precondition(n > 0)
        offset += n
    }
    close(fd)
}

func run(_ bytes: UnsafeRawBufferPointer) {
    switch target {
    case .gguf:
        let path = scratch + "/input.gguf"
        write(bytes, to: path)
        guard let file = try? GGUFFile(path: path) else { return }
        _ = try? Tokenizer(gguf: file)
        for info in file.tensors.prefix(64) { _ = try? file.tensor(info.name) }
        _ = try? LoadedModel.load(path: path)
    case .safetensors:
        let path = scratch + "/input.safetensors"
        write(bytes, to: path)
        guard let file = try? SafetensorsFile(path: path) else { return }
        for name in file.names.prefix(64) { _ = try? file.tensor(name) }
    case .npz:
        let path = scratch + "/input.npz"
        write(bytes, to: path)
        guard let archive = try? NumpyArchive(path: path) else { return }
        for name in archive.names.prefix(64) { _ = try? archive.tensor(name) }
    case .tokenizer:
        let path = scratch + "/tokenizer.json"
        write(bytes, to: path)
        guard let tokenizer = try? Tokenizer(huggingFaceJSON: path, bosToken: "<s>", eosToken: "</s>") else { return }
        if let ids = try? tokenizer.encode("Hi there, Tex! 123 <s> é"), let text = try? tokenizer.decode(ids) { _ = text }
    case .transcoderConfig:
        let folder = transcoderFolder
        write(bytes, to: folder + "/config.yaml")
        _ = try? TranscoderSet.load(folder: folder, lazy: true)
    case .circuitql:
        guard let text = String(bytes: bytes, encoding: .utf8) else { return }
        _ = try? CircuitQL.compile(text)
        _ = try? CircuitQL.compile(text, graphId: 1, maxRows: 10)
    case .interchange:
        let path = scratch + "/graph.json"
        write(bytes, to: path)
        if interchangeStore == nil { interchangeStore = try? GraphStore(path: scratch + "/store.sqlite") }
        guard let store = interchangeStore else { fatalError("cannot open the scratch store") }
        if let saved = try? InterchangeImport.load(file: path, into: store) {
            // Read back everything a user would, then drop it so the store stays small.
            _ = try? store.graph(saved.slug)
            _ = try? store.attributionGraph(saved.slug)
            _ = try? store.delete(saved.slug)
        }
    case .saeConfig:
        write(bytes, to: saeFolder + "/cfg.json")
        guard let sae = try? SparseAutoencoder.load(path: saeFolder) else { return }
        // A loaded SAE encodes and decodes a row of its width.
        if let x = try? TensorCore.Tensor(shape: [2, sae.width], scalars: (0..<(2 * sae.width)).map { Float($0 % 7) - 3 }) {
            _ = try? sae.reconstruct(x)
            _ = try? sae.scanDictionary().encode(x)
        }
    case .toolkitFiles:
        // The same bytes as a probe dataset (JSON lines), a monitor file and a saved probe.
        let path = scratch + "/input.json"
        write(bytes, to: path)
        _ = try? LabelledText.load(path: path)
        _ = try? LabelledText.load(path: path, needsLabels: false)
        _ = try? MonitorFile.load(path: path)
        if let probe = try? SavedProbe.load(path: path) {
            let width = probe.regression.width
            _ = try? probe.regression.probabilities([Float](repeating: 1, count: width), rows: 1)
            _ = probe.meanDifference.predict([Float](repeating: 1, count: width), rows: 1, width: width)
        }
    case .storeBlobs:
        // Two bytes of node-facts length, the node facts (JSON), then the adjacency blob.
        guard bytes.count >= 2 else { return }
        let split = min(Int(bytes[0]) << 8 | Int(bytes[1]), bytes.count - 2)
        let facts = Data(bytes[2..<(2 + split)]), adjacency = Data(bytes[(2 + split)...])
        _ = try? GraphStore.decodeUnpruned(facts: facts, adjacency: adjacency, graph: "fuzz")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

// SwiftPM links an executable's entry point as `<module>_main`; it hands over to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("circuitry_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    _ = target      // refuse an unknown target before libFuzzer starts
    // Within libFuzzer's 4 GB: a blob may claim a graph of up to 1 GB of dense adjacency.
    GraphStore.adjacencyMemoryLimit = 1e9
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, { data, size in fuzzOneInput(data, size) })
}
