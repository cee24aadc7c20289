#!/usr/bin/env bash
# Circuitry against circuit-tracer on Gemma 3 270M: each prompt, with every active feature and
# with a 4,096 budget, one after the other in one session (run-peer-comparison.sh), then one
# summary line per run. circuit-tracer gets llama.cpp's token ids (Circuitry's tokenizer gives the
# same ids on every reference string), because transformers' tokenizer of the GGUF is wrong, and
# its token columns are scaled by √640 before rows are compared (RESULTS.md says why).
# Usage: run-gemma-comparisons.sh PEER_DIR GEMMA_HF_COPY TRANSCODERS OUT_DIR ["PROMPT" ...]
set -euo pipefail
peer=$1 hf=$2 tc=$3 out=$4; shift 4
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
[ $# -gt 0 ] || set -- "The Eiffel Tower is located in the city of" "The opposite of hot is"
mkdir -p "$out"
i=0
for prompt in "$@"; do
  ids=$("$root/.build/release/circuitry" tokenize --model gemma-3-270m --bos --json "$prompt" |
        python3 -c 'import json, sys; print(",".join(map(str, json.load(sys.stdin)["ids"])))')
  for budget in "" 4096; do
    i=$((i + 1))
    PEER_HF_MODEL=$hf CIRCUITRY_MODEL_ARG=gemma-3-270m PEER_TOKEN_IDS=$ids PEER_TOKEN_SCALE=25.298221 \
      bash "$here/run-peer-comparison.sh" "$peer" "$tc" "$out/run-$i" "$prompt" $budget > /dev/null
    python3 - "$out/run-$i/comparison.json" "$prompt" "${budget:-all}" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]!r} budget {sys.argv[3]}: active {d['active_features'][0]}/{d['active_features'][1]}, "
      f"logits equal {d['logit_nodes_equal']}, selected equal {d['selected_features_equal']}, "
      f"rows within 1e-3 {d.get('rows_within_1e-3')}/{d.get('rows')} (worst {d.get('worst_row_relative_difference', float('nan')):.2e}), "
      f"encodings {d.get('activation_max_abs_difference', float('nan')):.1e}, pruned {d['pruned_nodes'][0]}/{d['pruned_nodes'][1]}, "
      f"time {d['seconds_attribute'][0]:.2f}/{d['seconds_attribute'][1]:.1f} s ({d['speedup']:.1f}x), "
      f"peak {d['peak_rss_mb'][0]:.0f}/{d['peak_rss_mb'][1]:.0f} MB")
PY
  done
done
