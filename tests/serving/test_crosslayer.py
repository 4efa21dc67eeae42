"""The serving simulator against the performance layer's own figures (checks that tie the layers together)."""

import numpy as np
import pytest

from wafersim.catalog import load_catalog
from wafersim.perf import EstimateRequest, estimate
from wafersim.serving.engine import SchedulerConfig
from wafersim.serving.metrics import summarize
from wafersim.serving.replica import plan_deployment
from wafersim.serving.simulator import ServeConfig, simulate
from wafersim.serving.workload import Workload

CATALOG = load_catalog()


def _fixed(arrivals, prompt, output) -> Workload:
    n = len(arrivals)
    return Workload(np.asarray(arrivals, dtype=float), np.full(n, prompt), np.full(n, output), "fixed")


@pytest.mark.parametrize(
    ("model", "system", "count", "tp"),
    [("llama-3.1-8b", "h100-sxm", 1, 1), ("llama-3.1-70b", "h100-sxm", 8, 8)],
)
def test_low_load_matches_batch_one_estimate(model, system, count, tp):
    """One request at a time (arrivals 1000 s apart): TTFT is the estimate's prefill time and TPOT its batch-1
    decode time. TTFT uses the exact prefill table, so it agrees to rounding; TPOT is the mean over decode
    steps whose context grows linearly, against the estimate's step at the mean context: equal up to the
    interpolation between 16-token grid points (< 0.5 %)."""
    m, s = CATALOG.model(model), CATALOG.system(system)
    prompt, output = 1000, 200
    reference = estimate(EstimateRequest(m, s, count, prompt, output, tp=tp, pp=1, batch=1))
    deployment = plan_deployment(m, s, count, 1, prompt, output, tp=tp, pp=1)
    summary = summarize(simulate(_fixed(np.arange(20) * 1000.0, prompt, output), deployment.replica))
    assert summary["ttft_p50_s"] == pytest.approx(reference.prefill_s, rel=1e-6)
    assert summary["ttft_p99_s"] == pytest.approx(reference.ttft_s, rel=1e-6)
    assert summary["tpot_p50_s"] == pytest.approx(reference.tpot_s, rel=5e-3)


@pytest.mark.parametrize(
    ("model", "system", "count"), [("llama-3.1-8b", "h100-sxm", 1), ("llama-3.1-70b", "h100-sxm", 8)]
)
def test_saturation_throughput_approaches_max_throughput_estimate(model, system, count):
    """Everyone arrives at once (six batches' worth); steady-state output tokens/s (finishes between the 20th
    and 80th percentile) against the estimate's maximum-throughput figure for one engine. Chunked prefill
    (Sarathi, 8192-token budget) is what the estimate assumes. Tolerance 10 %: the estimate holds every
    sequence at the mean context and exactly its batch; the simulator has sequences at all phases, 16-token
    block rounding, a 1 % admission watermark and preemptions at the edge of the KV cache (measured: −1 % for
    8B, −6 % for 70B)."""
    m, s = CATALOG.model(model), CATALOG.system(system)
    prompt, output = 1000, 200
    deployment = plan_deployment(m, s, count, 1, prompt, output)
    layout = deployment.layout
    reference = estimate(
        EstimateRequest(m, s, count, prompt, output, tp=layout.tp, pp=layout.pp, ep=layout.ep,
                        attention_dp=layout.attention_dp)
    )  # fmt: skip
    per_engine = reference.output_tokens_per_s / reference.dp
    n = int(reference.batch / reference.dp * 6)
    config = ServeConfig(SchedulerConfig(policy="sarathi", chunk_tokens=8192))
    finish = np.sort(
        simulate(_fixed(np.zeros(n), prompt, output), deployment.replica, config).requests.finish_s
    )
    low, high = int(0.2 * n), int(0.8 * n)
    steady = (high - low) * output / (finish[high] - finish[low])
    assert steady == pytest.approx(per_engine, rel=0.10)


def test_serving_prefers_layouts_without_pipeline_stages():
    """The engine does not keep pp steps in flight, so the planner picks pp = 1 when a layout fits that way,
    and pipelining only when asked or when nothing else fits."""
    m, s = CATALOG.model("llama-3.1-70b"), CATALOG.system("h100-sxm")
    assert plan_deployment(m, s, 8, 1, 1000, 200).layout.pp == 1
    assert plan_deployment(m, s, 8, 1, 1000, 200, pp=2).layout.pp == 2
    # 13B in bf16 (26 GB) on three 16 GB chips: tp must divide the 40 heads, so only pp = 3 holds it.
    deep = plan_deployment(CATALOG.model("llama-2-13b"), CATALOG.system("tpu-v5e"), 3, 1, 100, 20)
    assert (deep.layout.tp, deep.layout.pp) == (1, 3)
