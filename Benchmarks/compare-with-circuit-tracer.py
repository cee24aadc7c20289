#!/usr/bin/env python3
"""Compare one attribution graph made by Circuitry (`circuitry bench attribution --out OURS`) with
circuit-tracer's graph of the same model, transcoders and prompt (`circuit-tracer-run.py --out PEER`).

Checks (ATTRIBUTION.md §8): same logit nodes, same selected features, adjacency within
1e-3 × each row's largest magnitude, same pruned node set (circuit-tracer's graph.json holds the
nodes kept at node threshold 0.8 / edge threshold 0.98). Prints one JSON document.
With PEER_TOKEN_SCALE=s, circuit-tracer's token columns are multiplied by s before the rows are
compared (and both comparisons are reported): for a model that scales its embeddings (Gemma, by
√d), circuit-tracer's nnsight backend multiplies the gradient at the scaled embedding by the
unscaled embedding row (`embed_weight[tokens]`), so its token edges are 1/√d of what the row
identity requires; ours are the scaled rows.
Usage: compare-with-circuit-tracer.py OURS PEER"""
import os
import json, sys
import numpy as np

ours_dir, peer_dir = sys.argv[1], sys.argv[2]
ours, peer = json.load(open(f"{ours_dir}/result.json")), json.load(open(f"{peer_dir}/result.json"))
a, b = np.load(f"{ours_dir}/adjacency.npy"), np.load(f"{peer_dir}/adjacency.npy")
report = {"prompt": ours["prompt"], "tokens_equal": ours["token_ids"] == peer["token_ids"],
          "active_features": [ours["active_features"], peer["active_features"]],
          "logit_nodes_equal": ours["logit_tokens"] == peer["logit_tokens"],
          "selected_features_equal": ours["selected_features"] == peer["selected_features"],
          "adjacency_shapes": [list(a.shape), list(b.shape)]}
token_scale = float(os.environ.get("PEER_TOKEN_SCALE", "1"))
if a.shape == b.shape and token_scale != 1:
    t0 = len(ours["selected_features"]) + ours["n_layers"] * len(ours["token_ids"])
    t1 = t0 + len(ours["token_ids"])
    x, y = a[:, t0:t1], b[:, t0:t1]
    m = np.abs(y) > 1e-6
    report["token_column_ratio_ours_over_peer"] = [float((x[m] / y[m]).min()), float((x[m] / y[m]).max())] if m.any() else None
    unscaled = b.copy()
    row_max = np.abs(unscaled).max(axis=1)
    rel = np.abs(a - unscaled).max(axis=1) / np.where(row_max > 0, row_max, 1)
    report["unscaled_rows_within_1e-3"] = int((rel <= 1e-3).sum())
    b = b.copy()
    b[:, t0:t1] *= token_scale
    report["peer_token_columns_scaled_by"] = token_scale
if a.shape == b.shape:
    row_max = np.abs(b).max(axis=1)
    scale = np.where(row_max > 0, row_max, 1)
    rel = (np.abs(a - b).max(axis=1) / scale)
    report["worst_row_relative_difference"] = float(rel.max())
    report["rows_within_1e-3"] = int((rel <= 1e-3).sum())
    report["rows"] = int(a.shape[0])
    computed = [r for r in range(a.shape[0]) if row_max[r] > 0]
    report["computed_rows"] = len(computed)
    report["worst_computed_row_relative_difference"] = float(rel[computed].max()) if computed else 0.0
    report["max_abs_difference"] = float(np.abs(a - b).max())
# Pruned node sets, by circuit-tracer's node ids.
graph = json.load(open(f"{peer_dir}/graph.json"))
peer_nodes = {n["node_id"] for n in graph["nodes"]}
n_layers, tokens = ours["n_layers"], ours["token_ids"]
n_feat, n_pos = len(ours["selected_features"]), len(tokens)
def node_id(i):
    if i < n_feat:
        l, p, f = ours["selected_features"][i]
        return f"{l}_{f}_{p}"
    i -= n_feat
    if i < n_layers * n_pos:
        return f"0_{i // n_pos}_{i % n_pos}"
    i -= n_layers * n_pos
    if i < n_pos:
        return f"E_{tokens[i]}_{i}"
    i -= n_pos
    return f"{n_layers + 1}_{ours['logit_tokens'][i]}_{n_pos - 1}"
ours_nodes = {node_id(i) for i in ours["pruned_nodes"]}
report["pruned_nodes"] = [len(ours_nodes), len(peer_nodes)]
report["pruned_nodes_equal"] = ours_nodes == peer_nodes
report["pruned_only_ours"] = sorted(ours_nodes - peer_nodes)[:10]
report["pruned_only_peer"] = sorted(peer_nodes - ours_nodes)[:10]
# Transcoder encodings: the activation of every selected feature, ours (Swift) against PyTorch's.
if report["selected_features_equal"]:
    x, y = np.array(ours["selected_activations"]), np.array(peer["selected_activations"])
    report["activations_compared"] = int(len(x))
    report["activation_max_abs_difference"] = float(np.abs(x - y).max()) if len(x) else 0.0
    report["activation_max_relative_difference"] = float((np.abs(x - y) / np.maximum(np.abs(y), 1e-6)).max()) if len(x) else 0.0
    report["activation_examples"] = [[ours["selected_features"][i], round(float(x[i]), 6), round(float(y[i]), 6)] for i in range(min(3, len(x)))]
report["seconds_attribute"] = [ours["seconds_attribute"], peer["seconds_attribute"]]
report["peak_rss_mb"] = [ours["peak_rss_mb"], peer["peak_rss_mb"]]
report["speedup"] = peer["seconds_attribute"] / ours["seconds_attribute"]
print(json.dumps(report, indent=1))
