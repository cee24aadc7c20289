#!/usr/bin/env bash
# The analyses' pictures in Graphs/ (the README shows them): SmolLM2 on the IOI sentence and the
# Texas prompt. Usage: scripts/make-analysis-gallery.sh [circuitry binary]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/release/circuitry}
clean="When Mary and John went to the store, John gave a drink to"
corrupt="When Mary and John went to the store, Mary gave a drink to"
"$bin" patch "$clean" "$corrupt" --metric "logit_diff( Mary, John)" --svg Graphs/analysis-ioi-patching.svg > Graphs/analysis-ioi-patching.txt
"$bin" dla "$clean" --target " Mary" --minus " John" --svg Graphs/analysis-ioi-dla.svg > Graphs/analysis-ioi-dla.txt
"$bin" heads "$clean" --svg Graphs/analysis-ioi-heads.svg > Graphs/analysis-ioi-heads.txt
"$bin" lens "$clean" --target " Mary" --svg Graphs/analysis-ioi-lens.svg > Graphs/analysis-ioi-lens.txt
"$bin" lens "The capital of Texas is" --target " Austin" --svg Graphs/analysis-texas-lens.svg > Graphs/analysis-texas-lens.txt
"$bin" heads "$clean" --pattern 23.3 --svg Graphs/analysis-ioi-head-23-3.svg > Graphs/analysis-ioi-head-23-3.txt
"$bin" patch "$clean" "$corrupt" --metric "logit_diff( Mary, John)" --path-to 23.3 --receiver-input q --svg Graphs/analysis-ioi-path-23-3.svg > Graphs/analysis-ioi-path-23-3.txt
