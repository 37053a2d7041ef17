#!/usr/bin/env bash
# Instruction counts of the analytical fast path on SimAI 1.6's analytical example job
# (9,216 H100, TP 2 · PP 12 · EP 16; testdata/benchmarks/README.md), counted by valgrind's
# callgrind: repeatable to a fraction of a percent on a loaded machine, where wall time is not.
# These are the regression figures of the analytical fast path (docs/performance.md).
#
# Two runs (issue 10 sets a target for each):
# - process (default): `fabricsim train --fidelity analytical` of the job;
# - planner (--planner): `fabricsim plan` of the job's neighbourhood on one thread (TP 2,
#   PP 12, EP 16 and ZeRO-1 fixed; CP, VP, micro-batch, recompute and order searched: 36
#   analytical evaluations, then the report of the best with its fidelity checks) — the
#   planner's evaluations as it runs them, caches across plans included; the count per
#   evaluation is printed beside it.
#
#   scripts/callgrind-analytical.sh [--planner]            build the release binary, print the count
#   scripts/callgrind-analytical.sh [--planner] --check    ... and fail (exit 1) if it exceeds the
#                                                          committed baseline by more than the tolerance
#   scripts/callgrind-analytical.sh [--planner] --bless    ... and write the count as the new baseline
#
# Environment: FABRICSIM_BIN (default target/release/fabricsim, built unless set),
# CALLGRIND_TOLERANCE_PCT (default 2: instruction counts move by well under 1 % across
# valgrind/libc versions; a real regression of the fast path is far larger).
# Each takes under a minute on a 2-core box (callgrind runs ~50× slower than native). Not part
# of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
run=process
mode=print
for a in "$@"; do
  case "$a" in
    --planner) run=planner ;;
    --check | --bless) mode="$a" ;;
    *) echo "unknown argument $a ([--planner] [--check | --bless])" >&2; exit 2 ;;
  esac
done
case "$run" in
  process) baseline_file="testdata/benchmarks/callgrind-analytical.baseline" ;;
  planner) baseline_file="testdata/benchmarks/callgrind-planner.baseline" ;;
esac
tol="${CALLGRIND_TOLERANCE_PCT:-2}"
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 2; }
if [ -z "${FABRICSIM_BIN:-}" ]; then
  cargo build --release -q -p fabricsim-cli
  bin="${CARGO_TARGET_DIR:-target}/release/fabricsim"
else
  bin="$FABRICSIM_BIN"
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
model=testdata/benchmarks/simai-example-moe.json
case "$run" in
  process)
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$bin" train \
      --cluster fat-tree:gpus=9216 --model "$model" --gpus 9216 \
      --tp 2 --pp 12 --ep 16 --gbs 9216 --mbs 1 --seq 4096 --fidelity analytical \
      >"$out/stdout" 2>"$out/stderr" ;;
  planner)
    RAYON_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$bin" plan \
      --cluster fat-tree:gpus=9216 --model "$model" --seq 4096 --gbs 9216 \
      --fix tp=2,ep=16,zero=1,pp=12 --rerank 1 --fidelity analytical --json \
      >"$out/stdout" 2>"$out/stderr" ;;
esac
count="$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/stderr" | tail -1)"
[ -n "$count" ] || { cat "$out/stderr" >&2; echo "no instruction count in callgrind's output" >&2; exit 2; }
echo "instructions: $count"
if [ "$run" = planner ]; then
  evals="$(sed -n 's/.*"evaluated_analytical": *\([0-9]*\).*/\1/p' "$out/stdout" | head -1)"
  [ -n "$evals" ] && [ "$evals" -gt 0 ] &&
    echo "evaluations:  $evals ($(( count / evals )) instructions each, everything the search does counted)"
fi
case "$mode" in
  print) ;;
  --bless)
    echo "$count" >"$baseline_file"
    echo "baseline written to $baseline_file" ;;
  --check)
    [ -f "$baseline_file" ] || { echo "no baseline $baseline_file (run with --bless first)" >&2; exit 2; }
    base="$(tr -dc '0-9' <"$baseline_file")"
    limit=$(( base + base * tol / 100 ))
    pct="$(awk -v c="$count" -v b="$base" 'BEGIN { printf "%+.2f", (c / b - 1) * 100 }')"
    echo "baseline:     $base ($pct %; limit +$tol % = $limit)"
    if [ "$count" -gt "$limit" ]; then
      echo "FAIL: the analytical path ($run) executes more than $tol % more instructions than the baseline" >&2
      exit 1
    fi
    echo "ok" ;;
esac
