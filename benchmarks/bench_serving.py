"""Serving-simulator speed: requests simulated per wall-clock second.

Default: one million requests with the Azure conv trace's prompt and output lengths (resampled), Poisson
arrivals at the trace's mean rate, Llama 3.1 70B on one 8 × H100 replica (the estimate's layout), vLLM-style
scheduling. Run:  .venv/bin/python benchmarks/bench_serving.py [--requests N] [--scheduler S] [--rate-scale X]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from wafersim.catalog import load_catalog
from wafersim.serving.engine import SchedulerConfig
from wafersim.serving.metrics import summarize
from wafersim.serving.replica import plan_deployment
from wafersim.serving.simulator import ServeConfig, simulate
from wafersim.serving.workload import Lengths, read_trace, synthetic, trace_path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--model", default="llama-3.1-70b")
    parser.add_argument("--system", default="h100-sxm")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--tp", type=int, default=None, help="tensor-parallel degree (default: the planner's)")
    parser.add_argument("--scheduler", default="vllm")
    parser.add_argument("--rate-scale", type=float, default=1.0, help="× the conv trace's mean rate")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    conv = read_trace(trace_path("azure-conv"))
    rng = np.random.default_rng(args.seed)
    workload = synthetic(
        rng,
        conv.rate_rps * args.rate_scale,
        count=args.requests,
        prompt=Lengths("empirical", values=tuple(conv.prompt_tokens.tolist())),
        output=Lengths("empirical", values=tuple(conv.output_tokens.tolist())),
    )
    catalog = load_catalog()
    deployment = plan_deployment(
        catalog.model(args.model),
        catalog.system(args.system),
        args.count,
        1,
        float(conv.prompt_tokens.mean()),
        float(conv.output_tokens.mean()),
        tp=args.tp,
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    result = simulate(
        workload,
        deployment.replica,
        ServeConfig(SchedulerConfig(policy=args.scheduler), engines=deployment.engines),
    )
    wall_s = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started  # the machine is shared: CPU time shows contention
    summary = summarize(result)
    print(
        json.dumps(
            {
                "requests": args.requests,
                "scheduler": args.scheduler,
                "layout": f"tp={deployment.layout.tp} pp={deployment.layout.pp} engines={deployment.engines}",
                "offered_rate_rps": round(workload.rate_rps, 3),
                "sim_wall_s": round(wall_s, 2),
                "sim_cpu_s": round(cpu_s, 2),
                "requests_per_wall_s": round(args.requests / wall_s),
                "events": result.events,
                "completed": summary["completed"],
                "simulated_hours": round(summary["makespan_s"] / 3600, 1),
                "ttft_p90_s": round(summary["ttft_p90_s"], 3),
                "tpot_p90_s": round(summary["tpot_p90_s"], 4),
                "output_tokens_per_s": round(summary["output_tokens_per_s"], 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
