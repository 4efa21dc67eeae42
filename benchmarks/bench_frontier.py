"""Frontier search speed: `wafersim frontier` for Llama-3.1-70B on h200-sxm and cs-3 with disaggregation.

Run:  .venv/bin/python benchmarks/bench_frontier.py [--repeats 3]
Prints CPU and wall seconds per run (each in a fresh process, so placement caches start cold) and the medians.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

COMMAND = [sys.executable, "-m", "wafersim.cli.main", "frontier", "--model", "llama-3.1-70b", "--system",
           "h200-sxm", "--system", "cs-3", "--input-len", "1000", "--output-len", "1000", "--slo-ttft", "2",
           "--slo-tpot", "0.2", "--disagg", "--json"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    walls, cpus = [], []
    for _ in range(args.repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        out = subprocess.run(COMMAND, check=True, capture_output=True, text=True).stdout
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        points = json.loads(out)
        walls.append(wall)
        cpus.append(cpu)
        print(json.dumps({"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "points": len(points),
                          "pareto": sum(p["pareto"] for p in points)}))  # fmt: skip
    print(json.dumps({"median_wall_s": round(statistics.median(walls), 2),
                      "median_cpu_s": round(statistics.median(cpus), 2)}))  # fmt: skip


if __name__ == "__main__":
    main()
