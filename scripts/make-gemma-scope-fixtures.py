#!/usr/bin/env python3
"""Tiny dictionaries in Gemma Scope's published layouts, for the loader tests:

    python make-gemma-scope-fixtures.py Tests/Fixtures/gemma-scope

Writes, from one seeded set of tensors (2 layers, d = 4, 6 features):
  gs1/layer_L/params.npz             Gemma Scope 1 (np.savez: stored entries; W_enc [d, f], W_dec [f, d],
                                     b_enc, b_dec, threshold)
  gs1/layer_L/params-compressed.npz  the same with np.savez_compressed (deflated entries)
  gs2/params_layer_L.safetensors     Gemma Scope 2 (w_enc [d, f], w_dec, b_enc, b_dec, threshold,
                                     affine_skip_connection), in float32, float16 and bfloat16 copies
  expected.json                      every tensor, as circuit-tracer 0.5.0 would hold it (W_enc [f, d],
                                     the skip transposed), rounded the way each file stores it
"""
import json, os, sys
import numpy as np
import torch
from safetensors.torch import save_file

out = sys.argv[1]
rng = np.random.default_rng(20261201)
d, f = 4, 6
expected = {}
for layer in range(2):
    t = {"W_enc": rng.normal(size=(d, f)).astype(np.float32), "W_dec": rng.normal(size=(f, d)).astype(np.float32),
         "b_enc": rng.normal(size=f).astype(np.float32), "b_dec": rng.normal(size=d).astype(np.float32),
         "threshold": rng.uniform(0, 0.3, size=f).astype(np.float32)}
    skip = rng.normal(size=(d, d)).astype(np.float32)
    folder = f"{out}/gs1/layer_{layer}"
    os.makedirs(folder, exist_ok=True)
    np.savez(f"{folder}/params.npz", **t)
    np.savez_compressed(f"{folder}/params-compressed.npz", **t)
    os.makedirs(f"{out}/gs2", exist_ok=True)
    gs2 = {"w_enc": t["W_enc"], "w_dec": t["W_dec"], "b_enc": t["b_enc"], "b_dec": t["b_dec"], "threshold": t["threshold"],
           "affine_skip_connection": skip}
    for suffix, dtype in [("", torch.float32), ("-f16", torch.float16), ("-bf16", torch.bfloat16)]:
        save_file({k: torch.tensor(v).to(dtype) for k, v in gs2.items()}, f"{out}/gs2/params_layer_{layer}{suffix}.safetensors")
    for suffix, dtype in [("", torch.float32), ("-f16", torch.float16), ("-bf16", torch.bfloat16)]:
        r = lambda a: torch.tensor(a).to(dtype).float().numpy()
        expected[f"{layer}{suffix}"] = {"W_enc": r(t["W_enc"]).T.flatten().tolist(), "W_dec": r(t["W_dec"]).flatten().tolist(),
                                        "b_enc": r(t["b_enc"]).tolist(), "b_dec": r(t["b_dec"]).tolist(),
                                        "threshold": r(t["threshold"]).tolist(), "W_skip": r(skip).T.flatten().tolist()}
json.dump({"d": d, "f": f, "layers": expected}, open(f"{out}/expected.json", "w"))
print("wrote", out)
