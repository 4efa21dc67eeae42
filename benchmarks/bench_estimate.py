"""Benchmark: one `estimate` call, and the search over every parallelism layout of a model on a system.

Prints medians of repeated runs (wall-clock on a shared machine is noisy: quote medians and ratios). The
goal (foundation issue): each under 1 s on a 2-core machine. Run: `python benchmarks/bench_estimate.py`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from wafersim.catalog import load_catalog
from wafersim.perf import EstimateRequest, estimate
from wafersim.perf.layout import candidate_layouts

REPEATS = 7


def median_s(function) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    catalog = load_catalog()
    cases = [
        ("llama-3.1-70b on 8 × h100-sxm, fixed tp=8, batch 1", dict(model="llama-3.1-70b", system="h100-sxm", count=8,
                                                                  tp=8, pp=1, ep=1, attention_dp=False, batch=1)),
        ("llama-3.1-70b on 8 × h100-sxm, all layouts, batch auto", dict(model="llama-3.1-70b", system="h100-sxm", count=8)),
        ("deepseek-v3 on 64 × h200-sxm, all layouts, batch auto", dict(model="deepseek-v3", system="h200-sxm", count=64)),
        ("llama-3.1-405b on 72 × gb200, all layouts, batch auto", dict(model="llama-3.1-405b", system="gb200", count=72)),
        ("llama-3.1-405b on 8 × h200-sxm, all layouts, server limits", dict(model="llama-3.1-405b", system="h200-sxm",
                                                                            count=8, max_ttft_s=6.0, max_tpot_s=0.175)),
    ]
    print(f"{'case':60s} {'layouts':>8s} {'median':>10s}")
    for name, case in cases:
        request = EstimateRequest(model=catalog.model(case.pop("model")), system=catalog.system(case.pop("system")),
                                  input_len=1000, output_len=1000, precision="fp8", **case)
        layouts = len(candidate_layouts(request.model, request.count, request.tp, request.pp, request.ep,
                                        request.attention_dp))
        print(f"{name:60s} {layouts:8d} {median_s(lambda r=request: estimate(r)) * 1e3:8.1f} ms")
    command = [sys.executable, "-m", "wafersim.cli.main", "estimate", "--model", "llama-3.1-70b", "--system",
               "h100-sxm", "--count", "8", "--input-len", "1000", "--output-len", "1000", "--json"]
    cli = median_s(lambda: subprocess.run(command, check=True, capture_output=True))
    print(f"{'CLI process: wafersim estimate … --json (start-up included)':60s} {'':8s} {cli * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
