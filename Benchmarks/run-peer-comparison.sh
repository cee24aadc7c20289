#!/usr/bin/env bash
# Runs circuit-tracer and Circuitry on the same model, transcoders and prompt, one after the other
# in the same session, and compares their graphs (compare-with-circuit-tracer.py).
# Usage: run-peer-comparison.sh PEER_DIR TRANSCODERS OUT_DIR "PROMPT" [MAX_FEATURE_NODES]
#   PEER_DIR: made by Benchmarks/peers/circuit-tracer-setup.sh; TRANSCODERS: a folder in
#   circuit-tracer's per-layer format (ours, or one made with --make-random-transcoders).
# Another model: PEER_HF_MODEL=its float32 Hugging Face copy, CIRCUITRY_MODEL_ARG=its --model value,
# NO_BOS=1 for a model whose prompts do not start with BOS (Qwen), and PEER_TOKEN_IDS=ids,... to give
# circuit-tracer llama.cpp's token ids where transformers' tokenizer of the GGUF is wrong (Gemma 3).
set -euo pipefail
peer=$1 tc=$2 out=$3 prompt=$4 budget=${5:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
peers=${CIRCUITRY_PEERS:-$here/peers}
unset OPENBLAS_CORETYPE
mkdir -p "$out"
hf=${PEER_HF_MODEL:-$peer/smollm2-hf}
model_args=() peer_bos=()
[ -n "${CIRCUITRY_MODEL_ARG:-}" ] && model_args=(--model "$CIRCUITRY_MODEL_ARG")
[ "${NO_BOS:-0}" = 1 ] && peer_bos=(--no-bos)
[ -n "${PEER_TOKEN_IDS:-}" ] && peer_bos+=(--token-ids "$PEER_TOKEN_IDS")
budget_args=()
[ -n "$budget" ] && budget_args=(--max-feature-nodes "$budget")
# circuit-tracer needs a budget; "every active feature" is a budget above any count.
"$peer/venv/bin/python" "$peers/circuit-tracer-run.py" --hf-model "$hf" --transcoders "$tc" --prompt "$prompt" \
  "${peer_bos[@]}" --out "$out/peer" --max-feature-nodes "${budget:-1000000}" > "$out/peer.log" 2>&1
"$root/.build/release/circuitry" bench attribution "${model_args[@]}" --prompt "$prompt" --transcoders "$tc" "${budget_args[@]}" --out "$out/ours" \
  > "$out/ours.log" 2>&1
python3 "$here/compare-with-circuit-tracer.py" "$out/ours" "$out/peer" | tee "$out/comparison.json"
