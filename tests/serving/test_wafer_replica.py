"""Wafer-scale engines (cs-3) in the serving simulator, tied to the wafer estimator's own figures."""

import numpy as np
import pytest

from wafersim.catalog import load_catalog
from wafersim.errors import WafersimError
from wafersim.perf import EstimateRequest
from wafersim.perf.wafer.estimator import WaferOptions, estimate_wafer
from wafersim.perf.wafer.pipeline import sram_use
from wafersim.perf.work import StepWork, decode_work, prefill_work
from wafersim.serving.engine import SchedulerConfig
from wafersim.serving.metrics import summarize
from wafersim.serving.replica import plan_deployment
from wafersim.serving.simulator import ServeConfig, simulate
from wafersim.serving.state import REJECTED
from wafersim.serving.wafer_replica import wafer_replica
from wafersim.serving.workload import Workload, read_trace, trace_path

CATALOG = load_catalog()
CS3 = CATALOG.system("cs-3")
PROMPT, OUTPUT = 1024, 200


def _fixed(arrivals, prompt, output) -> Workload:
    n = len(arrivals)
    return Workload(np.asarray(arrivals, dtype=float), np.full(n, prompt), np.full(n, output), "fixed")


def _first(workload: Workload, n: int) -> Workload:
    return Workload(
        workload.arrival_s[:n], workload.prompt_tokens[:n], workload.output_tokens[:n], workload.source
    )


@pytest.mark.parametrize(("model", "count"), [("llama-3.1-8b", 1), ("llama-3.1-70b", 4)])
def test_low_load_matches_batch_one_wafer_estimate(model, count):
    """One request at a time: TTFT is the batch-1 estimate's TTFT and TPOT its batch-1 decode step.

    The engine prefills on the decode placement, so the reference is the estimate held to that region shape for
    both phases (no re-layout). TTFT agrees to rounding: the engine weighs the same power-of-two chunks on the
    same placement and prices them with the same `step_time`. TPOT is the mean over 199 steps whose context
    grows from 1024 to 1223 keys, against one step at the mean context (1124): within 0.5 % (the cost steps once
    per C = 108 keys, a few cycles in ~200 000)."""
    m = CATALOG.model(model)
    request = EstimateRequest(m, CS3, count, PROMPT, OUTPUT, batch=1)
    placement = estimate_wafer(request).extra["placement"]
    grid = (placement["region_rows"], placement["region_cols"])
    reference = estimate_wafer(request, WaferOptions(decode_grid=grid, prefill_grid=grid))
    assert reference.fits and reference.extra["placement"]["relayout_s"] == 0.0
    replica = wafer_replica(m, CS3, count, PROMPT, OUTPUT, batch=1, grid=grid)
    summary = summarize(simulate(_fixed(np.arange(20) * 100.0, PROMPT, OUTPUT), replica))
    assert summary["completed"] == 20
    assert summary["ttft_p50_s"] == pytest.approx(reference.ttft_s, rel=1e-6)
    assert summary["ttft_p99_s"] == pytest.approx(reference.ttft_s, rel=1e-6)
    assert summary["tpot_p50_s"] == pytest.approx(reference.tpot_s, rel=5e-3)


def test_decode_iteration_is_the_estimates_decode_step():
    """A decode-only iteration at the estimate's batch and mean context is the estimate's decode step: M full
    micro-batches in flight (min(batch, stages) of them, fewer when the last would be empty), max(path, M ×
    busiest)."""
    m = CATALOG.model("llama-3.1-8b")
    reference = estimate_wafer(EstimateRequest(m, CS3, 1, PROMPT, OUTPUT))
    deployment = plan_deployment(m, CS3, 1, 1, PROMPT, OUTPUT)
    assert deployment.layout.pp == reference.pp  # same placement: as many stages
    # decode_work counts the new token among the keys: context − 1 cached + 1 = the estimate's mean context.
    context = PROMPT + OUTPUT // 2 - 1
    step = deployment.replica.iteration_time_s(decode_work(float(reference.batch), float(context)))
    assert float(step) == pytest.approx(reference.extra["decode_step_s"], rel=1e-9)
    micro = reference.extra["placement"]["decode_micro_batches"]
    # Full micro-batches: ceil(batch / ceil(batch / min(batch, stages))) of them, each with the same tokens.
    tokens = -(-reference.batch // min(reference.batch, reference.pp))
    assert micro == -(-reference.batch // tokens) > 1


def test_saturation_throughput_approaches_wafer_estimate():
    """Six batches' worth arriving at once; steady-state output tokens/s (finishes between the 20th and 80th
    percentile) within 15 % of the estimate's maximum-throughput figure (measured −3.9 % with vLLM, −11.9 % with
    Sarathi; +3.5 % and −3.5 % before the SRAM-port bound made prompt chunks costlier beside decode steps): the
    estimate holds exactly its batch at the mean context and spreads prompts evenly over decode steps; the
    simulator has sequences at every phase, block rounding and the admission watermark, and Sarathi's mixed
    iterations carry decode tokens at the prompt chunk's pass size."""
    m = CATALOG.model("llama-3.1-8b")
    reference = estimate_wafer(EstimateRequest(m, CS3, 1, PROMPT, OUTPUT))
    deployment = plan_deployment(m, CS3, 1, 1, PROMPT, OUTPUT)
    n = reference.batch * 6
    for policy in ("vllm", "sarathi"):
        config = ServeConfig(SchedulerConfig(policy=policy, chunk_tokens=8192))
        finish = np.sort(
            simulate(_fixed(np.zeros(n), PROMPT, OUTPUT), deployment.replica, config).requests.finish_s
        )
        low, high = int(0.2 * n), int(0.8 * n)
        steady = (high - low) * OUTPUT / (finish[high] - finish[low])
        assert steady == pytest.approx(reference.output_tokens_per_s, rel=0.15), policy


@pytest.mark.parametrize(("model", "count"), [("llama-3.1-8b", 1), ("llama-3.1-70b", 4)])
def test_kv_capacity_is_the_sram_left_after_weights(model, count):
    """Against the estimator's own SRAM accounting (`sram_use`, which the placement search fits): one sequence
    of the capacity's length fits beside the weights, code reserve and workspace; one more token per column
    (the next slot on every PE) does not. The estimate's batch at its sequence length fits in the capacity."""
    m = CATALOG.model(model)
    replica = plan_deployment(m, CS3, count, 1, PROMPT, OUTPUT).replica
    plan, capacity = replica.plan, replica.kv_capacity_tokens
    mow, p = plan.mow, plan.placement

    def peak(tokens: int) -> float:
        act, chunk = plan.workspace
        return sram_use(mow, p, 1, tokens, act, plan.workspace_context, chunk).peak_per_pe

    assert capacity > 0
    widest = max(r.cols for r in p.regions)  # regions need not be equal: the next slot on every PE
    assert peak(capacity) <= mow.sram_per_pe < peak(capacity + widest)
    reference = estimate_wafer(EstimateRequest(m, CS3, count, PROMPT, OUTPUT))
    assert reference.batch * (PROMPT + OUTPUT) <= capacity


def test_array_iterations_price_as_single_ones():
    """The vectorised path (what the pricing tables call) gives each iteration what a call of its own gives."""
    replica = plan_deployment(CATALOG.model("llama-3.1-8b"), CS3, 1, 1, PROMPT, OUTPUT).replica
    rng = np.random.default_rng(3)
    prompts = rng.integers(1, 3000, 12).astype(float)
    past = rng.integers(0, 2000, 12).astype(float)
    batches = rng.integers(1, 300, 12).astype(float)
    contexts = rng.integers(0, 4000, 12).astype(float)
    mixed = prefill_work(prompts, past) + decode_work(batches, contexts)
    together = replica.iteration_time_s(mixed)
    for i in range(12):
        one = StepWork(*(np.asarray(getattr(mixed, f))[i] for f in mixed.__dataclass_fields__))
        assert float(replica.iteration_time_s(one)) == pytest.approx(together[i], rel=1e-12)
    # More work never takes less time: a longer prompt, a larger batch.
    longer = replica.iteration_time_s(prefill_work(np.arange(1.0, 4000.0)))
    assert np.all(np.diff(longer) >= -1e-15)
    assert float(replica.iteration_time_s(prefill_work(0.0))) == 0.0


def test_wafer_deployment_conserves_and_rejects_with_reasons():
    """Llama 3.1 70B on 4 CS-3 holds ~8k tokens of KV (compact placement): requests longer than that (every
    40th conv request, its prompt made 12k tokens) are rejected (reason exceeds-kv-capacity), exactly those;
    every other one completes."""
    m = CATALOG.model("llama-3.1-70b")
    conv = _first(read_trace(trace_path("azure-conv")), 400)
    deployment = plan_deployment(
        m, CS3, 4, 1, float(conv.prompt_tokens.mean()), float(conv.output_tokens.mean())
    )
    prompts = conv.prompt_tokens.copy()
    prompts[::40] = 12_000
    workload = Workload(conv.arrival_s, prompts, conv.output_tokens, conv.source)
    result = simulate(workload, deployment.replica)
    summary = summarize(result)
    requests = result.requests
    rejected = np.flatnonzero(requests.status == REJECTED)
    assert summary["completed"] + len(rejected) == 400
    capacity = deployment.replica.kv_capacity_tokens
    too_big = np.flatnonzero(workload.prompt_tokens + workload.output_tokens > 0.99 * capacity)
    assert len(rejected) > 0 and set(rejected) <= set(too_big)
    assert {requests.reason[int(r)][0] for r in rejected} == {"exceeds-kv-capacity"}
    assert np.all(
        requests.finish_s[requests.status != REJECTED] >= workload.arrival_s[requests.status != REJECTED]
    )


def test_too_small_wafer_deployments_are_clear_errors():
    m = CATALOG.model("llama-3.1-70b")
    with pytest.raises(WafersimError, match="cs-3 is a wafer-scale system.*needs 4 cs-3 systems"):
        plan_deployment(m, CS3, 1, 1, PROMPT, OUTPUT)
    with pytest.raises(WafersimError, match="tp 8: cs-3 is a wafer-scale system"):
        plan_deployment(m, CS3, 4, 1, PROMPT, OUTPUT, tp=8)


@pytest.mark.parametrize(
    ("trace", "model", "count"), [("azure-conv", "llama-3.1-70b", 4), ("azure-code", "llama-3.1-8b", 1)]
)
def test_azure_traces_replay_on_cs3(trace, model, count):
    """The first 3000 requests at their recorded times: all accounted for, and no token comes faster than a
    batch-1 decode step at the shortest context (nothing beats the pipeline's own walk)."""
    workload = _first(read_trace(trace_path(trace)), 3000)
    deployment = plan_deployment(
        CATALOG.model(model),
        CS3,
        count,
        1,
        float(workload.prompt_tokens.mean()),
        float(workload.output_tokens.mean()),
    )
    result = simulate(workload, deployment.replica)
    summary = summarize(result)
    assert summary["completed"] + summary.get("rejected", {}).get("count", 0) == 3000
    assert summary["completed"] > 2500
    fastest = float(deployment.replica.iteration_time_s(decode_work(1.0, 0.0)))
    done = (result.requests.status != REJECTED) & (workload.output_tokens > 1)
    gaps = (result.requests.finish_s - result.requests.first_token_s)[done] / (
        workload.output_tokens[done] - 1
    )
    assert gaps.min() >= fastest * (1 - 1e-9)
    assert summary["tpot_p50_s"] < 10 * fastest  # a lightly loaded replay decodes near batch-1 speed


@pytest.mark.parametrize(("model", "count"), [("llama-3.1-8b", 1), ("llama-3.1-70b", 4)])
def test_kv_bytes_per_token_is_the_fullest_wafers_share(model, count):
    """What one wafer's I/O carries per token when KV moves (disaggregation): on one wafer, the model's whole KV
    per token (layers × 2 × KV heads × head dim × 2 bytes); over several, the largest wafer share, which is at
    least an even share and less than the whole."""
    m = CATALOG.model(model)
    replica = plan_deployment(m, CS3, count, 1, PROMPT, OUTPUT).replica
    whole = m.num_layers * 2 * m.num_kv_heads * m.head_dim * 2
    wafers = replica.accelerators
    if wafers == 1:
        assert replica.kv_bytes_per_token == whole
    else:
        assert whole / wafers <= replica.kv_bytes_per_token < whole


def test_fleet_tpot_bound_reaches_wafer_replicas():
    """`max_tpot_s` given to the deployment reaches the wafer placement: the engine is laid out for the batch
    the estimate chooses within that bound, which binds (smaller than the unbounded batch)."""
    m = CATALOG.model("llama-3.1-8b")
    free = plan_deployment(m, CS3, 1, 1, PROMPT, OUTPUT).replica
    free_answer = estimate_wafer(
        EstimateRequest(m, CS3, 1, PROMPT, OUTPUT), WaferOptions(per_user_views=False)
    )
    bound = 0.5 * free_answer.tpot_s
    bounded = plan_deployment(m, CS3, 1, 1, PROMPT, OUTPUT, max_tpot_s=bound).replica
    answer = estimate_wafer(
        EstimateRequest(m, CS3, 1, PROMPT, OUTPUT, max_tpot_s=bound), WaferOptions(per_user_views=False)
    )
    assert answer.tpot_s <= bound
    assert bounded.plan.batch == answer.batch < free.plan.batch
