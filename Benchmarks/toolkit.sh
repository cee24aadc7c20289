#!/usr/bin/env bash
# SAEs, probes, steering and monitors on SmolLM2, measured against sae-lens and scikit-learn.
#
# Usage: Benchmarks/toolkit.sh PYTHON [OUT]
#   PYTHON: a Python with sae-lens and scikit-learn (python3 -m venv v && v/bin/pip install sae-lens scikit-learn)
#   OUT:    results folder (default Benchmarks/results/toolkit)
# Trains the layer-15 SAE unless models/saes/smollm2-l15 exists (about 9 minutes on 2 cores), then
#   1. sae-lens-check.py: our SAE loads in sae-lens with the same encodings; sae-lens's random
#      SAEs (standard, topk, jumprelu) load in Circuitry with the same encodings;
#   2. probe-sklearn-check.py: per-layer cross-validated accuracy against scikit-learn on the same
#      rows and folds, and both tools' probe times;
#   3. steering: a strength-0 run against the unsteered one, the SAE's " Paris" feature (1949 in
#      our trained SAE: it fires on place names after "in") steered into an unrelated prompt, and
#      a happy/sad steering vector on a held-out prompt;
#   4. monitors chosen on Datasets/monitor-code-train.jsonl, measured on the test split.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:?usage: Benchmarks/toolkit.sh PYTHON [OUT]}
out=${2:-Benchmarks/results/toolkit}
bin=.build/release/circuitry
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
sae=models/saes/smollm2-l15
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ ! -f "$sae/cfg.json" ]; then
  /usr/bin/time -v "$bin" saes train --hook blocks.15.hook_resid_post --features 4096 --tokens 400000 --evaluate 64 --out "$sae" --json \
    > "$out/sae-train.json" 2> "$out/sae-train.log"
fi
cp "$sae/quality.json" "$out/sae-quality.json"
# The same layer with learned JumpReLU thresholds (about 8 minutes).
jumprelu=models/saes/smollm2-l15-jumprelu
if [ ! -f "$jumprelu/cfg.json" ]; then
  /usr/bin/time -v "$bin" saes train --hook blocks.15.hook_resid_post --method jumprelu --l1 0.001 --features 4096 --tokens 400000 \
    --evaluate 64 --out "$jumprelu" --json > "$out/sae-jumprelu-train.json" 2> "$out/sae-jumprelu-train.log"
fi
"$bin" saes info --sae "$sae" --json > "$out/sae-info.json"

echo "== sae-lens"
"$python" scripts/sae-lens-check.py "$bin" "$model" blocks.15.hook_resid_post "$work/sae-lens" "$sae" "$jumprelu" 2>/dev/null | tee "$out/sae-lens.txt"
cp "$work/sae-lens/sae-lens-check.json" "$out/"

echo "== probes"
"$python" scripts/probe-sklearn-check.py "$bin" Datasets/city-person.jsonl "$work/probes" | tee "$out/probes.txt"
cp "$work/probes/probe-sklearn.json" "$out/"
"$bin" probe --data Datasets/city-person.jsonl --svg Graphs/probe-city-person.svg > /dev/null 2>&1

echo "== steering"
prompt="My favourite thing to do on weekends is"
for s in 0 10 20 40; do
  "$bin" generate "$prompt" --sae "$sae" --steer "blocks.15.hook_resid_post:1949=$s" --watch " Paris" --watch " France" --max-tokens 16 --json \
    > "$out/steer-paris-$s.json" 2>/dev/null
done
"$bin" steering-vector --pairs Datasets/steering-happy-sad.jsonl --layer 6 --out "$out/happy-sad-l6.safetensors" > /dev/null 2>&1
held_out="After the long meeting, I went home and felt"
for s in -4 0 4; do
  "$bin" generate "$held_out" --steer-vector "$out/happy-sad-l6.safetensors=$s" --watch " happy" --watch " sad" --max-tokens 16 --json \
    > "$out/steer-vector-$s.json" 2>/dev/null
done
"$python" - "$out" <<'PY'
import json, sys, glob, os
out = sys.argv[1]
for name in ["steer-paris-0", "steer-paris-10", "steer-paris-20", "steer-paris-40", "steer-vector--4", "steer-vector-0", "steer-vector-4"]:
    r = json.load(open(os.path.join(out, name + ".json")))
    w = {x["token"]: x for x in r["watched"]}
    parts = [f"{t!r}: p {x['probability']:.2e} -> {x['steered_probability']:.2e} (logit {x['steered_logit'] - x['logit']:+.3f})" for t, x in w.items()]
    same = "identical ids" if r["unsteered_ids"] == r["steered_ids"] else "different continuation"
    if " happy" in w and " sad" in w:
        d0 = w[" happy"]["logit"] - w[" sad"]["logit"]; d1 = w[" happy"]["steered_logit"] - w[" sad"]["steered_logit"]
        parts.append(f"logit(happy) - logit(sad) {d0:+.3f} -> {d1:+.3f}")
    print(f"{name:16s} {same}; " + "; ".join(parts))
    print(f"{'':16s} steered: {r['steered_text']!r}")
PY

echo "== monitors"
"$bin" monitor select --texts Datasets/monitor-code-train.jsonl --positive code --sae "$sae" --top 3 --out "$out/monitors-any3.json" > "$out/monitor-select.txt" 2>/dev/null
cat "$out/monitor-select.txt"
for spec in "any3:--top 3" "top1:--top 1" "two-of-3:--top 3 --minimum-flags 2"; do
  name=${spec%%:*}; opts=${spec#*:}
  "$bin" monitor select --texts Datasets/monitor-code-train.jsonl --positive code --sae "$sae" $opts --out "$out/monitors-$name.json" > /dev/null 2>&1
  "$bin" monitor --features "$out/monitors-$name.json" --texts Datasets/monitor-code-test.jsonl --positive code --json > "$out/monitor-$name.json" 2>/dev/null
  "$python" -c "import json,sys; r=json.load(open('$out/monitor-$name.json')); print(f'$name: {r[\"flagged\"]} of {r[\"texts\"]} flagged, precision {r[\"precision\"]:.3f}, recall {r[\"recall\"]:.3f}, F1 {r[\"f1\"]:.3f}')"
done
