#!/usr/bin/env bash
# Regenerates the committed gallery under Graphs/ from the real model, the default transcoders and
# their feature pages (run `make demo` first): three traces pruned for reading (node threshold 0.5,
# edge threshold 0.9) as SVG, DOT, interchange JSON and the printed summary, two comparisons, and
# three feature pages. Graphs go into the default store under gallery-* slugs (replaced on a rerun).
set -euo pipefail
cd "$(dirname "$0")/.."
unset OPENBLAS_CORETYPE
c=.build/release/circuitry
trace() {    # slug prompt
  $c graphs delete "gallery-$1" >/dev/null 2>&1 || true
  $c trace "$2" --slug "gallery-$1" --node-threshold 0.5 --edge-threshold 0.9 \
     --svg "Graphs/gallery-$1.svg" --dot "Graphs/gallery-$1.dot" --json "Graphs/gallery-$1.json" 2>/dev/null \
     | sed "s|saved in .*/Graphs/|saved in Graphs/|" > "Graphs/gallery-$1.txt"
}
trace texas "The capital of Texas is"
trace france "The capital of France is"
trace tea "I like to drink green tea with"
for other in france tea; do
  $c compare gallery-texas "gallery-$other" --svg "Graphs/compare-texas-$other.svg" > "Graphs/compare-texas-$other.txt"
  $c compare gallery-texas "gallery-$other" --json > "Graphs/compare-texas-$other.json"
done
for f in "$@"; do $c feature "$f" > "Graphs/feature-${f//\//-}.txt"; done
ls -la Graphs/gallery-* Graphs/compare-* Graphs/feature-* 2>/dev/null
