"""Sweep throughput: points per second on 1 and 2 local workers and on a local Ray runtime.

Two sweeps, each run fresh (no reuse) on every engine:
- capacity: 20 capacity searches (Llama 3.1 8B on 1-2 × H100/H200, 5 TPOT targets, 5,000 synthetic requests);
- estimate: 200 estimates (3 models × 4 GPU systems × 2 precisions × ... batch 1/auto).
Run:  .venv/bin/python benchmarks/bench_sweep.py [--repeats 3] [--tasks capacity,estimate] [--no-ray]
Prints one JSON line per (task, engine, repeat) and the median points/s per engine with the 1 -> 2 ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from wafersim.parallel import Engine
from wafersim.sweep import parse_spec, run_sweep

SPECS = {
    "capacity": {
        "task": "capacity",
        "grid": {
            "model": ["llama-3.1-8b"],
            "system": ["h100-sxm:1", "h100-sxm:2", "h200-sxm:1", "h200-sxm:2"],
            "slo_tpot_s": [0.03, 0.04, 0.05, 0.075, 0.1],
        },
        "fixed": {"slo_ttft_s": 2.0, "input_len": 1000, "output_len": 200, "synthetic_requests": 5000},
    },
    "estimate": {
        "task": "estimate",
        "grid": {
            "model": ["llama-3.1-8b", "llama-3.1-70b", "qwen2-72b", "mixtral-8x7b", "llama-3.3-70b"],
            "system": ["h100-sxm:8", "h200-sxm:8", "b200:8", "mi300x:8", "mi355x:8"],
            "precision": ["bf16", "fp8"],
            "input_len": [1000, 4000],
            "batch": [1, "auto"],
        },
        "fixed": {"output_len": 200},
    },
}


def engines(no_ray: bool) -> dict[str, Engine]:
    found = {"1 worker": Engine("local", workers=1), "2 workers": Engine("local", workers=2)}
    if not no_ray:
        found["ray local (2 CPUs)"] = Engine("ray", workers=2)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", default="capacity,estimate")
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    for task in args.tasks.split(","):
        spec = parse_spec(SPECS[task], f"bench:{task}")
        rates: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            for name, engine in engines(args.no_ray).items():
                with tempfile.TemporaryDirectory() as out:
                    summary = run_sweep(spec, Path(out), engine)
                assert summary.failed == 0, f"{task}: {summary.failed} points failed"
                rates.setdefault(name, []).append(summary.points_per_s)
                print(json.dumps({"task": task, "engine": name, "points": summary.points,
                                  "wall_s": round(summary.wall_s, 2),
                                  "points_per_s": round(summary.points_per_s, 3)}))  # fmt: skip
        medians = {name: statistics.median(values) for name, values in rates.items()}
        scaling = medians["2 workers"] / medians["1 worker"]
        print(json.dumps({"task": task, "median_points_per_s": medians, "scaling_1_to_2": round(scaling, 2)}))


if __name__ == "__main__":
    main()
