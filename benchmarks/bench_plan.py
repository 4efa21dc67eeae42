"""Fleet-planner speed: `wafersim plan` on the 750 MW scenario from a cold capacity cache, then warm.

Runs the real CLI in a subprocess (imports included), with a fresh temporary cache directory so that the cold
run simulates every capacity. Run:  .venv/bin/python benchmarks/bench_plan.py [--scenario PATH] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(scenario: str, cache: str, workers: int | None) -> dict:
    command = [sys.executable, "-m", "wafersim.cli.main", "plan", scenario, "--json", "--cache-dir", cache]
    if workers is not None:
        command += ["--workers", str(workers)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    wall_s = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(done.stdout)
    return {
        "wall_s": round(wall_s, 2),
        "cpu_s": round((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), 2),
        "capacity_simulated": result["timing"]["capacity_simulated"],
        "capacity_cached": result["timing"]["capacity_cached"],
        "feasible": result["feasible"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "openai-cerebras-750mw.yaml"))
    parser.add_argument("--workers", type=int, default=None, help="default: the CLI's (≤ 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        cold = run(args.scenario, cache, args.workers)
        warm = run(args.scenario, cache, args.workers)
    report = {
        "scenario": Path(args.scenario).name,
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "cold": cold,
        "warm": warm,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
