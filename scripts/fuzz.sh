#!/usr/bin/env bash
# Fuzzes each parser a user feeds Circuitry with libFuzzer and the address sanitizer.
#   scripts/fuzz.sh [target…]          every target, or the ones named
#   FUZZ_SECONDS=600 scripts/fuzz.sh   time per target (default 60); FUZZ_RUNS=10000000 stops at a count
#   FUZZ_INSTANCE=2 FUZZ_SUMMARY=/tmp/b.txt scripts/fuzz.sh gguf   a second run of a target beside the first
#                                      (same corpus, its own log), to fuzz one parser on two cores
# Seeds: Fuzz/corpus/<target>/ (committed). The growing corpus lives in .build/fuzz/corpus/<target>/,
# crashes, hangs and leaks in .build/fuzz/findings/<target>/ (reproduce one with
# `CIRCUITRY_FUZZ_TARGET=<target> .build/fuzz/debug/circuitry-fuzz <file>`). A summary line per
# target goes to standard output and to .build/fuzz/summary.txt (FUZZ_SUMMARY=file elsewhere, e.g.
# for two runs at once on two cores); the exit status is 1 if any target found something.
set -uo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf safetensors npz tokenizer transcoder-config circuitql interchange store-blobs sae-config toolkit-files)
seconds=${FUZZ_SECONDS:-60}
runs=${FUZZ_RUNS:--1}

cpu_flags=""
grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && grep -qw f16c /proc/cpuinfo && cpu_flags="-Xswiftc -target-cpu -Xswiftc haswell"
echo "building the fuzz harness (libFuzzer + address sanitizer, checks on)…" >&2
# shellcheck disable=SC2086
CIRCUITRY_FUZZ=1 swift build --scratch-path .build/fuzz --product circuitry-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -O $cpu_flags 2>&1 | grep -E "error|Compiling circuitry_fuzz|Build of" >&2
binary=.build/fuzz/debug/circuitry-fuzz
[ -x "$binary" ] || { echo "error: the fuzz harness did not build" >&2; exit 1; }

status=0
summary=${FUZZ_SUMMARY:-.build/fuzz/summary.txt}
: > "$summary"
for t in "${targets[@]}"; do
  [ -d "Fuzz/corpus/$t" ] || { echo "error: no seed corpus for target $t (Fuzz/corpus/$t)" >&2; exit 2; }
  # FUZZ_INSTANCE=2 lets a second run of the same target share its corpus on another core.
  corpus=.build/fuzz/corpus/$t findings=.build/fuzz/findings/$t log=.build/fuzz/$t${FUZZ_INSTANCE:+-$FUZZ_INSTANCE}.log
  mkdir -p "$corpus" "$findings"
  max_len=4096
  case $t in gguf|safetensors|npz) max_len=65536 ;; interchange|store-blobs) max_len=131072 ;; tokenizer) max_len=16384 ;; esac
  echo "fuzzing $t for ${seconds}s…" >&2
  CIRCUITRY_FUZZ_TARGET=$t ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$binary" "$corpus" "Fuzz/corpus/$t" \
    -max_total_time="$seconds" -runs="$runs" -timeout=10 -rss_limit_mb=4096 -max_len="$max_len" \
    -artifact_prefix="$findings/" -print_final_stats=1 > "$log" 2>&1
  rc=$?
  executions=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  speed=$(grep -oE '^stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  found=$(find "$findings" -type f | wc -l)
  cover=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
  line="$t: ${executions:-0} executions (${speed:-?}/s), $cover, corpus $(find "$corpus" -type f | wc -l) inputs, findings $found (exit $rc)"
  echo "$line" | tee -a "$summary"
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then status=1; grep -m3 -E "ERROR|SUMMARY|Fatal error|deadly" "$log" >&2; fi
done
exit $status
