#!/usr/bin/env bash
# Regenerates the committed gallery under Graphs/ from the real model, the default transcoders and
# their feature pages (run `make demo` first): traces at the default pruning as SVG, DOT and the
# printed summary (Texas, France, tea, the IOI prompt with a 4,096-feature
# budget and verification, and the IOI logit difference " Mary" − " John"), two comparisons, and
# feature pages for the features named as arguments. Graphs go into the default store under
# gallery-* slugs (replaced on a rerun). Graphs/gallery.txt lists each picture's size in pixels
# (rendered at 72 dpi, Graphviz's points) and how many nodes and edges it draws.
set -euo pipefail
cd "$(dirname "$0")/.."
unset OPENBLAS_CORETYPE
c=.build/release/circuitry
IOI="When Mary and John went to the store, John gave a drink to"
trace() {    # slug prompt [options…]
  local slug=$1 prompt=$2
  shift 2
  $c graphs delete "gallery-$slug" --keep-space >/dev/null 2>&1 || true
  $c trace "$prompt" --slug "gallery-$slug" "$@" \
     --svg "Graphs/gallery-$slug.svg" --dot "Graphs/gallery-$slug.dot" 2>/dev/null \
     | sed "s|saved in .*/Graphs/|saved in Graphs/|" > "Graphs/gallery-$slug.txt"
}
# Gemma 3 270M with its default set (models/transcoders/gemma-3-270m-default, from
# `circuitry transcoders train --model gemma-3-270m --output-hook hook_mlp_out` and `features build`
# for it): a landmark's city, an antonym, the IOI sentence. GALLERY=gemma makes only these.
gemma=(--model gemma-3-270m --transcoders models/transcoders/gemma-3-270m-default)
if [ "${GALLERY:-all}" != qwen ] && [ -f models/transcoders/gemma-3-270m-default/config.yaml ]; then
  trace gemma-eiffel "The Eiffel Tower is located in the city of" "${gemma[@]}" --verify
  trace gemma-opposite "The opposite of hot is" "${gemma[@]}"
  trace gemma-ioi "$IOI" "${gemma[@]}" --max-feature-nodes 4096
fi
# Qwen2.5 0.5B with its default set (models/transcoders/qwen2.5-0.5b-default, from `circuitry
# transcoders train --model qwen2.5-0.5b` and `features build` for it): the same three prompts.
# GALLERY=qwen makes only these.
qwen=(--model qwen2.5-0.5b --transcoders models/transcoders/qwen2.5-0.5b-default)
if [ "${GALLERY:-all}" != gemma ] && [ -f models/transcoders/qwen2.5-0.5b-default/config.yaml ]; then
  trace qwen-eiffel "The Eiffel Tower is located in the city of" "${qwen[@]}" --verify
  trace qwen-opposite "The opposite of hot is" "${qwen[@]}"
  trace qwen-ioi "$IOI" "${qwen[@]}" --max-feature-nodes 4096
fi
if [ "${GALLERY:-all}" = all ]; then
trace texas "The capital of Texas is"
trace france "The capital of France is"
trace tea "I like to drink green tea with"
trace ioi "$IOI" --max-feature-nodes 4096 --verify
trace ioi-mary-john "$IOI" --max-feature-nodes 4096 --target " Mary" --minus " John" --verify
# The interchange file of a graph at the default pruning is several megabytes; the committed one is
# Texas pruned at node threshold 0.5 and edge threshold 0.9 (traced into a throwaway store).
scratch=$(mktemp -d)
$c trace "The capital of Texas is" --slug gallery-texas-pruned --node-threshold 0.5 --edge-threshold 0.9 --store "$scratch/s.sqlite" \
   --json-out Graphs/gallery-texas-pruned.json > /dev/null 2>&1
rm -rf "$scratch"
for other in france tea; do
  $c compare gallery-texas "gallery-$other" --svg "Graphs/compare-texas-$other.svg" --dot "Graphs/compare-texas-$other.dot" \
     > "Graphs/compare-texas-$other.txt"
  $c compare gallery-texas "gallery-$other" --json > "Graphs/compare-texas-$other.json"
done
for f in "$@"; do $c feature "$f" > "Graphs/feature-${f//\//-}.txt"; done
fi

# What each picture shows: its size and the nodes and edges it draws (from its DOT).
{
  echo "picture                              pixels (w × h)   nodes drawn   edges drawn"
  for dot in Graphs/gallery-*.dot Graphs/compare-texas-*.dot; do
    svg=${dot%.dot}.svg
    size=$(grep -o '<svg width="[0-9]*pt" height="[0-9]*pt"' "$svg" | sed -E 's/.*width="([0-9]+)pt" height="([0-9]+)pt"/\1 × \2/')
    nodes=$(grep -cE '^  n[0-9]+ \[' "$dot")
    edges=$(grep -cE '^  n[0-9]+ -> ' "$dot")
    printf "%-36s %-16s %-13s %s\n" "$svg" "$size" "$nodes" "$edges"
  done
} > Graphs/gallery.txt
cat Graphs/gallery.txt
