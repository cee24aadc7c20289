#!/usr/bin/env bash
# Checks the syntax of the viewer's script (embedded in Sources/Viewer/Assets/AppScript.swift)
# with node --check, when node is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null || { echo "node is not installed; skipped"; exit 0; }
tmp=$(mktemp --suffix=.js)
trap 'rm -f "$tmp"' EXIT
python3 - "$tmp" <<'PY'
import re, sys
text = open("Sources/Viewer/Assets/AppScript.swift").read()
body = text.split('#"""\n', 1)[1].rsplit('"""#', 1)[0]
open(sys.argv[1], "w").write(body)
PY
node --check "$tmp" && echo "viewer script: syntax ok"
