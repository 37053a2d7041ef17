#!/usr/bin/env bash
# Instruction count of `fabricsim train --fidelity analytical` on SimAI 1.6's analytical example
# job (9,216 H100, TP 2 · PP 12 · EP 16; testdata/benchmarks/README.md), counted by valgrind's
# callgrind: repeatable to a fraction of a percent on a loaded machine, where wall time is not.
# This is the regression figure of the analytical fast path (docs/performance.md).
#
#   scripts/callgrind-analytical.sh            build the release binary, print the count
#   scripts/callgrind-analytical.sh --check    ... and fail (exit 1) if it exceeds the committed
#                                              baseline by more than the tolerance
#   scripts/callgrind-analytical.sh --bless    ... and write the count as the new baseline
#
# Environment: FABRICSIM_BIN (default target/release/fabricsim, built unless set),
# CALLGRIND_TOLERANCE_PCT (default 2: instruction counts move by well under 1 % across
# valgrind/libc versions; a real regression of the fast path is far larger).
# Takes about a minute (callgrind runs ~50× slower than native). Not part of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-print}"
baseline_file="testdata/benchmarks/callgrind-analytical.baseline"
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
valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$bin" train \
  --cluster fat-tree:gpus=9216 --model testdata/benchmarks/simai-example-moe.json --gpus 9216 \
  --tp 2 --pp 12 --ep 16 --gbs 9216 --mbs 1 --seq 4096 --fidelity analytical \
  >"$out/stdout" 2>"$out/stderr"
count="$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/stderr" | tail -1)"
[ -n "$count" ] || { cat "$out/stderr" >&2; echo "no instruction count in callgrind's output" >&2; exit 2; }
echo "instructions: $count"
case "$mode" in
  print) ;;
  --bless)
    echo "$count" >"$baseline_file"
    echo "baseline written to $baseline_file" ;;
  --check)
    base="$(tr -dc '0-9' <"$baseline_file")"
    limit=$(( base + base * tol / 100 ))
    pct="$(awk -v c="$count" -v b="$base" 'BEGIN { printf "%+.2f", (c / b - 1) * 100 }')"
    echo "baseline:     $base ($pct %; limit +$tol % = $limit)"
    if [ "$count" -gt "$limit" ]; then
      echo "FAIL: the analytical path executes more than $tol % more instructions than the baseline" >&2
      exit 1
    fi
    echo "ok" ;;
  *) echo "unknown mode $mode (--check or --bless)" >&2; exit 2 ;;
esac
