#!/usr/bin/env python3
"""bench-compare.py N OLD NEW ARGS...: run the binaries OLD and NEW with
ARGS alternately (the order swapped every round), N times each, and print
for each the wall time (mean, median, best, 90th percentile, to the
microsecond) and the mean CPU time of its runs. The machine's speed
drifts from minute to minute; runs interleaved this way share the drift,
where runs of one binary after the other do not. Output is discarded.

  scripts/bench-compare.py 20 /tmp/klp-old bin/klp-audit \\
      impacted --build ~/.cache/klp-audit/linux-6.1-full --func percpu_ref_put_many --format json
"""
import resource
import statistics
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    n = int(sys.argv[1])
    bins = sys.argv[2:4]
    args = sys.argv[4:]
    wall = [[], []]
    cpu = [[], []]
    for i in range(n):
        for k in (0, 1) if i % 2 == 0 else (1, 0):
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run([bins[k]] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wall[k].append((time.perf_counter() - t) * 1000)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[k].append((r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * 1000)
    for k, b in enumerate(bins):
        w = sorted(wall[k])
        print(f"{b}: wall mean {statistics.mean(w):.1f} ms, median {statistics.median(w):.1f}, "
              f"best {w[0]:.1f}, p90 {w[int(len(w) * 0.9)]:.1f}; CPU mean {statistics.mean(cpu[k]):.1f} ms (n={n})")


if __name__ == "__main__":
    main()
