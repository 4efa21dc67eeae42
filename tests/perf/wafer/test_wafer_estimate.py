"""Whole models on wafers: fitting, SRAM accounting, speed trends, determinism, modes and errors."""

import pytest

from wafersim.catalog.fabric_arch import load_arch
from wafersim.errors import WafersimError
from wafersim.perf import EstimateRequest, estimate
from wafersim.perf.wafer.estimator import WaferOptions, estimate_wafer, model_on_wafer, workload
from wafersim.perf.wafer.pipeline import sram_use
from wafersim.perf.wafer.search import decode_split, search
from wafersim.perf.wafer.speculative import Speculative
from wafersim.perf.wafer.sweep import layer_sweep


def request(catalog, model="llama-3.1-8b", count=1, **kw):
    kw.setdefault("input_len", 1000)
    kw.setdefault("output_len", 1000)
    kw.setdefault("batch", 1)
    return EstimateRequest(model=catalog.model(model), system=catalog.system("cs-3"), count=count, **kw)


def test_model_too_big_says_how_many_wafers_it_needs(catalog):
    answer = estimate(request(catalog, model="llama-3.1-70b", count=2))
    assert not answer.fits
    assert answer.accelerators_needed == 4 and "needs 4 cs-3" in answer.reason
    # ... and with that many it fits, on exactly that many.
    fitted = estimate(request(catalog, model="llama-3.1-70b", count=answer.accelerators_needed))
    assert fitted.fits and fitted.extra["wafers_used"] == 4


def test_fewer_bytes_per_weight_need_fewer_wafers(catalog):
    bf16 = estimate(request(catalog, model="llama-3.1-70b", count=1))
    fp8 = estimate(request(catalog, model="llama-3.1-70b", count=1, precision="fp8"))
    assert fp8.accelerators_needed < bf16.accelerators_needed


@pytest.mark.parametrize(
    "model,count,batch", [("llama-3.1-8b", 1, 1), ("llama-3.1-8b", 1, 16), ("mixtral-8x7b", 3, 2)]
)
def test_sram_accounting_adds_up(catalog, model, count, batch):
    req = request(catalog, model=model, count=count, batch=batch)
    mow = model_on_wafer(req)
    work = workload(req, WaferOptions())
    best = search(mow, work).best
    assert best is not None
    p = best.placement
    sram = sram_use(mow, p, batch, work.length, decode_split(p, batch)[1], work.decode_context)
    spec = catalog.model(model)
    # The model's bytes, counted from its config: every layer, the final norm and the LM head (the
    # embedding table stays on the host).
    model_bytes = (spec.params_total() - spec.embedding_params() - spec.lm_head_params()) * 2
    model_bytes += spec.vocab_size * spec.hidden_size * 2
    kv_bytes = batch * work.length * spec.kv_elements_per_token_per_layer() * spec.num_layers * 2
    totals = sram.total_bytes
    assert totals["weights"] == pytest.approx(model_bytes, rel=1e-12)
    assert totals["kv_cache"] == pytest.approx(kv_bytes, rel=1e-12)
    assert totals["weight_padding"] >= 0 and totals["kv_padding"] >= 0
    # Sum over every occupied PE = model + KV + overheads (padding, activations, code reserve) ...
    pes = len(p.regions) * p.rows * p.cols
    assert totals["code"] == pes * 6144
    assert sram.used_bytes == pytest.approx(
        model_bytes
        + kv_bytes
        + totals["weight_padding"]
        + totals["kv_padding"]
        + totals["activations"]
        + totals["code"],
        rel=1e-12,
    )
    # ... and no PE holds more than its 48 KB.
    assert sram.peak_per_pe <= mow.sram_per_pe


def test_decode_time_falls_with_region_size_until_communication_dominates(catalog):
    points = layer_sweep(catalog.model("llama-3.1-70b"), load_arch("wse-3"))
    cycles = [p.cycles for p in points]
    fastest = cycles.index(min(cycles))
    assert 0 < fastest < len(points) - 1
    assert all(a > b for a, b in zip(cycles[:fastest], cycles[1 : fastest + 1], strict=True))
    assert all(a < b for a, b in zip(cycles[fastest:-1], cycles[fastest + 1 :], strict=True))
    # Local work keeps shrinking; past the optimum the fabric's share is what grows.
    assert all(a.compute_cycles >= b.compute_cycles for a, b in zip(points[:-1], points[1:], strict=True))
    assert points[-1].fabric_cycles > points[fastest].fabric_cycles > points[fastest].compute_cycles


def test_results_are_deterministic(catalog):
    first = estimate(request(catalog, batch=None)).to_dict()
    search.cache_clear()
    second = estimate(request(catalog, batch=None)).to_dict()
    assert first == second


def test_batching_raises_throughput_and_tpot(catalog):
    one = estimate(request(catalog, batch=1))
    many = estimate(request(catalog, batch=None))
    assert many.batch > 1
    assert many.output_tokens_per_s > 10 * one.output_tokens_per_s
    assert many.tpot_s > one.tpot_s


def test_longer_context_is_slower(catalog):
    short = estimate(request(catalog, input_len=500, output_len=500))
    long = estimate(request(catalog, input_len=30000, output_len=2000))
    assert long.fits and long.tpot_s > short.tpot_s and long.ttft_s > short.ttft_s


def test_breakdown_and_json_keys(catalog):
    data = estimate(request(catalog)).to_dict()
    for key in (
        "fits",
        "reason",
        "batch",
        "ttft_s",
        "tpot_s",
        "output_tokens_per_s_per_user",
        "output_tokens_per_s",
        "memory_bytes_per_accelerator",
        "power_w",
        "joules_per_token",
        "wafers_used",
        "sram_bytes_used",
    ):
        assert key in data, key
    decode = data["breakdown"]["decode"]
    assert set(decode) == {"compute_s", "sram_s", "fabric_s", "io_s", "idle_s"}
    assert sum(decode.values()) == pytest.approx(
        data["extra_step_s"] if "extra_step_s" in data else data["decode_step_s"]
    )
    assert data["power_w"] == 23000 and data["joules_per_token"] == pytest.approx(
        23000 / data["output_tokens_per_s"]
    )


def test_fp8_weights_pay_a_widening_pass(catalog):
    fp8 = estimate(request(catalog, precision="fp8"))
    assert fp8.breakdown["decode"]["sram_s"] > 0
    assert estimate(request(catalog)).breakdown["decode"]["sram_s"] == 0


def test_speculative_decoding_follows_acceptance(catalog):
    # fp8 leaves room for the 8B draft beside the 70B target on four systems.
    req = request(catalog, model="llama-3.1-70b", count=4, precision="fp8")
    plain = estimate_wafer(req)
    draft = catalog.model("llama-3.1-8b")
    good = estimate_wafer(req, WaferOptions(speculative=Speculative(draft, 0.95, 4)))
    bad = estimate_wafer(req, WaferOptions(speculative=Speculative(draft, 0.0, 4)))
    assert good.fits and bad.fits
    assert good.tpot_s < plain.tpot_s < bad.tpot_s
    assert good.extra["speculative"]["tokens_per_round"] == pytest.approx((1 - 0.95**5) / 0.05)
    # A draft that cannot fit beside the target is refused with its reason, not squeezed in.
    full = request(catalog, model="llama-3.1-70b", count=4)
    refused = estimate_wafer(full, WaferOptions(speculative=Speculative(draft, 0.9, 4)))
    assert not refused.fits and refused.reason


def test_weight_streaming_is_bound_by_the_system_io(catalog):
    req = request(catalog, model="llama-3.1-70b", count=1)
    streamed = estimate_wafer(req, WaferOptions(weight_streaming=True))
    spec = catalog.model("llama-3.1-70b")
    floor = (spec.params_total() - spec.embedding_params()) * 2 / 150e9
    assert streamed.fits and streamed.tpot_s >= floor
    resident = estimate(request(catalog, model="llama-3.1-70b", count=4))
    assert streamed.tpot_s > 500 * resident.tpot_s


def test_grids_restrict_the_placement(catalog):
    req = request(catalog)
    fixed = estimate_wafer(req, WaferOptions(decode_grid=(234, 108), prefill_grid=(234, 108)))
    assert fixed.extra["placement"]["region_rows"] == 234 and fixed.extra["placement"]["region_cols"] == 108
    assert fixed.extra["placement"]["prefill_region_rows"] == 234
    with pytest.raises(WafersimError, match="exceeds"):
        estimate_wafer(req, WaferOptions(decode_grid=(2000, 10)))
    tiny = estimate_wafer(req, WaferOptions(decode_grid=(8, 8)))
    assert not tiny.fits


def test_gpu_notions_are_refused(catalog):
    with pytest.raises(WafersimError, match="wafer-scale"):
        estimate(request(catalog, tp=2))
    with pytest.raises(WafersimError, match="fp16"):
        estimate(request(catalog, kv_precision="fp8"))


@pytest.mark.parametrize(
    "model",
    ["mixtral-8x7b", "gpt-oss-20b", "qwen3-235b-a22b", "deepseek-v3", "llama-3.1-405b", "llama-4-scout"],
)
def test_every_kind_of_model_gets_an_answer_or_a_count(catalog, model):
    answer = estimate(request(catalog, model=model, count=1, input_len=500, output_len=500))
    assert answer.fits or (answer.accelerators_needed and answer.accelerators_needed > 1)


def test_max_tpot_bounds_the_batch(catalog):
    free = estimate(request(catalog, batch=None))
    bounded = estimate(request(catalog, batch=None, max_tpot_s=0.0003))
    assert bounded.tpot_s <= 0.0003 < free.tpot_s
    assert 1 <= bounded.batch < free.batch


def test_a_prefill_grid_that_cannot_hold_the_model_is_refused(catalog):
    answer = estimate_wafer(request(catalog), WaferOptions(prefill_grid=(16, 16)))
    assert not answer.fits and "prefill_grid 16x16" in answer.reason


def test_each_wafer_crossing_pays_one_link_latency(catalog):
    """A token crosses each wafer boundary in one message: its activation and, where a layer is cut inside its
    FFN, its accumulator beside it (twice the bytes, one latency). Raising the link latency by d raises the
    decode path's I/O by (boundaries + 2) d, the 2 being the host round trip out of the last wafer and back in."""
    from dataclasses import replace

    from wafersim.perf.wafer.estimator import WaferOptions, solve
    from wafersim.perf.wafer.pipeline import step_time

    ask = request(catalog, "gpt-oss-120b", 2, input_len=1000, output_len=1000, precision="fp4", batch=1)
    solved = solve(ask, WaferOptions())
    p = solved.best.placement
    crossing = [a for a, b in zip(p.regions, p.regions[1:], strict=False) if a.wafer != b.wafer]
    boundaries = len(crossing)
    # The placement cuts an MoE layer inside its FFN at the wafer boundary: the accumulator travels too.
    assert boundaries >= 1 and any(a.units and not a.units[-1].ends_layer for a in crossing)
    delta = 1e-5
    link = solved.mow.system.scale_out
    slower = link.model_copy(update={"latency_s": link.latency_s + delta})
    mow2 = replace(solved.mow, system=solved.mow.system.model_copy(update={"scale_out": slower}))
    base = step_time(solved.mow, p, 1, 1, 1500)
    more = step_time(mow2, p, 1, 1, 1500)
    assert more.io_s - base.io_s == pytest.approx((boundaries + 2) * delta, rel=1e-9)
