#!/usr/bin/env python3
"""Checks Circuitry's SAE files against sae-lens (pip install sae-lens).

1. SAEs written by Circuitry load in sae-lens (`SAE.load_from_disk`) and encode the activations
   Circuitry dumps exactly as Circuitry does.
2. Random SAEs written by sae-lens (standard with apply_b_dec_to_input, topk, jumprelu) load in
   Circuitry, which encodes a prompt's activations; sae-lens encodes the same activations.

usage: sae-lens-check.py CIRCUITRY MODEL HOOK OUT_DIR [CIRCUITRY_SAE ...]
Writes OUT_DIR/sae-lens-check.json and prints one line per SAE; exits 1 on any difference
above 1e-5.
"""
import json, os, subprocess, sys
import torch
from safetensors.torch import load_file
from sae_lens import SAE
from sae_lens.saes.sae import SAEMetadata
from sae_lens.saes.standard_sae import StandardSAE, StandardSAEConfig
from sae_lens.saes.topk_sae import TopKSAE, TopKSAEConfig
from sae_lens.saes.jumprelu_sae import JumpReLUSAE, JumpReLUSAEConfig

circuitry, model, hook, out = sys.argv[1:5]
ours = sys.argv[5:]
os.makedirs(out, exist_ok=True)
prompts = ["The capital of France is Paris, and the capital of Texas is Austin.",
           "def add(a, b):\n    return a + b  # 'hostile' <text> & \"quotes\""]


def circuitry_encode(sae_dir, prompt, dump):
    subprocess.run([circuitry, "saes", "encode", prompt, "--sae", sae_dir, "--model", model, "--dump", dump, "--json"],
                   check=True, stdout=subprocess.DEVNULL)
    t = load_file(dump)
    return t["activations"], t["encodings"]


def compare(name, sae_dir):
    sae = SAE.load_from_disk(sae_dir, device="cpu")
    sae64 = SAE.load_from_disk(sae_dir, device="cpu", dtype="float64")
    ours_exact, theirs_exact = 0.0, 0.0
    worst, relative, active, scale, bos = 0.0, 0.0, 0, 0.0, 0.0
    for i, prompt in enumerate(prompts):
        x, ours_codes = circuitry_encode(sae_dir, prompt, os.path.join(out, f"{name}-{i}.safetensors"))
        with torch.no_grad():
            theirs = sae.encode(x.float())
            exact = sae64.encode(x.double())
        # Both against sae-lens in float64 (the exact answer up to 1e-15), positions 1..
        ours_exact = max(ours_exact, (ours_codes[1:].double() - exact[1:]).abs().max().item())
        theirs_exact = max(theirs_exact, (theirs[1:].double() - exact[1:]).abs().max().item())
        # Position 0 (BOS) holds SmolLM2's massive activation (norm ~10^4), where float32 dot
        # products differ with summation order by more than 1e-5: compared on positions 1.. as
        # attribution graphs are, and position 0 reported apart.
        bos = max(bos, (theirs[0].double() - ours_codes[0].double()).abs().max().item())
        theirs, ours_codes, x = theirs[1:], ours_codes[1:], x[1:]
        difference = (theirs.double() - ours_codes.double()).abs()
        worst = max(worst, difference.max().item())
        # Float32 dot products over d_in terms differ with summation order: relative to the
        # magnitude of the code (at least 1).
        relative = max(relative, (difference / theirs.double().abs().clamp(min=1)).max().item())
        scale = max(scale, theirs.abs().max().item(), x.abs().max().item())
        active += int((theirs > 0).sum().item())
    return {"sae": name, "architecture": sae.cfg.architecture(), "d_in": sae.cfg.d_in, "d_sae": sae.cfg.d_sae,
            "max_abs_difference": worst, "max_relative_difference": relative,
            "largest_value": scale, "active_codes": active, "bos_max_abs_difference": bos,
            "circuitry_vs_float64": ours_exact, "sae_lens_float32_vs_float64": theirs_exact}


results = []
for path in ours:
    results.append(dict(compare("circuitry-" + os.path.basename(path.rstrip("/")), path), written_by="circuitry"))

torch.manual_seed(0)
d_in, d_sae = 576, 512
meta = SAEMetadata(hook_name=hook, model_name="SmolLM2-135M-Instruct")
def randomise(sae, threshold=False):
    # sae-lens's own random initialisation of W_enc and W_dec (as constructed), plus random
    # biases (zero at construction) and thresholds, so that every term of the encoding counts.
    with torch.no_grad():
        sae.b_enc.copy_(torch.randn_like(sae.b_enc) * 0.1)
        sae.b_dec.copy_(torch.randn_like(sae.b_dec) * 0.1)
        if threshold:
            sae.threshold.copy_(torch.rand_like(sae.threshold) * 0.5 - 0.1)   # some negative thresholds too
    return sae
written = {
    "standard": randomise(StandardSAE(StandardSAEConfig(d_in=d_in, d_sae=d_sae, apply_b_dec_to_input=True, metadata=meta))),
    "topk": randomise(TopKSAE(TopKSAEConfig(d_in=d_in, d_sae=d_sae, k=24, apply_b_dec_to_input=False, metadata=meta))),
    "jumprelu": randomise(JumpReLUSAE(JumpReLUSAEConfig(d_in=d_in, d_sae=d_sae, apply_b_dec_to_input=False, metadata=meta)), threshold=True),
}
for name, sae in written.items():
    folder = os.path.join(out, "sae-lens-" + name)
    sae.save_model(folder)
    results.append(dict(compare("sae-lens-" + name, folder), written_by="sae-lens"))

failed = False
for r in results:
    # Within 1e-5 of sae-lens, or no further from the exact answer than sae-lens's own float32.
    ok = r["max_abs_difference"] <= 1e-5 or r["circuitry_vs_float64"] <= max(1e-5, 2 * r["sae_lens_float32_vs_float64"])
    failed |= not ok
    print(f"{r['sae']:32s} {r['architecture']:9s} written by {r['written_by']:9s} max |difference| {r['max_abs_difference']:.2e}, relative {r['max_relative_difference']:.2e} (largest value {r['largest_value']:.0f}; at BOS {r['bos_max_abs_difference']:.1e}) "
          f"({r['active_codes']} active codes); from float64: circuitry {r['circuitry_vs_float64']:.1e}, sae-lens float32 {r['sae_lens_float32_vs_float64']:.1e} {'ok' if ok else 'FAIL'}")
import sae_lens
with open(os.path.join(out, "sae-lens-check.json"), "w") as f:
    json.dump({"sae_lens_version": sae_lens.__version__, "torch_version": torch.__version__, "results": results}, f, indent=2)
sys.exit(1 if failed else 0)
