#!/usr/bin/env python3
"""Reference logits for a real model, made by Hugging Face transformers in float32 on llama.cpp's
token ids — implementations independent of Circuitry.

    python make-model-reference.py NAME HF_FOLDER IDS.json OUT_DIR

HF_FOLDER is a float32 copy of the GGUF made by transformers' own GGUF loader
(AutoModelForCausalLM.from_pretrained(folder, gguf_file=..., dtype=torch.float32)); IDS.json holds
llama.cpp's ids for scripts/reference/prompts.txt (with the file's own BOS rule) and strings.txt (no
BOS, special tokens parsed), as written by llama-cpp-python's Llama(vocab_only=True).tokenize.
Writes OUT_DIR/NAME-reference.json (per prompt: token ids, the top 20 at the last position, every
next-token NLL; the tokenizer strings and their ids) and OUT_DIR/NAME-last-logits.f32 (every
last-position logit of prompt i, little-endian float32, at offset i * vocabulary * 4).
"""
import json
import sys

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM

name, folder, ids_path, out = sys.argv[1:5]
ids = json.load(open(ids_path))
model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
model.eval()
records, last = [], []
with torch.no_grad():
    for p in ids["prompts"]:
        tokens = p["token_ids"]
        logits = model(torch.tensor([tokens])).logits[0].double()
        logp = torch.log_softmax(logits, dim=-1)
        final = logits[-1].float().numpy()
        top = np.argsort(-final, kind="stable")[:20]
        records.append({
            "prompt": p["prompt"], "token_ids": tokens,
            "top20_last": [[int(i), float(final[i])] for i in top],
            "nll_of_next_tokens": [float(-logp[i, tokens[i + 1]]) for i in range(len(tokens) - 1)],
        })
        last.append(final.astype("<f4"))
        print(f"{p['prompt'][:40]!r}: {len(tokens)} tokens, top {top[0]} ({final[top[0]]:.3f})", file=sys.stderr)
vocabulary = int(last[0].shape[0])
provenance = (f"{name}: transformers {transformers.__version__} {type(model).__name__} in float32 (log-softmax in float64) "
              "on a float32 Hugging Face copy of the GGUF made by transformers' GGUF loader, fed llama.cpp's token ids "
              "(llama-cpp-python, the file's own BOS rule); strings: llama.cpp's ids, no BOS, special tokens parsed. "
              f"Made by scripts/make-model-reference.py. Last-position logits of record i (all {vocabulary}) are little-endian "
              f"float32 at offset i*{vocabulary}*4 of {name}-last-logits.f32.")
json.dump({"provenance": provenance, "vocabulary": vocabulary, "records": records, "strings": ids["strings"]},
          open(f"{out}/{name}-reference.json", "w"), ensure_ascii=False)
np.concatenate(last).tofile(f"{out}/{name}-last-logits.f32")
print(f"wrote {out}/{name}-reference.json and {name}-last-logits.f32", file=sys.stderr)
