"""The estimate interface: layouts, batch sizing, not-fitting answers, impossible requests."""

import pytest

from wafersim.errors import WafersimError
from wafersim.perf import EstimateRequest, estimate
from wafersim.perf.layout import candidate_layouts


def request(catalog, model="llama-3.1-70b", system="h100-sxm", count=8, **kw):
    kw.setdefault("input_len", 1000)
    kw.setdefault("output_len", 200)
    return EstimateRequest(model=catalog.model(model), system=catalog.system(system), count=count, **kw)


def test_json_contract_keys(catalog):
    data = estimate(request(catalog, precision="fp8")).to_dict()
    for key in (
        "fits",
        "reason",
        "batch",
        "tp",
        "pp",
        "ep",
        "ttft_s",
        "tpot_s",
        "output_tokens_per_s_per_user",
        "output_tokens_per_s",
        "memory_bytes_per_accelerator",
        "breakdown",
    ):
        assert key in data
    assert set(data["breakdown"]) == {"decode", "prefill"}
    assert data["breakdown"]["decode"]["attention"] > 0


def test_per_user_speed_is_inverse_tpot(catalog):
    result = estimate(request(catalog, batch=1, precision="fp8"))
    assert result.output_tokens_per_s_per_user == pytest.approx(1 / result.tpot_s)


def test_auto_batch_is_the_largest_that_fits(catalog):
    auto = estimate(request(catalog, tp=8, pp=1, ep=1, attention_dp=False, precision="fp8"))
    assert auto.fits
    bigger = estimate(
        request(catalog, tp=8, pp=1, ep=1, attention_dp=False, precision="fp8", batch=auto.batch + 1)
    )
    assert not bigger.fits or auto.batch == 2048


def test_spread_output_lengths_hold_more_kv_in_flight(catalog):
    # Long requests stay longer, so a running batch's mean context grows with the spread of output lengths:
    # geometric outputs (cv 1) put it at input + output, against input + output / 2 when all are equal.
    kw = dict(tp=8, pp=1, ep=1, attention_dp=False, precision="fp8", output_len=2000)
    equal = estimate(request(catalog, **kw))
    spread = estimate(request(catalog, output_len_cv=1.0, **kw))
    assert spread.output_len_cv == 1.0 and spread.to_dict()["output_len_cv"] == 1.0
    assert equal.batch == 2048 or spread.batch < equal.batch
    kv_per_sequence = [r.memory["kv_cache_bytes"] / r.batch for r in (equal, spread)]
    assert kv_per_sequence[1] / kv_per_sequence[0] == pytest.approx(3000 / 2000, rel=0.01)
    with pytest.raises(WafersimError, match="output_len_cv"):
        request(catalog, output_len_cv=-0.5)


def test_max_tpot_bounds_the_batch(catalog):
    free = estimate(request(catalog, precision="fp8"))
    bounded = estimate(request(catalog, precision="fp8", max_tpot_s=free.tpot_s / 2))
    assert bounded.tpot_s <= free.tpot_s / 2
    assert bounded.batch < free.batch


def test_too_big_model_says_how_many_accelerators(catalog):
    result = estimate(request(catalog, model="llama-3.1-405b", count=2, precision="bf16"))
    assert not result.fits
    assert result.accelerators_needed is not None and result.accelerators_needed > 2
    assert "needs at least" in result.reason


def test_sram_chip_spreads_weights_over_many_chips(catalog):
    small = estimate(request(catalog, model="llama-3.1-8b", system="groq-lpu", count=8, precision="fp8"))
    assert not small.fits and small.accelerators_needed >= 8e9 / 230e6
    enough = estimate(
        request(
            catalog,
            model="llama-3.1-8b",
            system="groq-lpu",
            count=small.accelerators_needed,
            precision="fp8",
            batch=1,
        )
    )
    assert enough.fits


def test_impossible_tp_is_a_clear_error(catalog):
    with pytest.raises(WafersimError, match="does not divide the 64 attention heads"):
        estimate(request(catalog, tp=3, pp=1, ep=1, attention_dp=False, count=3))
    with pytest.raises(WafersimError, match="needs 16 accelerators but count is 8"):
        estimate(request(catalog, tp=8, pp=2, ep=1, attention_dp=False))
    with pytest.raises(WafersimError, match="ep=2 needs a mixture-of-experts"):
        estimate(request(catalog, tp=2, pp=1, ep=2, attention_dp=False))


def test_context_longer_than_model_is_rejected(catalog):
    with pytest.raises(WafersimError, match="exceeds the 4096-token context"):
        request(catalog, model="llama-2-70b", input_len=4000, output_len=200)


def test_wafer_systems_answer_through_the_same_interface(catalog):
    data = estimate(request(catalog, system="cs-3", count=4, batch=1)).to_dict()
    assert data["fits"] and data["wafers_used"] <= 4 and data["output_tokens_per_s_per_user"] > 0
    with pytest.raises(WafersimError, match="wafer-scale"):
        estimate(request(catalog, system="cs-3", count=4, tp=2))


def test_layout_candidates_cover_attention_dp_for_moe(catalog):
    layouts = candidate_layouts(catalog.model("deepseek-v3"), 8)
    assert any(layout.attention_dp and layout.ep == layout.tp == 8 for layout in layouts)
    assert not any(layout.attention_dp for layout in candidate_layouts(catalog.model("llama-3.1-70b"), 8))


def test_mixture_of_experts_estimates(catalog):
    result = estimate(request(catalog, model="deepseek-v3", system="h200-sxm", count=8))
    assert result.fits and result.precision == "fp8"


def test_cost_per_token_from_capex_and_energy(catalog):
    from wafersim.perf.economics import SECONDS_PER_YEAR, CostAssumptions

    base = request(catalog, system="b200", precision="fp4")
    result = estimate(base)
    price = catalog.system("b200").price.usd_per_accelerator
    assert result.capex_usd == price * 8
    expected = (
        price * 8 / (5 * SECONDS_PER_YEAR) + result.power_w * 1.2 / 3.6e6 * 0.08
    ) / result.output_tokens_per_s
    assert result.usd_per_million_tokens == pytest.approx(expected * 1e6)
    from dataclasses import replace

    cheaper_power = estimate(replace(base, cost=CostAssumptions(usd_per_kwh=0.0)))
    assert cheaper_power.usd_per_million_tokens < result.usd_per_million_tokens
    longer_life = estimate(replace(base, cost=CostAssumptions(life_years=10)))
    assert longer_life.usd_per_million_tokens < result.usd_per_million_tokens


def test_cost_unknown_without_price(catalog):
    assert estimate(request(catalog, system="h200-sxm", precision="fp8")).usd_per_million_tokens is None


def test_bad_cost_assumptions(catalog):
    from wafersim.perf.economics import CostAssumptions

    with pytest.raises(WafersimError, match="pue"):
        CostAssumptions(pue=0.5)
