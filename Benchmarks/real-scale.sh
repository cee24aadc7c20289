#!/usr/bin/env bash
# The three jobs at real scale, measured on this machine (run `make demo` and
# scripts/make-gallery.sh first). Writes Benchmarks/real-scale.txt:
#   1. every file in Queries/ and every query example of `query --help` and the README, timed on
#      the default store (the demo's graph and the gallery's: about 870 nodes and 128k edges each);
#   2. `bench query` on 200 copies of those real traces and on 200 synthetic graphs of that size;
#   3. export → import → export, and compare and prune on an imported graph against the original;
#   4. the IOI logit difference " Mary" − " John": its three strongest features with a direct
#      edge to the target, each confirmed by `intervene` (frozen, direct effects only: setting the
#      feature to 0 must move the difference by minus the edge's weight);
#   5. the store's size for ten traces (with OLD_CIRCUITRY=path, also written by an older build).
# OPENBLAS_CORETYPE is unset, as the Makefile does.
set -uo pipefail
cd "$(dirname "$0")/.."
unset OPENBLAS_CORETYPE
c=${CIRCUITRY:-.build/release/circuitry}
out=Benchmarks/real-scale.txt
exec > >(tee "$out") 2>&1
echo "# real-scale measurements, $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

timed() {    # label command…  → seconds, status, last line
  local label=$1; shift
  local start end status
  start=$(date +%s.%N); "$@" > /tmp/real-scale.out 2> /tmp/real-scale.err; status=$?; end=$(date +%s.%N)
  printf "%7.3f s  exit %d  %-58s %s\n" "$(echo "$end - $start" | bc)" "$status" "$label" "$(grep -v '^ *[0-9.]* ms$' /tmp/real-scale.out | tail -1 | cut -c1-60)"
}

echo; echo "## 1. Example queries on the default store ($( $c graphs list | tail -n +2 | wc -l) graphs)"
for q in Queries/*.cql; do timed "$q" $c query --file "$q"; done
timed "help: layers 10–20, influence > 0.01" $c query "MATCH (f:Feature) WHERE f.layer >= 10 AND f.layer <= 20 AND f.influence > 0.01 RETURN f.graph, f.layer, f.feature, f.influence ORDER BY f.influence DESC LIMIT 10"
timed "help: strongest 5 paths from ' Texas'" $c query "USE 'the-capital-of-texas-is' MATCH p = (t:Token {token: ' Texas'})-[*1..4]->(l:Logit) RETURN nodes(p), strength(p) AS s ORDER BY s DESC LIMIT 5"
timed "help: recurring features as JSON" $c query --file Queries/recurring-features.cql --format json
timed "README: thresholded ' Texas' → ' Austin' paths" $c query "USE 'the-capital-of-texas-is'
  MATCH p = (t:Token {token: ' Texas'})-[*1..4]->(l:Logit {token: ' Austin'})
  WHERE ALL(r IN relationships(p) WHERE abs(r.weight) > 0.05)
  RETURN nodes(p) AS path, strength(p) AS strength ORDER BY strength DESC LIMIT 5"
timed "README: --explain" $c query --file Queries/feature-targets.cql --explain
timed "all token → logit paths of 1–6 steps (count)" $c query "USE 'the-capital-of-texas-is' MATCH p = (:Token)-[*1..6]->(:Logit) RETURN count(*) AS paths"
timed "listing every 1–8-step path (must stop with a message)" $c query "USE 'the-capital-of-texas-is' MATCH p = (a)-[*1..8]->(b) RETURN nodes(p)" --timeout 3
echo "    → $(tail -1 /tmp/real-scale.err | cut -c1-150)"

echo; echo "## 2. bench query"
$c bench query --real --graphs 200
$c bench query --graphs 200

echo; echo "## 3. Round trip through the interchange file"
tmp=$(mktemp -d)
$c export gallery-texas --format json --out "$tmp/a.json"
$c graphs import "$tmp/a.json" --slug round-trip --store "$tmp/s.sqlite" > /dev/null
$c export round-trip --format json --store "$tmp/s.sqlite" --out "$tmp/b.json"
python3 - "$tmp/a.json" "$tmp/b.json" <<'EOF'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
a["metadata"]["slug"] = b["metadata"]["slug"]
ids = [n["node_id"] for n in a["nodes"]]
print(f"export → import → export identical (but the slug): {a == b}; {len(a['nodes'])} nodes, {len(a['links'])} links, "
      f"repeated node ids: {len(ids) - len(set(ids))}")
EOF
$c graphs import "$tmp/a.json" --slug gallery-texas-copy > /dev/null 2>&1 || true
$c compare gallery-texas gallery-france --json > "$tmp/c1.json"
$c compare gallery-texas-copy gallery-france --json > "$tmp/c2.json"
python3 - "$tmp/c1.json" "$tmp/c2.json" <<'EOF'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
keys = ["feature_iou", "weighted_feature_iou", "edge_iou", "influence_rank_correlation"]
print("compare on the imported copy equals the original's (to 1e-12; sums differ in order):",
      all(abs(a[k] - b[k]) <= 1e-12 for k in keys), {k: round(b[k], 4) for k in keys})
EOF
p1=$($c graphs prune gallery-texas --node-threshold 0.8 --edge-threshold 0.98 --json | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['nodes_kept'], d['edges_kept'])")
p2=$($c graphs prune gallery-texas-copy --node-threshold 0.8 --edge-threshold 0.98 --json | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['nodes_kept'], d['edges_kept'])")
echo "prune at the graph's own thresholds: original $p1, imported $p2 (nodes, edges)"
$c graphs delete gallery-texas-copy > /dev/null
$c export gallery-texas --format json --with-unpruned --out "$tmp/full.json"
$c graphs import "$tmp/full.json" --slug gallery-texas-full > /dev/null
echo "with --with-unpruned ($(du -m "$tmp/full.json" | cut -f1) MB against $(du -m "$tmp/a.json" | cut -f1) MB): prune at other thresholds, original | imported (nodes, edges):"
for t in "0.5 0.9" "0.9 0.99" "0.8 0.98"; do
  set -- $t
  q1=$($c graphs prune gallery-texas --node-threshold $1 --edge-threshold $2 --json | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['nodes_kept'], d['edges_kept'])")
  q2=$($c graphs prune gallery-texas-full --node-threshold $1 --edge-threshold $2 --json | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['nodes_kept'], d['edges_kept'])")
  echo "  $1/$2: $q1 | $q2"
done
$c graphs delete gallery-texas-full > /dev/null

echo; echo "## 4. IOI: ' Mary' − ' John'"
grep -E "^verify:|^targets:|−" Graphs/gallery-ioi-mary-john.txt | head -4
ioi="When Mary and John went to the store, John gave a drink to"
$c query "USE 'gallery-ioi-mary-john' MATCH (f:Feature)-[r]->(l:Logit) RETURN f.layer AS layer, f.feature AS feature, f.pos AS pos, f.influence AS influence, r.weight AS weight, f.label AS label ORDER BY influence DESC LIMIT 3" --format csv > "$tmp/top.csv"
cat "$tmp/top.csv"
tail -n +2 "$tmp/top.csv" | while IFS=, read -r layer feature pos influence weight label; do
  change=$($c intervene "$ioi" --set "L$layer/F$feature@$pos=0" --freeze-attention --direct --target " Mary" --minus " John" --json \
           | python3 -c "import json,sys; print(json.load(sys.stdin)['difference']['change'])")
  echo "L$layer/F$feature@$pos: edge weight $weight; setting it to 0 moves ' Mary' − ' John' by $change (expected $(python3 -c "print(-$weight)"))"
done

echo; echo "## 5. Store size for ten traces"
prompts=("The capital of Texas is" "The capital of France is" "I like to drink green tea with" "The capital of the state containing Dallas is"
         "When Mary and John went to the store, John gave a drink to" "The opposite of hot is" "Paris is to France as Tokyo is to"
         "The sum of two and three is" "My favourite colour is" "The Eiffel Tower is in")
for build in ${OLD_CIRCUITRY:+"$OLD_CIRCUITRY"} "$c"; do
  store="$tmp/ten-$(basename "$(dirname "$build")")-$RANDOM.sqlite"
  start=$(date +%s)
  for p in "${prompts[@]}"; do "$build" trace "$p" --store "$store" > /dev/null 2>&1 || echo "  trace failed: $p"; done
  "$build" graphs list --store "$store" > /dev/null 2>&1
  python3 -c "import sqlite3; sqlite3.connect('$store').execute('PRAGMA wal_checkpoint(TRUNCATE)')"
  echo "$build: $(du -m "$store" | cut -f1) MB for $("$build" graphs list --store "$store" | tail -n +2 | wc -l) full graphs ($(( $(date +%s) - start )) s)"
done
rm -rf "$tmp"
