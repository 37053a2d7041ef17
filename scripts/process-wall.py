#!/usr/bin/env python3
"""Wall and CPU time of `fabricsim train --fidelity analytical` on SimAI 1.6's 9,216-GPU MoE
example job (testdata/benchmarks/README.md), for binaries run interleaved — on a shared box
the host's load moves every run, so compare binaries in one series, never across series.

    scripts/process-wall.py N BIN [BIN ...]

Each BIN may carry environment settings after colons (BIN:NAME=VALUE:...). Prints per binary
the median and minimum wall time and the median user and system CPU time (getrusage of the
children) of N runs. Outputs are discarded; the exit status of every run must be 0.
"""
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "testdata", "benchmarks", "simai-example-moe.json")
ARGS = ["train", "--cluster", "fat-tree:gpus=9216", "--model", MODEL, "--gpus", "9216",
        "--tp", "2", "--pp", "12", "--ep", "16", "--gbs", "9216", "--mbs", "1",
        "--seq", "4096", "--fidelity", "analytical"]


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    n = int(sys.argv[1])
    specs = sys.argv[2:]
    res = {s: [] for s in specs}
    for _ in range(n):
        for s in specs:
            binary, *settings = s.split(":")
            env = dict(os.environ)
            for kv in settings:
                k, v = kv.split("=", 1)
                env[k] = v
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run([binary] + ARGS, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=env, check=True)
            wall = time.perf_counter() - t0
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            res[s].append((wall, r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime))
    for s in specs:
        v = res[s]
        med = lambda k: statistics.median(x[k] for x in v) * 1e3
        low = min(x[0] for x in v) * 1e3
        print(f"{s}: wall median {med(0):.1f} ms, min {low:.1f} ms; "
              f"user median {med(1):.1f} ms, sys median {med(2):.1f} ms ({n} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
