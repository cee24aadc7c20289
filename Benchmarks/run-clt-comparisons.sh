#!/usr/bin/env bash
# Circuitry against circuit-tracer with cross-layer transcoders: each prompt traced by both, one
# after the other in the same session (run-peer-comparison.sh), then one summary line per run.
# Usage: run-clt-comparisons.sh PEER_DIR TRANSCODERS OUT_DIR BUDGET ["PROMPT" ...]
#   TRANSCODERS: a CLT folder in circuit-tracer's layout (random ones come from
#   circuit-tracer-run.py --make-random-transcoders DIR --hf-model HF --kind clt, or one trained
#   with `circuitry transcoders train --cross-layer`).
# Gemma 3 270M: MODEL=gemma-3-270m PEER_HF_MODEL=its float32 Hugging Face copy. circuit-tracer
# then gets llama.cpp's token ids (Circuitry's tokenizer gives the same ids), and its token
# columns are scaled by √640 before rows are compared (RESULTS.md says why); with
# CIRCUITRY_PEERS pointing at a copy of the peer script that scales circuit-tracer's embedding
# rows (SCALE_EMBED), the pruned node sets can be compared too.
set -euo pipefail
peer=$1 tc=$2 out=$3 budget=$4; shift 4
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
[ $# -gt 0 ] || set -- "The capital of Texas is" "The opposite of hot is"
mkdir -p "$out"
i=0
for prompt in "$@"; do
  i=$((i + 1))
  if [ "${MODEL:-}" = gemma-3-270m ]; then
    ids=$("$root/.build/release/circuitry" tokenize --model gemma-3-270m --bos --json "$prompt" |
          python3 -c 'import json, sys; print(",".join(map(str, json.load(sys.stdin)["ids"])))')
    CIRCUITRY_MODEL_ARG=gemma-3-270m PEER_TOKEN_IDS=$ids PEER_TOKEN_SCALE=${PEER_TOKEN_SCALE:-25.298221} \
      bash "$here/run-peer-comparison.sh" "$peer" "$tc" "$out/run-$i" "$prompt" "$budget" > /dev/null
  else
    bash "$here/run-peer-comparison.sh" "$peer" "$tc" "$out/run-$i" "$prompt" "$budget" > /dev/null
  fi
  python3 - "$out/run-$i/comparison.json" "$prompt" "$budget" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]!r} budget {sys.argv[3]}: active {d['active_features'][0]}/{d['active_features'][1]}, "
      f"logits equal {d['logit_nodes_equal']}, selected equal {d['selected_features_equal']}, "
      f"rows within 1e-3 {d.get('rows_within_1e-3')}/{d.get('rows')} (worst {d.get('worst_row_relative_difference', float('nan')):.2e}), "
      f"encodings {d.get('activation_max_abs_difference', float('nan')):.1e}, pruned {d['pruned_nodes'][0]}/{d['pruned_nodes'][1]} "
      f"equal {d['pruned_nodes_equal']}, time {d['seconds_attribute'][0]:.2f}/{d['seconds_attribute'][1]:.1f} s ({d['speedup']:.1f}x), "
      f"peak {d['peak_rss_mb'][0]:.0f}/{d['peak_rss_mb'][1]:.0f} MB")
PY
done
