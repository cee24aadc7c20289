#!/usr/bin/env bash
# The viewer at real scale, on a copy of a store (default: the demo store):
#   1. API latency under load: wrk on loopback against the stored graph's reads (the graph list,
#      the graph view, a node's panel), 10 s each, 2 threads and 4 connections, as fast as it
#      goes; then paced at about 200 requests a second (Benchmarks/viewer-paced.lua), 20 s each;
#   2. in headless Chromium (the opt-in ViewerRealStoreBenchmark test, serving with the release
#      build): time to interactive for
#      the graph page, re-pruning round trips from the browser, and screenshots of each page
#      (written to Graphs/viewer-*.png).
# Usage: Benchmarks/viewer.sh [STORE] [GRAPH] [OTHER-GRAPH]; results in Benchmarks/results/viewer/.
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=${1:-Graphs/circuits.sqlite}
SLUG=${2:-the-capital-of-texas-is}
OTHER=${3:-gallery-france}
OUT=Benchmarks/results/viewer
FLAGS="$(grep -qw avx2 /proc/cpuinfo && echo "-Xswiftc -target-cpu -Xswiftc haswell")"
mkdir -p "$OUT"
unset OPENBLAS_CORETYPE
scripts/install-system-packages.sh wrk chromium chromium-driver
swift build -c release $FLAGS >/dev/null

copy=$(mktemp --suffix=.sqlite); log=$(mktemp)
cp "$STORE" "$copy"
.build/release/circuitry serve --store "$copy" --port 0 --no-trace --token viewer-benchmark-token 2> "$log" &
pid=$!
trap 'kill -INT $pid 2>/dev/null || true; rm -f "$copy" "$log"' EXIT
for _ in $(seq 100); do grep -q "open http" "$log" && break; sleep 0.1; done
port=$(grep -o "127.0.0.1:[0-9]*" "$log" | head -1 | cut -d: -f2)
base="http://127.0.0.1:$port"
node=$(curl -s "$base/api/graphs/$SLUG" | python3 -c "import json,sys; d=json.load(sys.stdin); print(max((n for n in d['nodes'] if n['kind']=='feature'), key=lambda n: n['infl'])['i'])")
{
  echo "# wrk on loopback, $(date -u +%F), $(nproc) cores; store $STORE, graph $SLUG"
  for path in "/api/graphs" "/api/graphs/$SLUG" "/api/graphs/$SLUG/nodes/$node"; do
    curl -s -o /dev/null "$base$path"     # warm the caches
    echo; echo "## GET $path ($(curl -s -o /dev/null -w '%{size_download}' "$base$path") bytes)"
    wrk -t2 -c4 -d10s --latency "$base$path" | grep -E "Latency|50%|90%|99%|Requests/sec|requests in"
  done
  echo; echo "# paced: about 200 requests a second (4 connections, 17 ms between a connection's answer and its next request), 20 s each"
  for path in "/api/graphs" "/api/graphs/$SLUG" "/api/graphs/$SLUG/nodes/$node"; do
    echo; echo "## GET $path, paced"
    wrk -t2 -c4 -d20s --latency -s Benchmarks/viewer-paced.lua "$base$path" | grep -E "Latency|50%|90%|99%|Requests/sec|requests in"
  done
} | tee "$OUT/wrk.txt"
kill -INT $pid; wait $pid 2>/dev/null || true

CIRCUITRY_BINARY="$PWD/.build/release/circuitry" CIRCUITRY_VIEWER_STORE="$STORE" CIRCUITRY_VIEWER_GRAPH="$SLUG" CIRCUITRY_VIEWER_OTHER="$OTHER" CIRCUITRY_SCREENSHOTS=Graphs \
  CIRCUITRY_VIEWER_REPORT="$OUT/browser.json" swift test $FLAGS --filter ViewerRealStoreBenchmark 2>&1 | grep -E "viewer benchmark|✘|passed|failed" || true
echo "browser: $(cat "$OUT/browser.json" 2>/dev/null)"
