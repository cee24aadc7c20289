#!/usr/bin/env python3
"""Cross-validated probe accuracies from scikit-learn on the rows Circuitry cached, with
Circuitry's folds, against Circuitry's own (pip install scikit-learn safetensors numpy).

usage: probe-sklearn-check.py CIRCUITRY DATA.jsonl OUT_DIR [extra circuitry probe options]
Runs `circuitry probe --dump` once (activations cached once for both), fits
StandardScaler + LogisticRegression(C=1, lbfgs) per layer and fold, and writes
OUT_DIR/probe-sklearn.json: per-layer accuracies, the largest difference, and both tools' probe
times (activations excluded). Exits 1 when a layer differs by more than 0.02.
"""
import json, os, subprocess, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np
from safetensors.numpy import load_file
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

circuitry, data, out = sys.argv[1:4]
extra = sys.argv[4:]
os.makedirs(out, exist_ok=True)
dump = os.path.join(out, "probe-activations.safetensors")
report = json.loads(subprocess.run([circuitry, "probe", "--data", data, "--dump", dump, "--json"] + extra,
                                   check=True, capture_output=True, text=True).stdout)
tensors = load_file(dump)
labels = tensors["labels"].astype(int)
folds = tensors["folds"].astype(int)
k = folds.max() + 1
rows, worst = [], 0.0
start = time.perf_counter()
for layer_report in report["layers"]:
    layer = layer_report["layer"]
    x = tensors[f"layer_{layer}"].astype(np.float64)
    accuracies, iterations = [], 0
    for fold in range(k):
        train, test = folds != fold, folds == fold
        scaler = StandardScaler().fit(x[train])
        model = LogisticRegression(C=report["c"], max_iter=5000, tol=1e-8).fit(scaler.transform(x[train]), labels[train])
        iterations = max(iterations, int(np.max(model.n_iter_)))
        accuracies.append(float((model.predict(scaler.transform(x[test])) == labels[test]).mean()))
    ours = layer_report["accuracy"]
    theirs = float(np.mean(accuracies))
    worst = max(worst, abs(ours - theirs))
    rows.append({"layer": layer, "circuitry": ours, "sklearn": theirs, "sklearn_std": float(np.std(accuracies)),
                 "circuitry_std": layer_report.get("accuracy_std", layer_report.get("accuracyStd")), "difference": ours - theirs, "sklearn_iterations": iterations})
sklearn_seconds = time.perf_counter() - start
# scikit-learn's defaults (tol 1e-4, at most 100 iterations) stop sooner, further from the optimum.
start = time.perf_counter()
default_worst = 0.0
for layer_report, row in zip(report["layers"], rows):
    x = tensors[f"layer_{layer_report['layer']}"].astype(np.float64)
    accuracies = []
    for fold in range(k):
        train, test = folds != fold, folds == fold
        scaler = StandardScaler().fit(x[train])
        model = LogisticRegression(C=report["c"]).fit(scaler.transform(x[train]), labels[train])
        accuracies.append(float((model.predict(scaler.transform(x[test])) == labels[test]).mean()))
    row["sklearn_default_tolerance"] = float(np.mean(accuracies))
    default_worst = max(default_worst, abs(row["circuitry"] - row["sklearn_default_tolerance"]))
sklearn_default_seconds = time.perf_counter() - start
best = max(rows, key=lambda r: r["circuitry"])
result = {"data": data, "texts": report["texts"], "classes": report["classes"], "folds": int(k), "position": report.get("pos"),
          "site": report["site"], "sklearn_version": sklearn.__version__, "layers": rows, "max_abs_difference": worst,
          "best_layer": best["layer"], "best_accuracy": best["circuitry"],
          "circuitry_probe_seconds": report["probe_seconds"], "sklearn_probe_seconds": sklearn_seconds,
          "speed_ratio": sklearn_seconds / report["probe_seconds"],
          "sklearn_default_tolerance_seconds": sklearn_default_seconds, "max_abs_difference_default_tolerance": default_worst,
          "speed_ratio_default_tolerance": sklearn_default_seconds / report["probe_seconds"], "activation_seconds": report["activation_seconds"]}
with open(os.path.join(out, "probe-sklearn.json"), "w") as f:
    json.dump(result, f, indent=2)
for r in rows:
    print(f"layer {r['layer']:2d}  circuitry {r['circuitry']:.3f}  scikit-learn {r['sklearn']:.3f}  difference {r['difference']:+.3f}")
print(f"largest difference {worst:.3f}; best layer {best['layer']} ({best['circuitry']:.3f}); probes: circuitry {report['probe_seconds']:.2f} s, "
      f"scikit-learn {sklearn_seconds:.2f} s ({result['speed_ratio']:.1f}x; {sklearn_default_seconds:.2f} s, {result['speed_ratio_default_tolerance']:.1f}x, "
      f"at its default tolerance, largest difference {default_worst:.3f}); activations {report['activation_seconds']:.1f} s (once, shared)")
sys.exit(1 if worst > 0.02 else 0)
