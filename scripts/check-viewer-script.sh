#!/usr/bin/env bash
# Checks the syntax of the viewer's script (embedded in Sources/Viewer/Assets/AppScript*.swift)
# with node --check, when node is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null || { echo "node is not installed; skipped"; exit 0; }
tmp=$(mktemp --suffix=.js)
trap 'rm -f "$tmp"' EXIT
python3 - "$tmp" <<'PY'
import re, sys
# The parts in the order AppScript.source joins them.
files = {"base": "AppScript.swift", "graphPages": "AppScript+Graph.swift", "otherPages": "AppScript+Pages.swift", "start": "AppScript.swift"}
parts = []
for name, file in files.items():
    text = open("Sources/Viewer/Assets/" + file).read()
    parts.append(re.search(r"static let " + name + r' = #"""\n(.*?)"""#', text, re.S).group(1))
open(sys.argv[1], "w").write("\n".join(parts))
PY
node --check "$tmp" && echo "viewer script: syntax ok"
