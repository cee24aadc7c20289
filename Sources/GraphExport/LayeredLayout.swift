// Pinned positions for pictures of attribution graphs, as the attribution-graph viewers draw them:
// one band per layer (token embeddings at the bottom, logits at the top), one column per token
// position. Only bands and columns that hold a drawn node take space, and each column is as wide
// as its most crowded cell, so the canvas is the size of what is drawn. A crowded cell wraps onto
// sub-rows of at most `perRow` nodes. Every node gets the same fixed box, wide enough for the
// longest label line, so no two boxes overlap. Each band is named at the left.

import Foundation
import GraphStore

struct LayeredLayout {
    /// One node to place: its band (0 for tokens, layer + 1, layers + 1 for logits), its column
    /// (position, or position from the end), and its label lines.
    struct Item {
        var id: String
        var band: Int
        var column: Int
        var lines: [String]
    }

    struct Placed {
        var x: Double
        var y: Double
    }

    /// Box size shared by every node (points).
    private(set) var nodeWidth = 0.0, nodeHeight = 0.0
    private(set) var positions = [String: Placed]()
    /// Band names at the left edge: (text, x, y).
    private(set) var bandLabels = [(text: String, x: Double, y: Double)]()

    static let characterWidth = 5.2, lineHeight = 11.5, gap = 14.0, bandGap = 26.0

    init(_ items: [Item], perRow: Int = 5, bandName: (Int) -> String) {
        let longest = items.flatMap(\.lines).map { Double($0.unicodeScalars.count) }.max() ?? 4
        nodeWidth = min(max(longest * Self.characterWidth + 12, 48), 200)
        nodeHeight = Double(items.map(\.lines.count).max() ?? 1) * Self.lineHeight + 8
        var cells = [[Int]: [Item]]()
        for item in items { cells[[item.band, item.column], default: []].append(item) }
        let bands = Set(items.map(\.band)).sorted(), columns = Set(items.map(\.column)).sorted()
        // Column widths: the widest cell of the column (in nodes per sub-row).
        var columnSlots = [Int: Int](), bandRows = [Int: Int]()
        for (key, members) in cells {
            columnSlots[key[1]] = max(columnSlots[key[1]] ?? 1, min(members.count, perRow))
        }
        for (key, members) in cells {
            let slots = columnSlots[key[1]]!
            bandRows[key[0]] = max(bandRows[key[0]] ?? 1, (members.count + slots - 1) / slots)
        }
        let labelWidth = 56.0
        var columnX = [Int: Double](), x = labelWidth
        for c in columns {
            columnX[c] = x
            x += Double(columnSlots[c]!) * (nodeWidth + Self.gap) + Self.gap * 2
        }
        // Graphviz's y grows upwards: band 0 (tokens) at the bottom, logits on top.
        var bandY = [Int: Double](), y = 0.0
        for b in bands {
            bandY[b] = y
            y += Double(bandRows[b]!) * (nodeHeight + Self.gap) + Self.bandGap
        }
        for (key, members) in cells {
            let slots = columnSlots[key[1]]!
            for (i, item) in members.sorted(by: { $0.id < $1.id }).enumerated() {
                let (row, slot) = (i / slots, i % slots)
                let inRow = min(slots, members.count - row * slots)
                let cellWidth = Double(slots) * (nodeWidth + Self.gap)
                let left = columnX[key[1]]! + (cellWidth - Double(inRow) * (nodeWidth + Self.gap)) / 2
                positions[item.id] = Placed(x: left + (Double(slot) + 0.5) * (nodeWidth + Self.gap),
                                            y: bandY[key[0]]! + (Double(row) + 0.5) * (nodeHeight + Self.gap))
            }
        }
        for b in bands {
            bandLabels.append((bandName(b), labelWidth / 2, bandY[b]! + Double(bandRows[b]!) * (nodeHeight + Self.gap) / 2))
        }
    }

    /// DOT attributes pinning `id`: position, and the shared fixed box.
    func pin(_ id: String) -> String {
        let p = positions[id] ?? Placed(x: 0, y: 0)
        return String(format: "pos=\"%.1f,%.1f!\", width=%.3f, height=%.3f, fixedsize=true", p.x, p.y, nodeWidth / 72, nodeHeight / 72)
    }

    /// DOT statements for the band names at the left.
    func bandLabelStatements() -> [String] {
        bandLabels.enumerated().map { i, l in
            "  band\(i) [shape=plaintext, style=\"\", fontsize=10, fontcolor=\"#555555\", label=\(DisplayText.dotQuoted(l.text)), "
                + String(format: "pos=\"%.1f,%.1f!\"];", l.x, l.y)
        }
    }
}

