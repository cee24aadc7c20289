#!/usr/bin/env bash
# Batch tracing under faults, on a throwaway PostgreSQL server: four workers trace N prompts;
# worker 0 kills itself (SIGKILL) inside its first trace, every worker's connection is cut once,
# and the server is stopped at once (as a crash stops it) and started again mid-batch. Prints the
# batch's status and checks that every prompt has exactly one graph.
#   Benchmarks/batch-faults.sh MODEL TRANSCODERS [N] [BINARY]
set -euo pipefail
model=${1:?a model file}; transcoders=${2:?a transcoder set}; n=${3:-200}
bin=${4:-.build/debug/circuitry}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/circuitry-batch.XXXXXX); chmod 755 "$work"
trap '"$here/scripts/test-postgres.sh" stop "$work/server"; rm -rf "$work"' EXIT
url=$("$here/scripts/test-postgres.sh" start "$work/server" 55440)
for i in $(seq 0 $((n - 1))); do echo "prompt $i: ab ba, X"; done > "$work/prompts.txt"
start=$(date +%s.%N)
for w in 0 1 2 3; do
  if [ $w = 0 ]; then kill_at=batch-trace; else kill_at=; fi
  CIRCUITRY_KILL_AT=$kill_at "$bin" batch "$work/prompts.txt" --batch faults --lease 3 --model "$model" --transcoders "$transcoders" \
      --store "$url" > "$work/worker$w.out" 2> "$work/worker$w.err" &
  pids[$w]=$!
done
sleep 1.5
psql "$url" -qAtc "SELECT 'connections cut: ' || count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'circuitry %'"
sleep 1
"$here/scripts/test-postgres.sh" restart "$work/server"
echo "server restarted at $(echo "$(date +%s.%N) - $start" | bc | cut -c1-5) s"
for w in 0 1 2 3; do
  if wait "${pids[$w]}"; then echo "worker $w: exit 0"; else echo "worker $w: exit $? (worker 0 kills itself)"; fi
done
echo "all workers done after $(echo "$(date +%s.%N) - $start" | bc | cut -c1-5) s"
"$bin" batch status faults --store "$url"
psql "$url" -qAtc "SELECT 'graphs: ' || count(*) || ', prompts with exactly one graph: ' || (SELECT count(*) FROM (SELECT p.text FROM graph g JOIN prompt p ON p.id = g.prompt_id GROUP BY p.text HAVING count(*) = 1) one) FROM graph"
grep -h "attempt" "$work"/worker*.err | head -5 || true
