#!/usr/bin/env python3
"""Writes Tests/Fixtures/quantization-reference.json: ggml blocks of every type Circuitry reads and
their values as decoded by the `gguf` PyPI package (an implementation independent of Circuitry).

    python3 -m venv /tmp/gguf && /tmp/gguf/bin/pip install gguf==0.19.0 numpy
    /tmp/gguf/bin/python scripts/make-quantization-reference.py

Types gguf can quantise are quantised from a [2, 512] float32 tensor (numpy seed 0); for the
others the blocks are random bytes whose Float16 scale fields are set to small finite values.
Either way `values` is gguf.quants.dequantize of `bytes`, and the test decodes `bytes` and compares.
"""
import json
import pathlib

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

ELEMENTS = 1024
# Byte offsets of the Float16 scale fields in each block type's layout (ggml-common.h).
HALF_FIELDS = {"Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208], "Q2_K": [80, 82], "Q3_K": [108]}
TYPES = ["F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]

source = np.random.default_rng(0).standard_normal((2, 512)).astype(np.float32)
out = {"provenance": (
    f"Made by scripts/make-quantization-reference.py with the gguf Python package {gguf.__version__ if hasattr(gguf, '__version__') else '0.19.0'} "
    "(PyPI), an implementation independent of Circuitry. `bytes` (hex) is gguf.quants.quantize of a [2, 512] float32 tensor "
    "(numpy seed 0) where gguf can quantise the type, otherwise random blocks with their Float16 scales set to small finite "
    "values; `values` is gguf.quants.dequantize(bytes, type)."),
    "elements": ELEMENTS, "types": {}}
rng = np.random.default_rng(1)
for name in TYPES:
    kind = getattr(T, name)
    block_elements, block_bytes = gguf.GGML_QUANT_SIZES[kind]
    try:
        raw = quants.quantize(source, kind).reshape(-1).view(np.uint8)
        how = "quantised"
    except (NotImplementedError, quants.QuantError if hasattr(quants, "QuantError") else NotImplementedError):
        blocks = rng.integers(0, 256, size=(ELEMENTS // block_elements, block_bytes), dtype=np.uint8)
        for offset in HALF_FIELDS[name]:
            halves = (rng.uniform(0.001, 0.05, size=blocks.shape[0]) * rng.choice([-1, 1], size=blocks.shape[0])).astype(np.float16)
            blocks[:, offset:offset + 2] = halves.view(np.uint8).reshape(-1, 2)
        raw = blocks.reshape(-1)
        how = "random"
    values = quants.dequantize(raw.reshape(1, -1), kind).reshape(-1).astype(np.float32)
    assert values.size == ELEMENTS and np.isfinite(values).all(), name
    out["types"][name] = {"bytes": raw.tobytes().hex(), "values": [float(v) for v in values], "made": how}
    print(f"{name}: {how}, {raw.size} bytes")

path = pathlib.Path(__file__).resolve().parent.parent / "Tests/Fixtures/quantization-reference.json"
path.write_text(json.dumps(out))
print(f"wrote {path}")
