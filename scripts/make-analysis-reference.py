#!/usr/bin/env python3
"""Reference values for Circuitry's analyses (logit lens, activation patching, direct logit
attribution, head scores), computed by Hugging Face transformers with PyTorch forward hooks — an
implementation independent of Circuitry's — in float64 arithmetic where the analysis itself
adds any (the models run in float32, as Circuitry's do).

    python make-analysis-reference.py tiny FIXTURES_DIR
        For the tiny fixtures llama, gemma3 and gpt2 in FIXTURES_DIR (Tests/Fixtures/tiny-models),
        writes FIXTURES_DIR/<name>/analysis.json.
    python make-analysis-reference.py hf MODEL_DIR --clean-ids 1,2,3 --corrupt-ids 1,2,4 --a ID --b ID
                                     [--repeated-ids …] [--length T] [--offset O] [--out FILE]
        The same analyses on a Hugging Face folder (for example a float32 copy of SmolLM2), with the
        patching scan timed as a notebook would run it: one forward pass per cell, as
        TransformerLens's act-patching functions do.

Definitions (the same as Circuitry's docs): lens rows are the stream entering block 0 and leaving
each block, read through the final norm (each row's own scale) and the unembedding (soft-capped
where the model caps); patching puts the clean run's activation into the corrupted run at one
(layer, position) for resid_pre / attn_out / mlp_out, or one head's slice of the output
projection's input at every position, and reads logit(a) − logit(b) at the last position; direct
logit attribution projects each component, through the final norm with its scale frozen, onto
W_U[a] − W_U[b] (pre-cap); head scores are means of the attention weights described in
Sources/Analysis/HeadScores.swift.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
from transformers import AutoModelForCausalLM

torch.set_grad_enabled(False)


class Sites:
    """The modules that hold each site, for the Llama/Qwen/Gemma family and for GPT-2."""

    def __init__(self, model):
        self.model = model
        self.config = model.config
        if hasattr(model, "transformer"):       # GPT-2
            t = model.transformer
            self.layers = list(t.h)
            self.final_norm = t.ln_f
            self.attn_out = [b.attn for b in self.layers]
            self.mlp_out = [b.mlp for b in self.layers]
            self.o_proj = [b.attn.c_proj for b in self.layers]
            self.post_attn_norm = [None] * len(self.layers)
            self.o_weight = [b.attn.c_proj.weight.T for b in self.layers]      # Conv1D stores [in, out]
            self.o_bias = [b.attn.c_proj.bias for b in self.layers]
            self.layer_norm = True
            self.heads = self.config.n_head
        else:
            m = model.model
            self.layers = list(m.layers)
            self.final_norm = m.norm
            sandwich = hasattr(self.layers[0], "post_feedforward_layernorm")
            self.attn_out = [b.post_attention_layernorm if sandwich else b.self_attn for b in self.layers]
            self.mlp_out = [b.post_feedforward_layernorm if sandwich else b.mlp for b in self.layers]
            self.o_proj = [b.self_attn.o_proj for b in self.layers]
            self.post_attn_norm = [b.post_attention_layernorm if sandwich else None for b in self.layers]
            self.o_weight = [b.self_attn.o_proj.weight for b in self.layers]
            self.o_bias = [b.self_attn.o_proj.bias for b in self.layers]
            self.layer_norm = False
            self.heads = self.config.num_attention_heads
        self.gemma = "gemma" in self.config.model_type
        self.cap = getattr(self.config, "final_logit_softcapping", None)
        self.eps = getattr(self.config, "rms_norm_eps", None) or getattr(self.config, "layer_norm_epsilon", 1e-5)

    def norm_weight(self, module):
        w = module.weight.double()
        return w + 1 if self.gemma else w

    def logits(self, rows):
        """Final norm (each row's own scale) and unembedding, soft-capped where the model caps."""
        out = self.model.lm_head(self.final_norm(rows))
        if self.cap:
            out = torch.tanh(out / self.cap) * self.cap
        return out


def first(x):
    return x[0] if isinstance(x, tuple) else x


def run(model, ids, hooks=()):
    """A forward pass with (module, kind, fn) hooks; returns last-position logits (float64)."""
    handles = []
    for module, kind, fn in hooks:
        if kind == "pre":
            handles.append(module.register_forward_pre_hook(fn, with_kwargs=True))
        else:
            handles.append(module.register_forward_hook(fn))
    try:
        out = model(torch.tensor([ids]), use_cache=False)
    finally:
        for h in handles:
            h.remove()
    return out.logits[0, -1].double()


def capture(model, sites, ids):
    """resid_pre, attn_out, mlp_out, z (o_proj input) and each layer's output for one run."""
    got = {"resid_pre": {}, "attn_out": {}, "mlp_out": {}, "z": {}, "resid_post": {}, "attn_raw": {}}
    hooks = []
    for l in range(len(sites.layers)):
        def pre(module, args, kwargs, l=l):
            h = args[0] if args else kwargs["hidden_states"]
            got["resid_pre"][l] = h.detach().clone()
        def post(module, args, out, l=l):
            got["resid_post"][l] = first(out).detach().clone()
        def attn(module, args, out, l=l):
            got["attn_out"][l] = first(out).detach().clone()
        def mlp(module, args, out, l=l):
            got["mlp_out"][l] = first(out).detach().clone()
        def z(module, args, kwargs, l=l):
            got["z"][l] = args[0].detach().clone()
        def raw(module, args, out, l=l):
            got["attn_raw"][l] = first(out).detach().clone()
        hooks += [(sites.layers[l], "pre", pre), (sites.layers[l], "post", post), (sites.attn_out[l], "post", attn),
                  (sites.mlp_out[l], "post", mlp), (sites.o_proj[l], "pre", z), (sites.o_proj[l], "post", raw)]
    logits = run(model, ids, hooks)
    return got, logits


def replace_position(t, source, p):
    t = t.clone()
    t[:, p] = source[:, p]
    return t


def patching(model, sites, clean, corrupt, a, b):
    """Every cell of the scan, one forward pass each; returns (clean, corrupt, {site: [[value]]})."""
    metric = lambda logits: float(logits[a] - logits[b])
    got, clean_logits = capture(model, sites, clean)
    corrupt_value = metric(run(model, corrupt))
    L, n, H = len(sites.layers), len(clean), sites.heads
    e = got["z"][0].shape[-1] // H
    out = {}
    for site in ["resid_pre", "attn_out", "mlp_out", "heads"]:
        grid = []
        for l in range(L):
            row = []
            for j in range(H if site == "heads" else n):
                if site == "resid_pre":
                    def hook(module, args, kwargs, l=l, j=j):
                        if args:
                            return (replace_position(args[0], got["resid_pre"][l], j),) + tuple(args[1:]), kwargs
                        kwargs = dict(kwargs)
                        kwargs["hidden_states"] = replace_position(kwargs["hidden_states"], got["resid_pre"][l], j)
                        return args, kwargs
                    hooks = [(sites.layers[l], "pre", hook)]
                elif site in ("attn_out", "mlp_out"):
                    def hook(module, args, output, l=l, j=j, site=site):
                        if isinstance(output, tuple):
                            return (replace_position(output[0], got[site][l], j),) + tuple(output[1:])
                        return replace_position(output, got[site][l], j)
                    hooks = [((sites.attn_out if site == "attn_out" else sites.mlp_out)[l], "post", hook)]
                else:
                    def hook(module, args, kwargs, l=l, j=j):
                        z = args[0].clone()
                        z[..., j * e:(j + 1) * e] = got["z"][l][..., j * e:(j + 1) * e]
                        return (z,) + tuple(args[1:]), kwargs
                    hooks = [(sites.o_proj[l], "pre", hook)]
                row.append(metric(run(model, corrupt, hooks)))
            grid.append(row)
        out[site] = grid
    return metric(clean_logits), corrupt_value, out


def qkv_module(sites, l, which):
    """The module whose output is layer l's query, key or value projection, and the columns it has there."""
    if hasattr(sites.model, "transformer"):                      # GPT-2: one fused c_attn [3d]
        d = sites.config.n_embd
        k = "qkv".index(which)
        return sites.layers[l].attn.c_attn, slice(k * d, (k + 1) * d)
    attn = sites.layers[l].self_attn
    return getattr(attn, which + "_proj"), slice(None)


def path_patching(model, sites, clean, corrupt, a, b, receivers, which):
    """Senders in every layer before the first receiver; step 1 freezes every other head at its
    corrupted output and records the receivers' projections; step 2 patches only those."""
    metric = lambda logits: float(logits[a] - logits[b])
    got_clean, _ = capture(model, sites, clean)
    got_corrupt, corrupt_logits = capture(model, sites, corrupt)
    H = sites.heads
    e = got_clean["z"][0].shape[-1] // H
    kv = getattr(sites.config, "num_key_value_heads", H) or H
    first, last = min(l for l, _ in receivers), max(l for l, _ in receivers)
    def cols(head):
        slot = head if which == "q" else head // (H // kv)
        return slice(slot * e, (slot + 1) * e)
    grid = []
    for sl in range(first):
        row = []
        for sh in range(H):
            hooks, recorded = [], {}
            for l in range(sl, last):
                def freeze(module, args, kwargs, l=l):
                    z = got_corrupt["z"][l].clone()
                    if l == sl:
                        z[..., sh * e:(sh + 1) * e] = got_clean["z"][l][..., sh * e:(sh + 1) * e]
                    return (z,) + tuple(args[1:]), kwargs
                hooks.append((sites.o_proj[l], "pre", freeze))
            for rl in {l for l, _ in receivers}:
                module, part = qkv_module(sites, rl, which)
                def record(module, args, out, rl=rl, part=part):
                    recorded[rl] = out[..., part].detach().clone()
                hooks.append((module, "post", record))
            run(model, corrupt, hooks)
            hooks = []
            for rl in {l for l, _ in receivers}:
                module, part = qkv_module(sites, rl, which)
                heads = [h for l, h in receivers if l == rl]
                def replace(module, args, out, rl=rl, part=part, heads=heads):
                    out = out.clone()
                    view = out[..., part]
                    for h in heads:
                        view[..., cols(h)] = recorded[rl][..., cols(h)]
                    out[..., part] = view
                    return out
                hooks.append((module, "post", replace))
            row.append(metric(run(model, corrupt, hooks)))
        grid.append(row)
    return grid


def lens(model, sites, ids, target):
    got, _ = capture(model, sites, ids)
    rows = [got["resid_pre"][0]] + [got["resid_post"][l] for l in range(len(sites.layers))]
    probs, top = [], []
    for r in rows:
        p = torch.softmax(sites.logits(r)[0].double(), dim=-1)
        probs.append([float(x) for x in p[:, target]])
        top.append([int(x) for x in p.argmax(dim=-1)])
    return {"target_prob": probs, "top": top}


def dla(model, sites, ids, a, b):
    got, _ = capture(model, sites, ids)
    L = len(sites.layers)
    W_U = sites.model.lm_head.weight.double()
    u = (W_U[a] - W_U[b]).numpy()
    final = got["resid_post"][L - 1][0, -1].double().numpy()
    w = sites.norm_weight(sites.final_norm).numpy()
    if sites.layer_norm:
        c = final - final.mean()
        s = 1 / math.sqrt((c * c).mean() + sites.eps)
    else:
        s = 1 / math.sqrt((final * final).mean() + sites.eps)

    def share(v):
        v = v - v.mean() if sites.layer_norm else v
        return float(s * np.sum(v * w * u))

    last = lambda t: t[0, -1].double().numpy()
    bias = float(np.sum(sites.final_norm.bias.double().numpy() * u)) if sites.layer_norm else 0.0
    heads, biases = [], []
    for l in range(L):
        z = last(got["z"][l])
        H = sites.heads
        e = z.shape[0] // H
        W_O = sites.o_weight[l].double().numpy()                  # [d, h·e]
        post = sites.post_attn_norm[l]
        if post is not None:
            o = last(got["attn_raw"][l])
            sp = 1 / math.sqrt((o * o).mean() + sites.eps)
            wp = sites.norm_weight(post).numpy()
        row = []
        for h in range(H):
            out = W_O[:, h * e:(h + 1) * e] @ z[h * e:(h + 1) * e]
            if post is not None:
                out = out * sp * wp
            row.append(share(out))
        heads.append(row)
        biases.append(share(sites.o_bias[l].double().numpy()) if sites.o_bias[l] is not None else 0.0)
    normed = sites.final_norm(got["resid_post"][L - 1])[0, -1].double().numpy()
    return {"embed": share(last(got["resid_pre"][0])), "attention": [share(last(got["attn_out"][l])) for l in range(L)],
            "mlp": [share(last(got["mlp_out"][l])) for l in range(L)], "heads": heads, "attention_bias": biases,
            "final_norm_bias": bias, "accumulated": [share(last(got["resid_pre"][0])) + bias]
            + [share(last(got["resid_post"][l])) + bias for l in range(L)],
            "logit": float(np.sum(normed * u))}


def tuned_fit(model, sites, sequences, ridge):
    """Ridge regression of the last layer's stream onto each lens row's (position 0 left out), in float64."""
    xs, y = None, []
    for seq in sequences:
        got, _ = capture(model, sites, seq)
        L = len(sites.layers)
        rows = [got["resid_pre"][0]] + [got["resid_post"][l] for l in range(L)]
        rows = [r[0, 1:].double().numpy() for r in rows]
        xs = [[r] for r in rows] if xs is None else [x + [r] for x, r in zip(xs, rows)]
        y.append(rows[-1])
    y = np.concatenate(y)
    out = []
    for parts in xs[:-1]:
        x = np.concatenate(parts)
        x1 = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
        g = x1.T @ x1
        d = x.shape[1]
        g[np.arange(d), np.arange(d)] += ridge * np.mean(np.diag(g)[:d])
        w = np.linalg.solve(g, x1.T @ y)
        out.append((w[:d], w[d]))
    d = y.shape[1]
    return out + [(np.eye(d), np.zeros(d))]       # the last layer's translator is the identity


def tuned_lens(model, sites, ids, target, translators):
    got, _ = capture(model, sites, ids)
    rows = [got["resid_pre"][0]] + [got["resid_post"][l] for l in range(len(sites.layers))]
    probs = []
    for r, (w, b) in zip(rows, translators):
        t = torch.from_numpy(r[0].double().numpy() @ w + b).float()[None]
        p = torch.softmax(sites.logits(t)[0].double(), dim=-1)
        probs.append([float(x) for x in p[:, target]])
    return probs


def load_translators(path, rows):
    from safetensors.numpy import load_file
    t = load_file(path)
    return [(t[f"row_{r}.weight"].astype(np.float64), t[f"row_{r}.bias"].astype(np.float64)) for r in range(rows)]


def patterns(model, ids):
    out = model(torch.tensor([ids]), output_attentions=True, use_cache=False)
    return [a[0].double().numpy() for a in out.attentions]       # [h, n, n] per layer


def head_scores(model, prompt, repeated, T, offset):
    P, Q = patterns(model, prompt), patterns(model, repeated)
    n = len(prompt)
    seen, after = {}, [None] * n
    for i, t in enumerate(prompt):
        if t in seen and seen[t] + 1 <= i:
            after[i] = seen[t] + 1
        seen[t] = i
    out = {"previous_token": [], "bos": [], "entropy": [], "induction": [], "duplicate": [], "prompt_induction": []}
    for p, q in zip(P, Q):
        H = p.shape[0]
        out["previous_token"].append([float(np.mean([p[h, i, i - 1] for i in range(1, n)])) for h in range(H)])
        out["bos"].append([float(np.mean([p[h, i, 0] for i in range(1, n)])) for h in range(H)])
        out["entropy"].append([float(np.mean([-sum(x * math.log(x) for x in p[h, i, :i + 1] if x > 0) for i in range(1, n)]))
                               for h in range(H)])
        second = range(offset + T, offset + 2 * T)
        out["induction"].append([float(np.mean([q[h, i, i - T + 1] for i in second])) for h in range(H)])
        out["duplicate"].append([float(np.mean([q[h, i, i - T] for i in second])) for h in range(H)])
        rep = [(i, a) for i, a in enumerate(after) if a is not None]
        out["prompt_induction"].append([float(np.mean([p[h, i, a] for i, a in rep])) if rep else None for h in range(H)])
    return out


def load(path):
    kwargs = {"dtype": torch.float32}
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager", **kwargs).eval()
    return model


def everything(model, clean, corrupt, a, b, repeated, T, offset, time_patching=False):
    sites = Sites(model)
    start = time.perf_counter()
    clean_value, corrupt_value, scan = patching(model, sites, clean, corrupt, a, b)
    seconds = time.perf_counter() - start
    result = {"clean_ids": clean, "corrupt_ids": corrupt, "a": a, "b": b, "repeated_ids": repeated, "length": T, "offset": offset,
              "patching": {"clean": clean_value, "corrupt": corrupt_value, "sites": scan},
              "lens": lens(model, sites, clean, a), "dla": dla(model, sites, clean, a, b),
              "heads": head_scores(model, clean, repeated, T, offset)}
    if time_patching:
        result["patching_seconds"] = seconds
        result["torch_threads"] = torch.get_num_threads()
    return result


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    tiny = sub.add_parser("tiny")
    tiny.add_argument("fixtures")
    hf = sub.add_parser("hf")
    hf.add_argument("model")
    hf.add_argument("--clean-ids", required=True)
    hf.add_argument("--corrupt-ids", required=True)
    hf.add_argument("--a", type=int, required=True)
    hf.add_argument("--b", type=int, required=True)
    hf.add_argument("--repeated-ids")
    hf.add_argument("--length", type=int, default=0)
    hf.add_argument("--offset", type=int, default=1)
    hf.add_argument("--tuned", help="a tuned lens file written by `circuitry lens train`: its lens on the clean prompt")
    hf.add_argument("--path-to", help="receivers L.H,… for path patching into their queries (timed)")
    hf.add_argument("--out")
    args = parser.parse_args()
    if args.mode == "tiny":
        for name in ["llama", "gemma3", "gpt2"]:
            folder = os.path.join(args.fixtures, name)
            model = load(folder)
            ref = json.load(open(os.path.join(folder, "reference.json")))
            clean = ref["token_ids"]
            corrupt = list(clean)
            corrupt[4], corrupt[7] = (corrupt[4] + 11) % 93 + 3, (corrupt[7] + 29) % 93 + 3
            T = 6
            g = torch.Generator().manual_seed(11)
            r = [int(x) for x in torch.randint(3, 96, (T,), generator=g)]
            repeated = [1] + r + r
            result = everything(model, clean, corrupt, 5, 9, repeated, T, 1)
            fit = [[int(x) for x in torch.randint(3, 96, (12,), generator=g)] for _ in range(8)]
            for seq in fit:
                seq[0] = 1
            translators = tuned_fit(model, Sites(model), fit, 1e-3)
            result["tuned"] = {"sequences": fit, "ridge": 1e-3, "target_prob": tuned_lens(model, Sites(model), clean, 5, translators)}
            result["path"] = {which: path_patching(model, Sites(model), clean, corrupt, 5, 9, [(2, 1), (2, 3)], which) for which in "qkv"}
            result["path_receivers"] = [[2, 1], [2, 3]]
            result["provenance"] = f"scripts/make-analysis-reference.py tiny; transformers {__import__('transformers').__version__}, torch {torch.__version__}"
            with open(os.path.join(folder, "analysis.json"), "w") as f:
                json.dump(result, f)
            print("wrote", os.path.join(folder, "analysis.json"))
    else:
        ids = lambda s: [int(x) for x in s.split(",")]
        repeated = ids(args.repeated_ids) if args.repeated_ids else ids(args.clean_ids)
        model = load(args.model)
        result = everything(model, ids(args.clean_ids), ids(args.corrupt_ids), args.a, args.b, repeated, args.length or 1,
                            args.offset, time_patching=True)
        if args.path_to:
            receivers = [tuple(int(x) for x in r.split(".")) for r in args.path_to.split(",")]
            start = time.perf_counter()
            result["path"] = {"q": path_patching(model, Sites(model), ids(args.clean_ids), ids(args.corrupt_ids), args.a, args.b, receivers, "q")}
            result["path_seconds"] = time.perf_counter() - start
        if args.tuned:
            translators = load_translators(args.tuned, len(Sites(model).layers) + 1)
            result["tuned"] = {"target_prob": tuned_lens(model, Sites(model), ids(args.clean_ids), args.a, translators)}
        text = json.dumps(result)
        if args.out:
            open(args.out, "w").write(text)
        else:
            print(text)


if __name__ == "__main__":
    main()
