#!/usr/bin/env bash
# Rebuilds the fuzz seed corpus (Fuzz/corpus/<target>/) and the fixture the transcoder-config
# target loads beside each input (Fuzz/fixtures/transcoders/). The seeds come from the test suite's
# tiny model and transcoders, a trace of them exported as interchange JSON, and CircuitQL queries
# from the README and the grammar. Run from the repository root; `make fuzz` does not need it (the
# corpus is committed), it is here so the corpus can be remade when a format changes.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

CIRCUITRY_FUZZ=1 swift build --scratch-path .build/fuzz-seeds --product fuzz-seeds >/dev/null
.build/fuzz-seeds/debug/fuzz-seeds "$work/fixtures"
CIRCUITRY_FUZZ=1 swift build --scratch-path .build/fuzz-seeds --product circuitry >/dev/null
cli=.build/fuzz-seeds/debug/circuitry

corpus=Fuzz/corpus
rm -rf "$corpus" Fuzz/fixtures
saved_sae_seeds=$(mktemp -d); cp -r "$corpus"/sae-config "$corpus"/toolkit-files "$saved_sae_seeds"/ 2>/dev/null || true
mkdir -p "$corpus"/{gguf,safetensors,npz,tokenizer,transcoder-config,circuitql,interchange,store-blobs} Fuzz/fixtures/transcoders Fuzz/fixtures/sae
# The SAE and toolkit seeds are written by hand (cfg.json variants, a probe dataset, a monitor
# file, a small saved probe) and kept; the SAE fixture is the test suite's.
cp -r "$saved_sae_seeds"/* "$corpus"/ 2>/dev/null || true
cp Tests/Fixtures/sae/sae_weights.safetensors Fuzz/fixtures/sae/
f="$work/fixtures"
cp "$f/model.gguf" "$corpus/gguf/tiny-llama.gguf"
cp "$f/model-qk-norm.gguf" "$corpus/gguf/tiny-qk-norm.gguf"
cp "$f/hf/model.safetensors" "$corpus/safetensors/tiny-llama.safetensors"
cp "$f/transcoders/layer_0.safetensors" "$corpus/safetensors/transcoder-layer-0.safetensors"
cp Tests/Fixtures/gemma-scope/gs1/layer_0/params.npz "$corpus/npz/stored.npz"
cp Tests/Fixtures/gemma-scope/gs1/layer_0/params-compressed.npz "$corpus/npz/deflated.npz"
cp "$f/hf/tokenizer.json" "$corpus/tokenizer/tiny-byte-level.json"
cp "$f/transcoders/config.yaml" "$corpus/transcoder-config/circuitry.yaml"
cp "$f/transcoders/"layer_*.safetensors Fuzz/fixtures/transcoders/
cat > "$corpus/transcoder-config/circuit-tracer.yaml" <<'YAML'
model_kind: transcoder_set
model_name: tiny
feature_input_hook: mlp.hook_in
feature_output_hook: mlp.hook_out
scan: tiny
transcoders:
  - layer_0.safetensors
  - layer_1.safetensors
YAML

# Interchange JSON: a trace of the tiny model, exported plain and with its unpruned blobs.
store="$work/store.sqlite"
$cli trace "Hi there, Tex!" --model "$f/trace-model.gguf" --transcoders "$f/transcoders" --store "$store" --slug tex >/dev/null 2>&1
$cli export tex --format json --out "$corpus/interchange/tiny.json" --store "$store"
$cli export tex --format json --with-unpruned --out "$work/unpruned.json" --store "$store"
cp "$work/unpruned.json" "$corpus/interchange/tiny-with-unpruned.json"

# Store blobs: two bytes of node-facts length, the node facts, the adjacency (as the harness splits them),
# in today's format and as stores kept them before blobs were versioned.
python3 - "$work/unpruned.json" "$corpus/store-blobs/tiny-v1.bin" <<'PY'
import base64, json, sys
g = json.load(open(sys.argv[1]))["metadata"]["circuitry"]
facts, adjacency = base64.b64decode(g["unpruned_facts"]), base64.b64decode(g["unpruned_adjacency"])
assert len(facts) < 65536, "node facts too long for the two-byte split"
open(sys.argv[2], "wb").write(len(facts).to_bytes(2, "big") + facts + adjacency)
# The same facts as stores kept them before blobs were versioned (version 0: features as objects).
old = json.loads(facts)
old.pop("version", None)
old["features"] = [dict(zip(["layer", "position", "feature", "activation"], f)) for f in old["features"]]
old = json.dumps(old).encode()
open(sys.argv[2].replace("-v1.bin", "-v0.bin"), "wb").write(len(old).to_bytes(2, "big") + old + adjacency)
PY

# CircuitQL: the README's examples and one of each construct.
i=0
while IFS= read -r query; do
  [ -n "$query" ] || continue
  i=$((i + 1)); printf '%s' "$query" > "$corpus/circuitql/query-$i.cql"
done <<'CQL'
USE 'the-capital-of-texas-is' MATCH p = (t:Token {token: ' Texas'})-[*1..4]->(l:Logit {token: ' Austin'}) WHERE ALL(r IN relationships(p) WHERE abs(r.weight) > 0.05) RETURN nodes(p) AS path, strength(p) AS strength ORDER BY strength DESC LIMIT 5
USE 'the-capital-of-texas-is' MATCH p = (:Token)-[*1..6]->(:Logit) RETURN count(*)
MATCH (f:Feature)-[e]->(l:Logit) WHERE e.weight > 0.1 AND f.layer >= 10 RETURN f.layer, f.feature, e.weight ORDER BY e.weight DESC LIMIT 10
MATCH (e:Error)-[r]->(n) RETURN e.layer, sum(abs(r.weight)) AS outflow ORDER BY outflow DESC LIMIT 5
MATCH p = (a:Feature)-[*2]->(b:Feature) WHERE ALL(x IN relationships(p) WHERE x.weight > 0) RETURN a, b LIMIT 3
MATCH (n:Feature) WHERE n.label CONTAINS 'Texas' OR NOT n.activation < 1.5 RETURN n.graph, collect(n.feature) LIMIT 20
MATCH (a)-[r]->(b)<-[:ATTR]-(c) -->(d) WHERE a.kind IN ['feature', 'token'] AND d.token STARTS WITH 'A' RETURN DISTINCT a.index, count(DISTINCT c) AS n ORDER BY n DESC SKIP 1 LIMIT 4
MATCH (t:Token), (l:Logit) RETURN t.token, l.token, l.prob, 1 + 2 * 3 - -4 / 2.5 LIMIT 1
CQL
cp Queries/*.cql "$corpus/circuitql/"
echo "seed corpus: $(find "$corpus" -type f | wc -l) files in $corpus"
