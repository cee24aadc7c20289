// Writes the fixtures the fuzz seed corpus starts from: the test suite's tiny Llama model (GGUF and
// Hugging Face folder) and its tiny transcoder set, into the folder given as the only argument.
// Fuzz/make-seeds.sh turns them (and a trace of them) into Fuzz/corpus/.

import Foundation
import TestSupport

@main struct Seeds {
    static func main() throws {
        guard CommandLine.arguments.count == 2 else {
            FileHandle.standardError.write(Data("usage: fuzz-seeds <folder>\n".utf8))
            exit(2)
        }
        let out = CommandLine.arguments[1]
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        func move(_ from: String, _ to: String) throws {
            let destination = (out as NSString).appendingPathComponent(to)
            try? FileManager.default.removeItem(atPath: destination)
            try FileManager.default.moveItem(atPath: from, toPath: destination)
        }
        var qkNorm = TinyModelSpec(); qkNorm.queryKeyNorm = true; qkNorm.seed = 3
        try move(try TinyModel(TinyModelSpec()).writeGGUF(), "model.gguf")
        try move(try TinyModel(qkNorm).writeGGUF(), "model-qk-norm.gguf")
        try move(try TinyModel(TinyModelSpec()).writeHuggingFace(), "hf")
        let trace = try TinyTrace()
        try move(trace.transcoderFolder, "transcoders")
        try move(trace.modelPath, "trace-model.gguf")
    }
}
