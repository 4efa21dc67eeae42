"""Benchmark: the wafer placement search (cold caches) and an estimate once the search is cached.

Goals: placement search for llama-3.1-70b on 4 cs-3 <= 10 s on a 2-core machine (issue 4), and for a 671B MoE
(deepseek-v3 fp8) on 20 cs-3 <= 10 s cold (issue 9); a single estimate after the search is cached <= 0.5 s.
Prints medians (wall-clock on a shared machine is noisy).
Run: `python benchmarks/bench_wafer.py [--repeats N]`.
"""

from __future__ import annotations

import argparse
import statistics
import time

from wafersim.catalog import load_catalog
from wafersim.perf import EstimateRequest, estimate
from wafersim.perf.wafer import search
from wafersim.perf.wafer.search import clear_caches as _clear


def _timed(function, repeats: int, cold: bool) -> tuple[float, float]:
    """Median (wall, CPU) seconds: on a shared machine the process's CPU time is the steadier figure."""
    times, cpu = [], []
    for _ in range(repeats):
        if cold:
            _clear()
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(times), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default=None, help="run the cases whose name contains this text")
    args = parser.parse_args()
    repeats = args.repeats
    catalog = load_catalog()
    cases = [
        ("deepseek-v3 fp8 on 20 × cs-3, batch 1", "deepseek-v3", 20, 1),
        ("deepseek-v3 fp8 on 20 × cs-3, batch auto", "deepseek-v3", 20, None),
        ("llama-3.1-70b on 4 × cs-3, batch 1", "llama-3.1-70b", 4, 1),
        ("llama-3.1-70b on 4 × cs-3, batch auto", "llama-3.1-70b", 4, None),
        ("llama-3.1-70b on 8 × cs-3, batch auto", "llama-3.1-70b", 8, None),
        ("llama-3.1-8b on 1 × cs-3, batch 1", "llama-3.1-8b", 1, 1),
        ("llama-3.1-8b on 1 × cs-3, batch auto", "llama-3.1-8b", 1, None),
    ]
    print(
        f"{'case':42s} {'candidates':>10s} {'search (cold)':>14s} {'cold CPU':>10s} {'estimate (cached)':>18s}"
    )
    for name, model, count, batch in cases:
        if args.only and args.only not in name:
            continue
        request = EstimateRequest(
            model=catalog.model(model),
            system=catalog.system("cs-3"),
            count=count,
            input_len=1000,
            output_len=1000,
            batch=batch,
        )
        cold, cold_cpu = _timed(lambda r=request: estimate(r), repeats, cold=True)
        warm, _ = _timed(lambda r=request: estimate(r), repeats, cold=False)
        from wafersim.perf.wafer.estimator import WaferOptions, model_on_wafer, workload

        found = search.search(model_on_wafer(request), workload(request, WaferOptions()))
        print(f"{name:42s} {found.candidates:>10d} {cold:>12.2f} s {cold_cpu:>8.2f} s {warm * 1e3:>15.1f} ms")


if __name__ == "__main__":
    main()
