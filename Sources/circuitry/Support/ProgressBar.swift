import Foundation

/// A progress line on standard error: redrawn in place on a terminal, printed every few seconds
/// otherwise (so logs of non-interactive runs stay readable).
final class ProgressBar {
    let label: String
    let total: Int
    let start = Date()
    private var lastPrint = Date.distantPast
    private let interactive = isatty(2) != 0

    init(_ label: String, total: Int) {
        self.label = label
        self.total = max(total, 1)
    }

    /// Shows `done` of `total` with a trailing detail text.
    func update(_ done: Int, detail: String = "", force: Bool = false) {
        let now = Date()
        let interval = interactive ? 0.2 : 10
        guard force || now.timeIntervalSince(lastPrint) >= interval || done >= total else { return }
        lastPrint = now
        let fraction = min(1, Double(done) / Double(total))
        let elapsed = now.timeIntervalSince(start)
        let remaining = fraction > 0.001 ? elapsed / fraction - elapsed : 0
        let width = 24, filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let line = String(format: "%@ %@ %3.0f%%  %@  %@ elapsed, %@ left", label, bar, fraction * 100, detail,
                          Self.clock(elapsed), Self.clock(remaining))
        FileHandle.standardError.write(Data(((interactive ? "\r\u{1B}[K" : "") + line + (interactive ? "" : "\n")).utf8))
    }

    /// Ends the line.
    func finish(_ message: String? = nil) {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
        if let message { Output.note(message) }
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
