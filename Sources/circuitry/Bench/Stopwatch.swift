import Foundation

/// Wall-clock timing for benchmarks.
enum Stopwatch {
    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Runs `body` once to warm up, then repeatedly for at least `seconds` (and 3 runs);
    /// returns the median time of one run.
    static func median(seconds: Double = 0.5, _ body: () throws -> Void) rethrows -> Double {
        try body()
        var times = [Double]()
        let start = now()
        while times.count < 3 || now() - start < seconds {
            let t0 = now()
            try body()
            times.append(now() - t0)
        }
        times.sort()
        return times[times.count / 2]
    }

    /// The shortest of `runs` runs of `body` (at least one), in seconds.
    static func best(runs: Int, _ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<max(runs, 1) {
            let t0 = now()
            try body()
            best = min(best, now() - t0)
        }
        return best
    }

    /// Times `first` and `second` in alternating blocks (three rounds of a median-of-runs block
    /// each, so drift in machine speed affects both alike), pausing after each `second` block so
    /// helper threads it leaves spinning go idle; returns the median of each over the rounds.
    static func alternatingMedians(seconds: Double, _ first: () throws -> Void, _ second: () throws -> Void) rethrows -> (Double, Double) {
        var a = [Double](), b = [Double]()
        for _ in 0..<3 {
            a.append(try median(seconds: seconds / 6, first))
            b.append(try median(seconds: seconds / 6, second))
            usleep(300_000)
        }
        a.sort()
        b.sort()
        return (a[1], b[1])
    }
}
