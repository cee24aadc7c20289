#!/usr/bin/env python3
"""Tiny cross-layer transcoders in the published layouts, for the loader tests, written by
circuit-tracer 0.5.0's own code (run inside its environment):

    python make-clt-fixtures.py Tests/Fixtures/clt

Writes, from one seeded set of tensors (3 layers, d = 4, 6 features):
  ct-relu/      circuit-tracer's CLT layout, written by CrossLayerTranscoder.to_safetensors in float32:
                W_enc_{l}.safetensors (W_enc_l [f, d], b_enc_l, b_dec_l), W_dec_{l}.safetensors (W_dec_l [f, 3 - l, d])
  ct-jumprelu/  the same with JumpReLU thresholds (threshold_l), in bfloat16 as published
  gs2/          Gemma Scope 2's multi-layer files: params_layer_{l}.safetensors with w_enc [d, f],
                w_dec [f, 3, d] (layers before l unused), b_enc, b_dec, threshold, affine_skip_connection
  expected.json inputs x [3, 5, d] and, for each folder, the activations and every layer's
                reconstruction as circuit-tracer computes them (CrossLayerTranscoder.encode and
                forward; for gs2, its load_gemma_scope_2_clt's reading: W_dec_l = w_dec[:, l:], x @ W_skip)
"""
import json, os, sys
import numpy as np
import torch
from safetensors.torch import save_file
from circuit_tracer.transcoder.cross_layer_transcoder import CrossLayerTranscoder, load_clt

out = sys.argv[1]
rng = np.random.default_rng(20261202)
L, d, f, n = 3, 4, 6, 5
W_enc = rng.normal(size=(L, f, d)).astype(np.float32)
b_enc = rng.normal(size=(L, f)).astype(np.float32) * 0.3
b_dec = rng.normal(size=(L, d)).astype(np.float32) * 0.1
threshold = rng.uniform(0, 0.5, size=(L, f)).astype(np.float32)
W_dec = [rng.normal(size=(f, L - l, d)).astype(np.float32) for l in range(L)]
W_skip = rng.normal(size=(L, d, d)).astype(np.float32) * 0.1
x = rng.normal(size=(L, n, d)).astype(np.float32)
expected = {"L": L, "d": d, "f": f, "n": n, "x": x.flatten().tolist()}


def clt(activation, dtype):
    m = CrossLayerTranscoder(L, f, d, activation_function=activation, lazy_decoder=False, device=torch.device("cpu"), dtype=dtype,
                             feature_input_hook="mlp.hook_in", feature_output_hook="hook_mlp_out")
    with torch.no_grad():
        m.W_enc.copy_(torch.tensor(W_enc))
        m.b_enc.copy_(torch.tensor(b_enc))
        m.b_dec.copy_(torch.tensor(b_dec))
        for l in range(L):
            m.W_dec[l].copy_(torch.tensor(W_dec[l]))
        if activation == "jump_relu":
            m.activation_function.threshold.copy_(torch.tensor(threshold)[:, None, :])
    return m


for name, activation, dtype in [("ct-relu", "relu", torch.float32), ("ct-jumprelu", "jump_relu", torch.bfloat16)]:
    folder = f"{out}/{name}"
    clt(activation, dtype).to_safetensors(folder)
    with open(f"{folder}/config.yaml", "w") as fh:
        fh.write("model_kind: cross_layer_transcoder\nfeature_input_hook: mlp.hook_in\nfeature_output_hook: hook_mlp_out\n")
    # What circuit-tracer computes from the files it wrote, read back the way it reads them.
    m = load_clt(folder, feature_input_hook="mlp.hook_in", feature_output_hook="hook_mlp_out", device=torch.device("cpu"),
                 dtype=torch.float32, lazy_decoder=False)
    with torch.no_grad():
        xt = torch.tensor(x)
        acts = m.encode(xt)
        recon = m.forward(xt)
    expected[name] = {"activations": acts.flatten().tolist(), "reconstruction": recon.flatten().tolist(),
                      "W_dec_1": m.W_dec[1].flatten().tolist()}

# Gemma Scope 2's multi-layer layout, one file per layer.
os.makedirs(f"{out}/gs2", exist_ok=True)
for l in range(L):
    full = np.zeros((f, L, d), dtype=np.float32)
    full[:, l:] = W_dec[l]
    full[:, :l] = rng.normal(size=(f, l, d))     # layers a feature cannot reach: present in the file, never read
    save_file({"w_enc": torch.tensor(W_enc[l].T.copy()), "w_dec": torch.tensor(full), "b_enc": torch.tensor(b_enc[l]),
               "b_dec": torch.tensor(b_dec[l]), "threshold": torch.tensor(threshold[l]),
               "affine_skip_connection": torch.tensor(W_skip[l])}, f"{out}/gs2/params_layer_{l}.safetensors")
with open(f"{out}/gs2/config.yaml", "w") as fh:
    fh.write("model_kind: cross_layer_transcoder\nfeature_input_hook: hook_resid_mid\nfeature_output_hook: hook_mlp_out\n"
             "transcoders:\n" + "".join(f"  - params_layer_{l}.safetensors\n" for l in range(L)))
z = np.einsum("lnd,lfd->lnf", x, W_enc) + b_enc[:, None]
acts = z * (z > threshold[:, None])
recon = np.zeros((L, n, d), dtype=np.float32) + b_dec[:, None]
for l in range(L):
    for k in range(L - l):
        recon[l + k] += acts[l] @ W_dec[l][:, k]
recon += np.einsum("lnd,lde->lne", x, W_skip)
expected["gs2"] = {"activations": acts.flatten().tolist(), "reconstruction": recon.flatten().tolist()}
json.dump(expected, open(f"{out}/expected.json", "w"))
print("wrote", out)
