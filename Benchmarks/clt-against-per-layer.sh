#!/usr/bin/env bash
# A cross-layer transcoder against a per-layer set on the same model: each set's held-out quality
# (`transcoders eval`: FVU per layer, L0, dead, spliced loss) and the replacement and completeness
# scores of the graphs of three prompts, every active feature computed.
# Usage: clt-against-per-layer.sh PER_LAYER_DIR CLT_DIR OUT_DIR [MODEL]
set -euo pipefail
plt=$1 clt=$2 out=$3 model=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
bin="$here/../.build/release/circuitry"
model_args=()
[ -n "$model" ] && model_args=(--model "$model")
unset OPENBLAS_CORETYPE
mkdir -p "$out"
prompts=("The capital of Texas is" "The opposite of hot is" "When Mary and John went to the store, John gave a drink to")
for name in plt clt; do
  dir=$([ $name = plt ] && echo "$plt" || echo "$clt")
  "$bin" transcoders eval "${model_args[@]}" --transcoders "$dir" --json > "$out/$name-quality.json"
  for i in "${!prompts[@]}"; do
    "$bin" bench attribution "${model_args[@]}" --transcoders "$dir" --prompt "${prompts[$i]}" --out "$out/$name-$i" > /dev/null
  done
done
python3 - "$out" "${prompts[@]}" <<'PY'
import json, sys
out, prompts = sys.argv[1], sys.argv[2:]
for name in ("plt", "clt"):
    q = json.load(open(f"{out}/{name}-quality.json"))
    print(f"{name}: median FVU {q['median_fvu']:.3f} (worst {q['worst_fvu']:.3f}), L0 {q['mean_l0']:.1f}, dead {100 * q['dead_fraction']:.1f}%, "
          f"spliced loss {q['original_loss']:.3f} -> {q['spliced_loss']:.3f} (+{q['spliced_loss_increase']:.2f}) on {q['tokens']} tokens")
    print("   per-layer FVU: " + " ".join(f"{l['fvu']:.2f}" for l in q["layers"]))
    for i, p in enumerate(prompts):
        r = json.load(open(f"{out}/{name}-{i}/result.json"))
        print(f"   {p!r}: {r['active_features']} active features, replacement {r['replacement_score']:.3f}, "
              f"completeness {r['completeness_score']:.3f}, {r['seconds_attribute']:.2f} s")
PY
