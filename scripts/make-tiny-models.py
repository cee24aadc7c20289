#!/usr/bin/env python3
"""Tiny random-weight models of every architecture Circuitry reads, with their reference logits,
made by Hugging Face transformers (an implementation independent of Circuitry) — CI's check of
each architecture without the large downloads.

    python make-tiny-models.py OUT_DIR        (Tests/Fixtures/tiny-models)

For each architecture: OUT_DIR/<name>/config.json and model.safetensors (float32), and
OUT_DIR/<name>/reference.json: the token ids, every logit at every position, and every next-token
NLL (log-softmax in float64). Weights are drawn from a fixed seed with scales that keep
activations of order one (transformers' own initialisation, std 0.02, would leave every
nonlinearity nearly linear and every norm weight at its default), and the configs are chosen so
that each capability matters: sliding windows shorter than the prompt, soft-caps that bite,
query/key norms, biases, a head dimension that is not width / heads.
"""
import json
import os
import sys

import torch
import transformers
from transformers import (Gemma2Config, Gemma2ForCausalLM, Gemma3ForCausalLM, Gemma3TextConfig, GPT2Config, GPT2LMHeadModel, LlamaConfig,
                          LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM)

out = sys.argv[1]
VOCAB, LENGTH = 96, 12
common = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6, tie_word_embeddings=False,
              bos_token_id=1, eos_token_id=2, pad_token_id=0)
models = {
    "llama": (LlamaForCausalLM, LlamaConfig(**common, rope_theta=10000.0)),
    "llama-tied": (LlamaForCausalLM, LlamaConfig(**{**common, "tie_word_embeddings": True}, rope_theta=500.0)),
    "qwen2": (Qwen2ForCausalLM, Qwen2Config(**common, rope_theta=1000.0)),
    "qwen3": (Qwen3ForCausalLM, Qwen3Config(**common, head_dim=16, rope_theta=1000.0)),
    "gemma2": (Gemma2ForCausalLM, Gemma2Config(**{**common, "tie_word_embeddings": True}, head_dim=16, query_pre_attn_scalar=12,
                                               sliding_window=4, attn_logit_softcapping=3.0, final_logit_softcapping=5.0,
                                               hidden_activation="gelu_pytorch_tanh")),
    "gemma3": (Gemma3ForCausalLM, Gemma3TextConfig(**{**common, "tie_word_embeddings": True}, head_dim=16, query_pre_attn_scalar=16,
                                                   sliding_window=4, layer_types=["sliding_attention", "full_attention", "sliding_attention"],
                                                   rope_theta=100000.0, rope_local_base_freq=100.0,
                                                   hidden_activation="gelu_pytorch_tanh")),
    "gpt2": (GPT2LMHeadModel, GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=3, n_head=4, n_positions=64, n_inner=None,
                                         activation_function="gelu_new", layer_norm_epsilon=1e-5, bos_token_id=1, eos_token_id=2)),
}
generator = torch.Generator().manual_seed(20261201)
tokens = torch.randint(3, VOCAB, (LENGTH,), generator=generator)
tokens[0] = 1
for name, (cls, config) in models.items():
    torch.manual_seed(7)
    config._attn_implementation = "eager"
    model = cls(config).float().eval()
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "norm" in pname or ".ln_" in pname:
                # Gemma stores w of (1 + w); the others the factor itself.
                base = 0.0 if name.startswith("gemma") else 1.0
                p.copy_(base + 0.2 * torch.randn(p.shape, generator=generator))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=generator))
            else:
                # GPT-2's Conv1D stores [in, out]; everything else [out, in].
                fan_in = p.shape[0] if name == "gpt2" and ".h." in pname else p.shape[1]
                scale = 1.0 if "embed" in pname or "wte" in pname else fan_in ** -0.5
                p.copy_(scale * torch.randn(p.shape, generator=generator))
        logits = model(tokens[None]).logits[0].double()
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    for extra in ("generation_config.json",):
        if os.path.exists(os.path.join(folder, extra)):
            os.remove(os.path.join(folder, extra))
    logp = torch.log_softmax(logits, dim=-1)
    ids = tokens.tolist()
    json.dump({
        "provenance": f"transformers {transformers.__version__} {cls.__name__}, float32, random weights (seeded); "
                      "made by scripts/make-tiny-models.py",
        "token_ids": ids,
        "logits": [[round(float(x), 7) for x in row] for row in logits.float()],
        "nll_of_next_tokens": [float(-logp[i, ids[i + 1]]) for i in range(len(ids) - 1)],
    }, open(os.path.join(folder, "reference.json"), "w"))
    print(name, cls.__name__, sum(p.numel() for p in model.parameters()), "parameters", file=sys.stderr)
