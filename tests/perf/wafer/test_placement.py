"""Compact placement (issue 9): models fit where real deployments run them, layers span regions and wafers,
MoE experts spread over them, and the SRAM is accounted for to the byte."""

import pytest

from wafersim.catalog import load_catalog
from wafersim.errors import WafersimError
from wafersim.perf import EstimateRequest
from wafersim.perf.wafer.estimator import WaferOptions, estimate_wafer, model_on_wafer
from wafersim.perf.wafer.pack import Packer
from wafersim.perf.wafer.pipeline import carve, sram_use

CATALOG = load_catalog()


def answer(model, system, count, grid=None, precision=None, batch=1, prefill_grid=None, length=(2048, 2048)):
    request = EstimateRequest(
        model=CATALOG.model(model), system=CATALOG.system(system), count=count, input_len=length[0],
        output_len=length[1], batch=batch, precision=precision,
    )  # fmt: skip
    return estimate_wafer(request, WaferOptions(decode_grid=grid, prefill_grid=prefill_grid))


@pytest.mark.parametrize("model", ["llama-3.1-8b", "llama-2-13b"])
@pytest.mark.parametrize("side", [420, 540, 660])
def test_small_dense_models_fit_one_cs2_at_waferllm_decode_grids(model, side):
    """WaferLLM's decode grids on one WSE-2 (bf16, 2,048 in / 2,048 out): layers run on side x side regions,
    several layers' weights time-multiplexed on each, the strips beside the grid holding the rest."""
    result = answer(model, "cs-2", 1, grid=(side, side))
    assert result.fits, result.reason
    assert result.extra["wafers_per_replica"] == 1
    placement = result.extra["placement"]
    assert (placement["region_rows"], placement["region_cols"]) == (side, side)
    assert result.extra["sram_bytes_per_pe_peak"] <= 48 * 1024


@pytest.mark.parametrize(
    "model,precision,most,grid",
    [
        ("deepseek-v3", "fp8", 20, (381, 293)),
        ("llama-4-maverick", "bf16", 24, (381, 293)),
        ("qwen3-235b-a22b", "bf16", 14, (381, 293)),
    ],
)
def test_large_moe_models_fit_few_cs3(model, precision, most, grid):
    """Expert groups spread over regions and wafers; the wafer count is what the weights, one sequence's KV
    cache and the reserves need (DeepSeek-V3 took 31 CS-3 when a layer could not span wafers)."""
    result = answer(model, "cs-3", most, grid=grid, precision=precision)
    assert result.fits, result.reason
    assert result.extra["wafers_per_replica"] <= most
    assert result.extra["sram_bytes_per_pe_peak"] <= 48 * 1024
    budget = result.extra["sram_budget"]
    assert budget["placement_efficiency"] > 0.7  # most of the SRAM holds the model
    assert sum(v for k, v in budget.items() if k not in ("usable_bytes", "placement_efficiency")) == (
        pytest.approx(1.0)
    )


def test_a_model_too_big_for_the_count_names_the_wafers_it_needs():
    result = answer("llama-3.1-405b", "cs-3", 1, length=(1000, 1000))
    assert not result.fits
    # 810 GB of bf16 weights over 42.9 GB wafers less the code reserve: at least 22.
    assert 21 <= result.accelerators_needed <= 26
    assert f"needs {result.accelerators_needed} cs-3 systems" in result.reason


def test_budget_reports_where_the_sram_goes_and_activations_are_sized_for_the_step():
    """DeepSeek-V3 once kept 12.5 KB of activations and 3 KB of padding per PE beside 25.8 KB of weights: a
    batch-1 step holds one expert pass's scratch, and staggered tiles keep padding to a row and a column."""
    result = answer("deepseek-v3", "cs-3", 20, grid=(381, 293), precision="fp8")
    peak = result.extra["sram_per_pe"]
    assert peak["activations"] < 2048
    assert peak["weight_padding"] < 1024
    assert peak["weights"] > 30_000


def test_packing_is_sound_and_spans_layers():
    """Every unit of every layer lands once, in order; a layer cut inside its FFN continues in the next region;
    the accounting of the packed placement matches the search's (`sram_use`)."""
    mow = model_on_wafer(
        EstimateRequest(CATALOG.model("mixtral-8x7b"), CATALOG.system("cs-2"), 2, 2048, 2048)
    )
    p = Packer(mow, 375, 375, 4096, 3072, float("inf")).pack(4)
    assert p is not None
    experts = {}
    for region in p.regions:
        for unit in region.units:
            for piece in unit.pieces:
                if piece.routed:
                    experts[unit.layer] = experts.get(unit.layer, 0) + piece.experts
    assert experts == {i: 8 for i in range(32)}
    spans = [r for r in p.regions if r.units and not r.units[-1].ends_layer]
    assert spans  # at least one layer continues in the next region
    assert sram_use(mow, p, 1, 4096, 1, 3072).peak_per_pe <= mow.sram_per_pe
    head = sum(u.head_rows for r in p.regions for u in r.units)
    assert head == mow.model.vocab_size


def test_carving_covers_the_wafer_without_overlap():
    for height, width, rows, cols in [(994, 750, 420, 420), (762, 1172, 381, 293), (994, 750, 660, 660)]:
        spots = carve(height, width, rows, cols)
        cells = set()
        for y, x, r, c in spots:
            block = {(i, j) for i in range(y, y + r, 7) for j in range(x, x + c, 7)}
            assert not cells & block
            cells |= block
            assert y + r <= height and x + c <= width
        assert sum(r * c for *_, r, c in spots) > 0.97 * height * width


def test_expert_imbalance_slows_the_busiest_stage_not_the_path():
    """A token's walk through the pipeline meets its experts' mean load (the path is an expectation), while a
    region holding a popular group of experts is the stage that bounds throughput; a region holding every
    expert of a layer serves all its passes, whatever the routing."""
    from wafersim.perf.wafer.pipeline import holds_expert_subset, step_time

    request = EstimateRequest(CATALOG.model("mixtral-8x7b"), CATALOG.system("cs-2"), 4, 1024, 1024, batch=8)
    mow = model_on_wafer(request)
    split = Packer(mow, 375, 375, 2048, 1536, float("inf")).pack(4)
    assert any(
        holds_expert_subset(u, mow.shapes[u.layer]) for r in split.regions for u in r.units if not u.is_head
    )
    even, skewed = (step_time(mow, split, 8, 1, 1536, 1, imbalance) for imbalance in (1.0, 2.0))
    assert skewed.path_s == even.path_s
    assert skewed.busiest_s > even.busiest_s
    from wafersim.perf.wafer.placement import build_placement

    whole = build_placement(mow, 375, 375, 1, 2)  # one whole layer per region: every expert of it together
    assert not any(
        holds_expert_subset(u, mow.shapes[u.layer]) for r in whole.regions for u in r.units if u.layer >= 0
    )
    even, skewed = (step_time(mow, whole, 8, 1, 1536, 1, imbalance) for imbalance in (1.0, 2.0))
    assert (skewed.path_s, skewed.busiest_s) == (even.path_s, even.busiest_s)


def test_prefill_throughput_rises_with_the_prefill_grid():
    """MeshGEMM prefill on one p x p grid per layer (WaferLLM's experiment): more PEs per GEMM, more tokens per
    second (as batched GEMVs it fell); decode, fabric-bound, gets slower as the grid grows."""
    from wafersim.catalog.fabric_arch import load_arch
    from wafersim.perf.wafer.sweep import grid_sweep

    points = grid_sweep(CATALOG.model("llama-3.1-8b"), load_arch("wse-2"), (360, 540, 720))
    prefill = [p.prefill_tokens_per_s for p in points]
    decode = [p.decode_tokens_per_s for p in points]
    assert prefill[0] < prefill[1] < prefill[2]
    assert decode[0] > decode[1] > decode[2]


def test_estimate_prefills_with_gemms():
    """The whole-wafer estimate runs prompt chunks as GEMMs: far fewer cycles per token than the GEMV path."""
    fast = answer("llama-3.1-8b", "cs-2", 1, grid=(540, 540), prefill_grid=(540, 540))
    assert fast.extra["placement"]["prefill_chunk_tokens"] >= 256
    assert fast.extra["prefill_tokens_per_s"] > 1.0 / fast.tpot_s * 5


def test_grid_larger_than_the_wafer_is_one_clear_line():
    with pytest.raises(WafersimError, match="decode_grid 2000x2000 exceeds") as error:
        answer("llama-3.1-8b", "cs-2", 1, grid=(2000, 2000))
    assert "\n" not in str(error.value)


def test_a_model_no_count_can_place_is_one_line_and_the_search_is_bounded(monkeypatch):
    """The packing stops at MAX_WAFERS: past it the answer says so in one line instead of searching on."""
    from wafersim.perf.wafer import search

    monkeypatch.setattr(search, "MAX_WAFERS", 3)
    result = answer("llama-3.1-405b", "cs-2", 1, length=(999, 999))
    assert not result.fits and result.accelerators_needed is None
    assert "within 3 wafers" in result.reason and "\n" not in result.reason


def test_io_crosses_from_the_nearer_west_or_east_edge():
    """Host and wafer-to-wafer I/O attaches at the fabric's West and East edges (SDK: channels every ~16 rows):
    a region beside an edge pays its own width plus half a channel spacing, one in the middle half the wafer;
    moving a placement's first region from the West edge to the middle lengthens the step by the difference."""
    from dataclasses import replace

    from wafersim.perf.wafer.closed_form import stream
    from wafersim.perf.wafer.pipeline import IO_CHANNEL_SPACING_ROWS, build_placement, edge_hops, step_time

    request = EstimateRequest(
        model=CATALOG.model("llama-3.1-70b"), system=CATALOG.system("cs-3"), count=4, input_len=2048,
        output_len=2048,
    )  # fmt: skip
    mow = model_on_wafer(request)
    width = mow.fabric_hw[1]
    placement = build_placement(mow, 300, 150, 4, 2)
    first = placement.regions[0]
    assert (first.x, first.cols) == (0, 150)
    middle = replace(first, x=(width - first.cols) // 2)
    assert edge_hops(first, width) == 150 + IO_CHANNEL_SPACING_ROWS // 2
    assert edge_hops(middle, width) == (width + first.cols) // 2 + IO_CHANNEL_SPACING_ROWS // 2
    east = replace(first, x=width - first.cols)
    assert edge_hops(east, width) == edge_hops(first, width)  # the East edge serves the last column
    moved = replace(placement, regions=(middle, *placement.regions[1:]))
    near = step_time(mow, placement, 1, 1, 1024)
    far = step_time(mow, moved, 1, 1, 1024)
    words = -(-mow.model.hidden_size // first.rows)
    extra = stream(mow.arch, edge_hops(middle, width), words) - stream(
        mow.arch, edge_hops(first, width), words
    )
    assert extra == edge_hops(middle, width) - edge_hops(first, width) > 0
    assert far.io_s - near.io_s == pytest.approx(extra / mow.arch.clock_hz, rel=1e-9)
