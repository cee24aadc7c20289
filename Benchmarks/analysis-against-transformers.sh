#!/usr/bin/env bash
# The analyses (logit lens, activation patching, direct logit attribution, head scores) on a real
# model against scripts/make-analysis-reference.py — transformers with PyTorch forward hooks, one
# forward pass per patching cell as TransformerLens's act-patching functions run it — in the same
# run, on the same token ids. Prints every worst difference and the patching scan's time on both.
#
#   Benchmarks/analysis-against-transformers.sh PYTHON HF_FOLDER [GGUF_OR_MODEL] [OUT_DIR]
#
# PYTHON: a Python with torch and transformers; HF_FOLDER: a float32 Hugging Face copy of the same
# weights Circuitry runs (for SmolLM2, the copy that circuit-tracer's set-up makes of the GGUF).
set -euo pipefail
cd "$(dirname "$0")/.."
python=$1; hf=$2; model=${3:-smollm2-135m}; out=${4:-Benchmarks/results/analysis}
mkdir -p "$out"
bin=${CIRCUITRY_BINARY:-.build/release/circuitry}
clean=${CLEAN:-"When Mary and John went to the store, John gave a drink to"}
corrupt=${CORRUPT:-"When Mary and John went to the store, Mary gave a drink to"}
metric=${METRIC:-"logit_diff( Mary, John)"}
a_text=${A_TEXT:-" Mary"}; b_text=${B_TEXT:-" John"}
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE

echo "== Circuitry ($bin, model $model)"
"$bin" patch "$clean" "$corrupt" --metric "$metric" --model "$model" --json > "$out/patch.json"
"$bin" patch "$clean" "$corrupt" --metric "$metric" --model "$model" --path-to "${RECEIVERS:-23.3}" --json > "$out/path.json"
"$bin" lens "$clean" --target "$a_text" --model "$model" --json > "$out/lens.json"
"$bin" dla "$clean" --target "$a_text" --minus "$b_text" --model "$model" --json > "$out/dla.json"
"$bin" heads "$clean" --model "$model" --json > "$out/heads.json"
lens_file="$out/tuned-lens.safetensors"
{ [ -f "$lens_file" ] && [ -f "$out/lens-train.json" ]; } || "$bin" lens train --model "$model" --out "$lens_file" --json > "$out/lens-train.json"
"$bin" lens "$clean" --target "$a_text" --model "$model" --tuned --lens "$lens_file" --json > "$out/tuned.json"

ids=$("$python" -c "import json; d=json.load(open('$out/patch.json')); print(','.join(map(str, d['token_ids'])), ','.join(map(str, d['corrupt_token_ids'])), *d['metric_token_ids'])")
read -r clean_ids corrupt_ids a b <<< "$ids"
repeated=$("$python" -c "import json; print(','.join(map(str, json.load(open('$out/heads.json'))['repeated_token_ids'])))")
length=$("$python" -c "import json; r=json.load(open('$out/heads.json'))['repeated_token_ids']; print((len(r) - 1) // 2)")

echo "== transformers reference ($hf)"
"$python" scripts/make-analysis-reference.py hf "$hf" --clean-ids "$clean_ids" --corrupt-ids "$corrupt_ids" --a "$a" --b "$b" \
    --repeated-ids "$repeated" --length "$length" --offset 1 --tuned "$lens_file" --path-to "${RECEIVERS:-23.3}" --out "$out/reference.json"

"$python" - "$out" <<'PY'
import json, sys
out = sys.argv[1]
load = lambda n: json.load(open(f"{out}/{n}.json"))
patch, lens, dla, heads, ref = load("patch"), load("lens"), load("dla"), load("heads"), load("reference")
tuned, train, path = load("tuned"), load("lens-train"), load("path")
worst = lambda a, b: max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))
lines = []
w = max(worst(s["values"], ref["patching"]["sites"][s["site"]]) for s in patch["sites"])
span = ref["patching"]["clean"] - ref["patching"]["corrupt"]
ws = max(worst(s["scores"], [[(v - ref["patching"]["corrupt"]) / span for v in row] for row in ref["patching"]["sites"][s["site"]]]) for s in patch["sites"])
lines.append(f"patching: {sum(len(s['values']) * len(s['values'][0]) for s in patch['sites'])} cells, worst |metric difference| {w:.2e}, worst |score difference| {ws:.2e}")
lines.append(f"  clean {patch['clean']:.4f} vs {ref['patching']['clean']:.4f}; corrupted {patch['corrupt']:.4f} vs {ref['patching']['corrupt']:.4f}")
probs = [[c["target_prob"] for c in row["cells"]] for row in lens["rows"]]
lines.append(f"logit lens: {len(probs)} x {len(probs[0])} cells, worst |P(target) difference| {worst(probs, ref['lens']['target_prob']):.2e}")
top_same = sum(row["cells"][i]["top"][0]["id"] == ref["lens"]["top"][r][i] for r, row in enumerate(lens["rows"]) for i in range(len(row["cells"])))
lines.append(f"  top token equal in {top_same} of {len(probs) * len(probs[0])} cells")
tp = [[c["target_prob"] for c in row["cells"]] for row in tuned["rows"]]
lines.append(f"tuned lens (our translators applied by PyTorch): worst |P(target) difference| {worst(tp, ref['tuned']['target_prob']):.2e}")
kl = train["layers"]
lines.append("  mean KL(output || lens) on held-out text, logit lens -> tuned lens: " + ", ".join(
    f"{l['layer']}: {l['kl_logit_lens']:.2f} -> {l['kl_tuned_lens']:.2f}" for l in kl if l["layer"] in ("embed", "0", "5", "10", "15", "20", "25", "28")))
lines.append(f"  fitted on {train['tokens']} tokens in {train['seconds']:.1f} s")
d = ref["dla"]
wd = max(abs(dla["embed"] - d["embed"]), worst([dla["attention"], dla["mlp"], dla["accumulated"]], [d["attention"], d["mlp"], d["accumulated"]]),
         worst(dla["heads"], d["heads"]))
lines.append(f"direct logit attribution: worst |share difference| {wd:.2e}; shares sum {dla['total']:.5f}, logit difference {dla['logit']:.5f} (reference {d['logit']:.5f})")
hs = {h["layer"]: {} for h in heads["heads"]}
for h in heads["heads"]:
    hs[h["layer"]][h["head"]] = h
keys = [("previous_token", "previous_token"), ("bos", "bos"), ("entropy", "entropy"), ("induction", "induction"), ("duplicate", "duplicate")]
wh = max(abs(hs[l][k][ours] - ref["heads"][theirs][l][k]) for ours, theirs in keys for l in hs for k in hs[l])
lines.append(f"head scores: {len(heads['heads'])} heads x 5 scores, worst |difference| {wh:.2e}")
ind = sorted(heads["heads"], key=lambda h: -h["induction"])[:5]
lines.append("  strongest induction heads: " + ", ".join(f"L{h['layer']}.H{h['head']} {h['induction']:.3f}" for h in ind))
heads_site = next(s for s in patch["sites"] if s["site"] == "heads")
cells = sorted(((abs(v), l, h, v) for l, row in enumerate(heads_site["scores"]) for h, v in enumerate(row)), reverse=True)[:6]
lines.append("  heads whose patching moves the metric most: " + ", ".join(f"L{l}.H{h} {v:+.3f}" for _, l, h, v in cells))
wp = worst(path["values"], ref["path"]["q"])
lines.append(f"path patching into {', '.join(path['receivers'])} (q): {len(path['values'])} x {len(path['values'][0])} senders, worst |metric difference| {wp:.2e}; "
             f"{path['seconds']:.2f} s against {ref['path_seconds']:.2f} s ({ref['path_seconds'] / path['seconds']:.1f}x)")
ratio = ref["patching_seconds"] / patch["seconds"]
lines.append(f"patching scan time: Circuitry {patch['seconds']:.2f} s, transformers loop {ref['patching_seconds']:.2f} s (torch threads {ref['torch_threads']}): {ratio:.1f}x")
text = "\n".join(lines)
print(text)
open(f"{out}/summary.txt", "w").write(text + "\n")
PY
