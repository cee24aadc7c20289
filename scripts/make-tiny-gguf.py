#!/usr/bin/env python3
"""A GGUF copy of the tiny GPT-2 fixture, written the way llama.cpp's convert_hf_to_gguf.py writes
GPT-2 (tensor names from the `gguf` package's own GPT-2 table; Conv1D weights transposed to
[out, in]; the tied unembedding stored again as output.weight), so that `make test` checks
Circuitry's GGUF reading of GPT-2 against the same transformers logits as the safetensors copy.

    python3 -m venv /tmp/gguf && /tmp/gguf/bin/pip install gguf==0.19.0 numpy safetensors
    /tmp/gguf/bin/python scripts/make-tiny-gguf.py Tests/Fixtures/tiny-models

Reads OUT/gpt2/{config.json, model.safetensors, reference.json}; writes OUT/gpt2-gguf/model.gguf
(the tests compare it with OUT/gpt2/reference.json). With llama-cpp-python importable (the
llama.cpp peer's venv), it also runs llama.cpp on the file and prints llama.cpp's worst logit difference from the
transformers reference: the check that the file is a GPT-2 GGUF as llama.cpp reads it.
"""
import json
import os
import sys

import numpy as np
from gguf import GGUFWriter
from gguf.constants import MODEL_ARCH, MODEL_TENSOR, MODEL_TENSORS, TENSOR_NAMES
from safetensors.numpy import load_file

out = sys.argv[1] if len(sys.argv) > 1 else "Tests/Fixtures/tiny-models"
source = os.path.join(out, "gpt2")
target = os.path.join(out, "gpt2-gguf")
os.makedirs(target, exist_ok=True)
config = json.load(open(os.path.join(source, "config.json")))
weights = load_file(os.path.join(source, "model.safetensors"))
names = {t: TENSOR_NAMES[t] for t in MODEL_TENSORS[MODEL_ARCH.GPT2]}

# Hugging Face name (after transformer.h.N.) → (GGUF tensor, suffix, transposed as llama.cpp does).
layer_map = {
    "ln_1.weight": (MODEL_TENSOR.ATTN_NORM, "weight", False), "ln_1.bias": (MODEL_TENSOR.ATTN_NORM, "bias", False),
    "attn.c_attn.weight": (MODEL_TENSOR.ATTN_QKV, "weight", True), "attn.c_attn.bias": (MODEL_TENSOR.ATTN_QKV, "bias", False),
    "attn.c_proj.weight": (MODEL_TENSOR.ATTN_OUT, "weight", True), "attn.c_proj.bias": (MODEL_TENSOR.ATTN_OUT, "bias", False),
    "ln_2.weight": (MODEL_TENSOR.FFN_NORM, "weight", False), "ln_2.bias": (MODEL_TENSOR.FFN_NORM, "bias", False),
    "mlp.c_fc.weight": (MODEL_TENSOR.FFN_UP, "weight", True), "mlp.c_fc.bias": (MODEL_TENSOR.FFN_UP, "bias", False),
    "mlp.c_proj.weight": (MODEL_TENSOR.FFN_DOWN, "weight", True), "mlp.c_proj.bias": (MODEL_TENSOR.FFN_DOWN, "bias", False),
}
model_map = {
    "transformer.wte.weight": names[MODEL_TENSOR.TOKEN_EMBD] + ".weight",
    "transformer.wpe.weight": names[MODEL_TENSOR.POS_EMBD] + ".weight",
    "transformer.ln_f.weight": names[MODEL_TENSOR.OUTPUT_NORM] + ".weight",
    "transformer.ln_f.bias": names[MODEL_TENSOR.OUTPUT_NORM] + ".bias",
}

writer = GGUFWriter(os.path.join(target, "model.gguf"), "gpt2")
writer.add_name("tiny random GPT-2 (Circuitry test fixture)")
writer.add_block_count(config["n_layer"])
writer.add_context_length(config["n_positions"])
writer.add_embedding_length(config["n_embd"])
writer.add_feed_forward_length(config.get("n_inner") or 4 * config["n_embd"])
writer.add_head_count(config["n_head"])
writer.add_layer_norm_eps(config["layer_norm_epsilon"])
writer.add_file_type(0)
# A toy byte-level vocabulary (llama.cpp needs a tokenizer to load the file; the test feeds ids):
# three control tokens, the printable characters ! to |, and one merge, "a b" → "ab".
vocabulary = config["vocab_size"]
tokens = ["<pad>", "<s>", "</s>"] + [chr(c) for c in range(33, 33 + vocabulary - 4)] + ["ab"]
writer.add_tokenizer_model("gpt2")
writer.add_tokenizer_pre("gpt-2")
writer.add_token_list(tokens)
writer.add_token_types([3, 3, 3] + [1] * (vocabulary - 3))
writer.add_token_merges(["a b"])
writer.add_bos_token_id(config["bos_token_id"])
writer.add_eos_token_id(config["eos_token_id"])

for name in sorted(weights):
    value = weights[name].astype(np.float32)
    if name in model_map:
        writer.add_tensor(model_map[name], value)
        if name == "transformer.wte.weight":
            writer.add_tensor(names[MODEL_TENSOR.OUTPUT] + ".weight", value.copy())
        continue
    if name == "lm_head.weight" or name.endswith((".attn.bias", ".attn.masked_bias")):
        continue
    prefix, rest = "transformer.h.", None
    assert name.startswith(prefix), name
    layer, rest = name[len(prefix):].split(".", 1)
    tensor, suffix, transposed = layer_map[rest]
    writer.add_tensor(names[tensor].format(bid=int(layer)) + "." + suffix, np.ascontiguousarray(value.T) if transposed else value)

writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()
print("wrote", os.path.join(target, "model.gguf"), os.path.getsize(os.path.join(target, "model.gguf")), "bytes")

try:
    from llama_cpp import Llama
except ImportError:
    print("llama-cpp-python not importable: the llama.cpp check was skipped")
    sys.exit(0)
reference = json.load(open(os.path.join(source, "reference.json")))
model = Llama(model_path=os.path.join(target, "model.gguf"), logits_all=True, verbose=False, n_ctx=64, n_threads=1)
model.eval(reference["token_ids"])
ours = np.array(model.scores[: len(reference["token_ids"])], dtype=np.float64)
worst = float(np.max(np.abs(ours - np.array(reference["logits"], dtype=np.float64))))
print(f"llama.cpp on the GGUF against transformers: worst |logit difference| {worst:.2e} "
      f"over {ours.shape[0]} positions x {ours.shape[1]}")
