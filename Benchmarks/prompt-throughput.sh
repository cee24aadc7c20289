#!/usr/bin/env bash
# Prompt throughput of Circuitry and llama.cpp on the same GGUF, measured alternately in one run
# (these machines are noisy; only ratios from one run count).
# Usage: Benchmarks/prompt-throughput.sh [LLAMA_PEER_DIR] [ROUNDS]
#   LLAMA_PEER_DIR: made by Benchmarks/peers/llama-cpp-setup.sh (default /tmp/llama-cpp-peer)
#   MODEL=qwen2.5-0.5b (or gemma-3-270m, or a GGUF path) measures another model.
set -euo pipefail
cd "$(dirname "$0")/.."
peer=${1:-/tmp/llama-cpp-peer}
rounds=${2:-3}
model=${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
[ -f "$model" ] || model=$(scripts/fetch-model.sh "$model")
bench=Benchmarks/peers/llama-cpp-bench.py
make -s build >/dev/null
unset OPENBLAS_CORETYPE
for round in $(seq "$rounds"); do
  echo "round $round"
  .build/release/circuitry bench model --model "$model" --tokens 128 --tokens 512 | sed 's/^/  circuitry: /'
  if [ -x "$peer/venv/bin/python" ]; then
    for n in 128 512; do "$peer/venv/bin/python" "$bench" "$model" --tokens "$n" | sed 's/^/  llama.cpp: /'; done
  else
    echo "  llama.cpp: not installed (run Benchmarks/peers/llama-cpp-setup.sh $peer)"
  fi
done
