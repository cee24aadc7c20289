// Pictures of the analyses as standalone SVG: a grid of coloured cells (layers × positions, layers ×
// heads, queries × keys) and a bar chart by layer. Every text — token strings above all — is data,
// escaped for XML, with control characters shown as escapes.

import Foundation

/// Text safe inside SVG elements and attributes.
public func svgEscaped(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F || (0xFFFE...0xFFFF).contains(scalar.value) {
                out += String(format: "\\x%02X", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}

/// Room for a title (15 px bold) and a subtitle (11 px) on one line each.
func textWidth(_ title: String, _ subtitle: String) -> Double {
    max(9.5 * Double(title.count), 6.2 * Double(subtitle.count)) + 30
}

/// A grid of values drawn as coloured cells, with row and column labels and optional cell text.
public struct Heatmap: Sendable {
    public enum Scale: Sendable {
        /// White at `low`, dark blue at `high`.
        case sequential(low: Double, high: Double)
        /// Red below zero, white at zero, blue above, saturating at ±`limit`.
        case diverging(limit: Double)
    }

    public var title: String
    public var subtitle: String
    public var rowLabels: [String]
    public var columnLabels: [String]
    /// [row][column]; nil cells are drawn grey.
    public var values: [[Double?]]
    public var cellText: [[String]]?
    public var scale: Scale
    public var rowAxis: String, columnAxis: String

    public init(title: String, subtitle: String = "", rowLabels: [String], columnLabels: [String], values: [[Double?]],
                cellText: [[String]]? = nil, scale: Scale, rowAxis: String, columnAxis: String) {
        (self.title, self.subtitle, self.rowLabels, self.columnLabels) = (title, subtitle, rowLabels, columnLabels)
        (self.values, self.cellText, self.scale, self.rowAxis, self.columnAxis) = (values, cellText, scale, rowAxis, columnAxis)
    }

    /// The scale for values symmetric around zero, or from zero up.
    public static func fitting(_ values: [[Double?]], diverging: Bool) -> Scale {
        let finite = values.joined().compactMap { $0 }.filter(\.isFinite)
        let limit = max(finite.map(abs).max() ?? 1, 1e-12)
        return diverging ? .diverging(limit: limit) : .sequential(low: 0, high: max(finite.max() ?? 1, 1e-12))
    }

    func colour(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "#d0d0d0" }
        func mix(_ t: Double, _ to: (Double, Double, Double)) -> String {
            let t = min(max(t, 0), 1)
            let c = [to.0, to.1, to.2].map { Int((255 + (($0 - 255) * t)).rounded()) }
            return String(format: "#%02x%02x%02x", c[0], c[1], c[2])
        }
        switch scale {
        case let .sequential(low, high):
            return mix((value - low) / max(high - low, 1e-12), (8, 48, 107))
        case let .diverging(limit):
            return value >= 0 ? mix(value / limit, (33, 102, 172)) : mix(-value / limit, (178, 24, 43))
        }
    }

    /// Black or white text, whichever reads on the cell.
    func ink(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "#000" }
        let t: Double = switch scale {
        case let .sequential(low, high): (value - low) / max(high - low, 1e-12)
        case let .diverging(limit): abs(value) / limit
        }
        return t > 0.6 ? "#fff" : "#000"
    }

    public func svg() -> String {
        let text = cellText != nil
        let cellWidth = text ? 64.0 : 28.0, cellHeight = text ? 22.0 : 18.0
        let labelWidth = max(9.0 * Double(max(rowLabels.map(\.count).max() ?? 4, 4)) + 24, 7.0 * Double(rowAxis.count + 2) + 16)
        let columnLabelHeight = min(7.0 * Double(columnLabels.map(\.count).max() ?? 4) + 20, 150)
        let top = 56.0 + columnLabelHeight
        let width = max(labelWidth + cellWidth * Double(columnLabels.count) + 110, textWidth(title, subtitle))
        let height = top + cellHeight * Double(rowLabels.count) + 40
        var s = String(format: "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"11\">\n", width, height)
        s += String(format: "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", width, height)
        s += "<text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">\(svgEscaped(title))</text>\n"
        s += "<text x=\"10\" y=\"38\" fill=\"#444\">\(svgEscaped(subtitle))</text>\n"
        for (j, label) in columnLabels.enumerated() {
            let x = labelWidth + cellWidth * (Double(j) + 0.5)
            s += String(format: "<text transform=\"translate(%.1f,%.1f) rotate(-60)\" fill=\"#222\">%@</text>\n", x, top - 6, svgEscaped(label))
        }
        s += String(format: "<text x=\"%.1f\" y=\"%.1f\" fill=\"#666\">%@ →</text>\n", labelWidth, height - 12, svgEscaped(columnAxis))
        s += String(format: "<text x=\"10\" y=\"%.1f\" fill=\"#666\">%@ ↓</text>\n", top - 6, svgEscaped(rowAxis))
        for (i, label) in rowLabels.enumerated() {
            let y = top + cellHeight * Double(i)
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%@</text>\n", labelWidth - 6, y + cellHeight * 0.7, svgEscaped(label))
            for j in columnLabels.indices {
                let value = values[i][j]
                let x = labelWidth + cellWidth * Double(j)
                let tip = value.map { String(format: "%.4g", $0) } ?? "n/a"
                s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\" stroke=\"#fff\"><title>%@ %@, %@ %@: %@</title></rect>\n",
                            x, y, cellWidth, cellHeight, colour(value), svgEscaped(rowAxis), svgEscaped(label), svgEscaped(columnAxis),
                            svgEscaped(columnLabels[j]), tip)
                if let cellText, !cellText[i][j].isEmpty {
                    let shown = cellText[i][j].count > 9 ? String(cellText[i][j].prefix(8)) + "…" : cellText[i][j]
                    s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\" fill=\"%@\">%@</text>\n",
                                x + cellWidth / 2, y + cellHeight * 0.68, ink(value), svgEscaped(shown))
                }
            }
        }
        // The colour key.
        let keyX = labelWidth + cellWidth * Double(columnLabels.count) + 20
        let (low, high): (Double, Double) = switch scale {
        case let .sequential(low, high): (low, high)
        case let .diverging(limit): (-limit, limit)
        }
        for k in 0..<10 {
            let v = high - (high - low) * Double(k) / 9
            s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"12\" fill=\"%@\"/>\n", keyX, top + 12 * Double(k), colour(v))
        }
        s += String(format: "<text x=\"%.1f\" y=\"%.1f\">%@</text>\n", keyX + 18, top + 10, String(format: "%.3g", high))
        s += String(format: "<text x=\"%.1f\" y=\"%.1f\">%@</text>\n", keyX + 18, top + 118, String(format: "%.3g", low))
        return s + "</svg>\n"
    }
}

/// Bars by layer for a few series side by side (direct logit attribution: attention and MLP).
public struct BarChart: Sendable {
    public var title: String, subtitle: String
    public var labels: [String]
    public var series: [(name: String, colour: String, values: [Double])]

    public init(title: String, subtitle: String, labels: [String], series: [(name: String, colour: String, values: [Double])]) {
        (self.title, self.subtitle, self.labels, self.series) = (title, subtitle, labels, series)
    }

    public func svg() -> String {
        let group = 10.0 * Double(series.count) + 8
        let left = 60.0, plotHeight = 260.0, top = 70.0
        let width = max(left + group * Double(labels.count) + 150, textWidth(title, subtitle))
        let height = top + plotHeight + 60
        let limit = max(series.flatMap(\.values).filter(\.isFinite).map(abs).max() ?? 1, 1e-12)
        let zero = top + plotHeight / 2
        var s = String(format: "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"11\">\n", width, height)
        s += String(format: "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", width, height)
        s += "<text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">\(svgEscaped(title))</text>\n"
        s += "<text x=\"10\" y=\"38\" fill=\"#444\">\(svgEscaped(subtitle))</text>\n"
        s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>\n", left, zero, left + group * Double(labels.count), zero)
        for (y, v) in [(top, limit), (zero, 0), (top + plotHeight, -limit)] {
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%@</text>\n", left - 4, y + 4, String(format: "%.3g", v))
        }
        for (i, label) in labels.enumerated() {
            let x0 = left + group * Double(i)
            for (k, item) in series.enumerated() {
                let v = item.values[i].isFinite ? item.values[i] : 0
                let h = abs(v) / limit * plotHeight / 2
                s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"9\" height=\"%.2f\" fill=\"%@\"><title>%@ %@: %@</title></rect>\n",
                            x0 + 4 + 10 * Double(k), v >= 0 ? zero - h : zero, h, item.colour, svgEscaped(item.name), svgEscaped(label),
                            String(format: "%.4g", item.values[i]))
            }
            if labels.count <= 40 || i % 2 == 0 {
                s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"9\">%@</text>\n",
                            x0 + group / 2, top + plotHeight + 14, svgEscaped(label))
            }
        }
        for (k, item) in series.enumerated() {
            let y = top + 14 * Double(k)
            let x = left + group * Double(labels.count) + 16
            s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%@\"/>", x, y, item.colour)
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\">%@</text>\n", x + 14, y + 9, svgEscaped(item.name))
        }
        return s + "</svg>\n"
    }
}

/// Accuracy (0–1) by layer: one line per series with ±1 standard deviation as a band, and a dashed
/// line at chance.
public struct AccuracyChart: Sendable {
    public var title: String, subtitle: String
    public var labels: [String]
    public var series: [(name: String, colour: String, mean: [Double], std: [Double])]
    public var chance: Double

    public init(title: String, subtitle: String, labels: [String], series: [(name: String, colour: String, mean: [Double], std: [Double])], chance: Double) {
        (self.title, self.subtitle, self.labels, self.series, self.chance) = (title, subtitle, labels, series, chance)
    }

    public func svg() -> String {
        let left = 60.0, top = 60.0, plotHeight = 240.0, step = 22.0
        let plotWidth = step * Double(max(labels.count - 1, 1))
        let width = max(left + plotWidth + 200, textWidth(title, subtitle)), height = top + plotHeight + 56
        // The y axis spans from a little below the lowest value (or chance) to 1.
        let lowest = min(chance, series.flatMap { zip($0.mean, $0.std).map { $0 - $1 } }.filter(\.isFinite).min() ?? 0)
        let floor = max(0, (lowest * 10).rounded(.down) / 10)
        func x(_ i: Int) -> Double { left + step * Double(i) }
        func y(_ v: Double) -> Double { top + plotHeight * (1 - (min(max(v, floor), 1) - floor) / max(1 - floor, 1e-9)) }
        var s = String(format: "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"11\">\n", width, height)
        s += String(format: "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", width, height)
        s += "<text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">\(svgEscaped(title))</text>\n"
        s += "<text x=\"10\" y=\"38\" fill=\"#444\">\(svgEscaped(subtitle))</text>\n"
        var tick = floor
        while tick <= 1.0001 {
            s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n",
                        left, y(tick), left + plotWidth, y(tick), left - 6, y(tick) + 4, tick)
            tick += 0.1
        }
        s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"#777\">chance %.2f</text>\n",
                    left, y(chance), left + plotWidth, y(chance), left + plotWidth + 6, y(chance) + 4, chance)
        for item in series {
            let upper = item.mean.indices.map { String(format: "%.1f,%.1f", x($0), y(item.mean[$0] + item.std[$0])) }
            let lower = item.mean.indices.reversed().map { String(format: "%.1f,%.1f", x($0), y(item.mean[$0] - item.std[$0])) }
            s += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(item.colour)\" fill-opacity=\"0.18\"/>\n"
            s += "<polyline points=\"\(item.mean.indices.map { String(format: "%.1f,%.1f", x($0), y(item.mean[$0])) }.joined(separator: " "))\" fill=\"none\" stroke=\"\(item.colour)\" stroke-width=\"2\"/>\n"
            for (i, v) in item.mean.enumerated() {
                s += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%@\"><title>%@ layer %@: %.3f ± %.3f</title></circle>\n",
                            x(i), y(v), item.colour, svgEscaped(item.name), svgEscaped(labels[i]), v, item.std[i])
            }
        }
        for (i, label) in labels.enumerated() where labels.count <= 40 || i % 2 == 0 {
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"9\">%@</text>\n", x(i), top + plotHeight + 16, svgEscaped(label))
        }
        s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#444\">layer</text>\n", left + plotWidth / 2, top + plotHeight + 34)
        for (k, item) in series.enumerated() {
            let yy = top + 16 * Double(k), xx = left + plotWidth + 16
            s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%@\"/><text x=\"%.1f\" y=\"%.1f\">%@</text>\n",
                        xx, yy, item.colour, xx + 14, yy + 9, svgEscaped(item.name))
        }
        return s + "</svg>\n"
    }
}
