// SVG rendered in-process through libgvc. Graphviz keeps global state and is not thread-safe, so
// every call into it is serialised by one lock. Graphs from DOTWriter carry pinned positions and
// are laid out with the fixed-position engine ("nop", neato -n), which takes a fraction of a
// second where `dot` takes seconds for a thousand nodes; `layout: "dot"` is available too.

import CGraphviz
import Foundation

public enum SVGRenderer {
    public enum RenderError: Error, Equatable, CustomStringConvertible {
        case graphviz(String)
        public var description: String {
            switch self { case let .graphviz(reason): "Graphviz could not render the graph: \(reason)" }
        }
    }

    private static let lock = NSLock()

    /// Renders DOT text to SVG.
    public static func svg(fromDOT dot: String, layout: String = "nop") throws -> String {
        lock.lock()
        defer { lock.unlock() }
        // Graphviz prints its errors on standard error; keep them and report them in ours instead.
        let previousLevel = agseterr(AGMAX)
        defer { agseterr(previousLevel) }
        func lastError(_ fallback: String) -> String {
            guard let message = aglasterr() else { return fallback }
            defer { free(message) }
            let text = String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
            return text.isEmpty ? fallback : text.replacingOccurrences(of: "\n", with: " ")
        }
        guard let context = gvContext() else { throw RenderError.graphviz("no Graphviz context") }
        defer { gvFreeContext(context) }
        let graph: UnsafeMutablePointer<Agraph_t>? = dot.withCString { text in
            let copy = strdup(text)
            defer { free(copy) }
            return agmemread(copy)
        }
        guard let graph else { throw RenderError.graphviz(lastError("the DOT text did not parse")) }
        defer { agclose(graph) }
        let engine = strdup(layout)
        defer { free(engine) }
        guard gvLayout(context, graph, engine) == 0 else { throw RenderError.graphviz(lastError("layout \(layout) failed")) }
        defer { gvFreeLayout(context, graph) }
        var buffer: UnsafeMutablePointer<CChar>? = nil
        var length: UInt32 = 0
        let format = strdup("svg")
        defer { free(format) }
        guard gvRenderData(context, graph, format, &buffer, &length) == 0, let buffer else {
            throw RenderError.graphviz("rendering SVG failed")
        }
        defer { gvFreeRenderData(buffer) }
        return String(decoding: UnsafeRawBufferPointer(start: buffer, count: Int(length)), as: UTF8.self)
    }
}
