"""Serving limits (TTFT and TPOT bind together, the answer says which) and layouts priced as run."""

import pytest

from wafersim.errors import WafersimError
from wafersim.perf import EstimateRequest, estimate
from wafersim.perf.cost import IterationCost
from wafersim.perf.layout import Layout
from wafersim.perf.limits import (
    Workload,
    _wait_probability,
    prefill_utilisation,
    server_ttft_s,
    slot_utilisation,
    steady_time_s,
)
from wafersim.perf.work import decode_work, prefill_work


def request(catalog, model="llama-3.1-70b", system="h200-sxm", count=8, **kw):
    kw.setdefault("input_len", 8000)
    kw.setdefault("output_len", 500)
    kw.setdefault("precision", "fp8")
    return EstimateRequest(model=catalog.model(model), system=catalog.system(system), count=count, **kw)


def test_binding_limit_is_reported(catalog):
    free = estimate(request(catalog, tp=8, pp=1))
    assert free.extra["binding_limit"] in ("memory", "max_batch")
    tpot = estimate(request(catalog, tp=8, pp=1, max_tpot_s=0.5 * free.tpot_s))
    assert tpot.extra["binding_limit"] == "max_tpot_s" and tpot.tpot_s <= 0.5 * free.tpot_s
    assert tpot.batch < free.batch


def test_ttft_limit_binds_with_long_prompts(catalog):
    loose = estimate(request(catalog, tp=8, pp=1, max_ttft_s=60.0))
    tight = estimate(request(catalog, tp=8, pp=1, max_ttft_s=0.6 * loose.ttft_s))
    assert tight.extra["binding_limit"] == "max_ttft_s" and tight.extra["limits_met"]
    assert tight.ttft_s <= 0.6 * loose.ttft_s
    assert tight.output_tokens_per_s < loose.output_tokens_per_s


def test_unreachable_limit_says_so(catalog):
    result = estimate(request(catalog, tp=8, pp=1, max_ttft_s=1e-4))
    assert result.extra["limits_met"] is False and result.extra["binding_limit"] == "max_ttft_s"


def test_queueing_raises_ttft_with_load(catalog):
    cost = IterationCost(catalog.model("llama-3.1-70b"), catalog.system("h200-sxm"), Layout(tp=8), "fp8")
    load = Workload(8000, 500, None)
    assert prefill_utilisation(cost, load, 64, 8192) < 1
    assert server_ttft_s(cost, load, 64, 8192) > server_ttft_s(cost, load, 4, 8192)
    assert server_ttft_s(cost, load, 10_000, 256) == float("inf")  # prompts arrive faster than served


def test_bad_ttft_limit_is_named(catalog):
    with pytest.raises(WafersimError, match="max_ttft_s"):
        request(catalog, max_ttft_s=0)


def test_pipeline_bubble_with_few_micro_batches(catalog):
    """One sequence through pp stages takes every stage's time in turn: no faster than tp=1."""
    model, system = catalog.model("llama-3.1-8b"), catalog.system("h100-sxm")
    one = IterationCost(model, system, Layout(), "fp8").time_s(decode_work(1, 1000))
    piped = IterationCost(model, system, Layout(pp=4), "fp8").breakdown(decode_work(1, 1000))
    assert sum(piped.values()) >= float(one)
    assert "pipeline_wait" in piped and "pp_transfer" in piped


def test_prefill_interference_makes_pipelines_pay(catalog):
    """A prompt chunk sits in one micro-batch and its loop sets the pipeline's pace: with long prompts a
    pipeline layout loses more to prefill than the same accelerators in tensor parallelism."""
    model, system = catalog.model("llama-3.1-70b"), catalog.system("h200-sxm")
    load = Workload(8000, 500, None)
    pp = IterationCost(model, system, Layout(tp=1, pp=8), "fp8")
    tp = IterationCost(model, system, Layout(tp=8), "fp8")
    ratio_pp = steady_time_s(pp, load, 256, 256) / steady_time_s(pp, load, 256, 0)
    ratio_tp = steady_time_s(tp, load, 256, 256) / steady_time_s(tp, load, 256, 0)
    assert ratio_pp > ratio_tp


@pytest.mark.parametrize(
    ("model", "system", "count", "input_len", "output_len"),
    [("llama-3.3-70b", "h100-sxm", 2, 1000, 1000), ("llama-3.1-405b", "h200-sxm", 8, 1000, 1000)],
)
def test_search_keeps_tensor_parallelism_for_published_tp_runs(
    catalog, model, system, count, input_len, output_len
):
    """The TensorRT-LLM performance tables run these on TP; the search picks TP (or says by how much a
    pipeline wins) and explains its choice."""
    result = estimate(request(catalog, model, system, count, input_len=input_len, output_len=output_len))
    assert result.pp == 1
    assert result.extra["layout_reason"].startswith(f"tp{result.tp}")


def test_slot_queue_keeps_small_pools_below_saturation():
    """M/M/c wait for a free sequence slot: few slots with long decodes must run well below saturation to keep
    the p99 wait within the TTFT budget; many slots can run nearly full."""
    few = slot_utilisation(40, 100.0, 2.0)
    many = slot_utilisation(4000, 100.0, 2.0)
    assert 0.3 < few < 0.9 < many < 1.0
    assert slot_utilisation(40, 100.0, 20.0) > few
    assert slot_utilisation(40, 100.0, 0.0) == 0.0


def test_erlang_c_matches_across_its_two_forms():
    """The exact recursion (small pools) and the Halfin–Whitt limit (large ones) agree near the switch."""
    exact = _wait_probability(64, 0.8)
    approx = _wait_probability(65, 0.8)
    assert exact == pytest.approx(approx, rel=0.35)
    assert _wait_probability(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = ρ


def test_prefill_slot_utilisation_is_counted_in_time(catalog):
    """Long prompts: the iterations carrying a prefill chunk are the long ones, so the prefill slot is busy for
    far more of the time than of the iterations."""
    cost = IterationCost(catalog.model("llama-3.1-405b"), catalog.system("h200-sxm"), Layout(tp=8), "fp8")
    load = Workload(8000, 685, None)
    batch, chunk = 40, 8192
    iterations_share = batch / load.output_len * load.input_len / chunk
    assert prefill_utilisation(cost, load, batch, chunk) > 5 * iterations_share


def test_long_prompt_server_delivers_well_under_offline(catalog):
    """MLPerf's Llama-3.1-405B server runs deliver 50-77% of their offline figures; the p99 limits bind."""
    offline = estimate(request(catalog, "llama-3.1-405b", "h200-sxm", input_len=7805, output_len=685))
    server = estimate(
        request(
            catalog,
            "llama-3.1-405b",
            "h200-sxm",
            input_len=7805,
            output_len=685,
            max_tpot_s=0.175,
            max_ttft_s=6.0,
        )
    )
    assert server.extra["limits_met"] and server.extra["tpot_p99_s"] <= 0.175 * 1.001
    assert server.output_tokens_per_s < 0.8 * offline.output_tokens_per_s


def test_attention_dp_prompt_is_prefilled_by_one_rank(catalog):
    """With fewer prompts per iteration than attention-DP ranks, the rank holding one prefills it alone and
    the others wait for it: the iteration is slower than the same work spread evenly, and the gap closes when
    prompts are many."""
    cost = IterationCost(
        catalog.model("deepseek-v3"), catalog.system("b200"), Layout(tp=8, ep=8, attention_dp=True), "fp4"
    )
    few = Workload(4000, 4000, None)  # 2048 / 4000 ≈ 0.5 prompts per iteration
    many = Workload(100, 100, None)  # 20 short prompts per iteration
    for load, lower, upper in ((few, 1.5, 10.0), (many, 1.0, 1.05)):
        spread = float(cost.time_s(decode_work(2048, load.mean_context) + _prompt_share(load, 2048)))
        assert lower * spread <= steady_time_s(cost, load, 2048, 2048) <= upper * spread


def _prompt_share(load, batch):
    return prefill_work(load.input_len, 0, load.window).scaled(batch / load.output_len)
