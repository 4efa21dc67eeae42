"""SRAM accounting of a placement (`sram.py`): the fast fit check and per-region totals agree with the full
accounting, and the per-kind memos give every region the bytes its own units need."""

from __future__ import annotations

import math
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wafersim.catalog import load_catalog
from wafersim.perf.types import EstimateRequest
from wafersim.perf.wafer.estimator import WaferOptions, model_on_wafer, workload
from wafersim.perf.wafer.placement import CODE_RESERVE_BYTES
from wafersim.perf.wafer.search import candidates
from wafersim.perf.wafer.sram import fits, peak_per_pe, region_bytes, region_totals_per_pe, sram_use
from wafersim.perf.wafer.units import kv_elems, stagger_slack, tile_elems

CASES = (("llama-3.1-8b", 1), ("mixtral-8x7b", 3))  # whole dense layers; MoE layers cut into expert groups


@cache
def _placements(model: str, count: int):
    catalog = load_catalog()
    request = EstimateRequest(model=catalog.model(model), system=catalog.system("cs-3"), count=count,
                              input_len=1000, output_len=1000)  # fmt: skip
    mow = model_on_wafer(request)
    work = workload(request, WaferOptions())
    found, _ = candidates(mow, work)
    # A few shapes: the largest regions, the smallest, and one between.
    found.sort(key=lambda p: (p.rows * p.cols, p.wafers))
    return mow, work, [found[0], found[len(found) // 2], found[-1]]


@settings(max_examples=20, deadline=None)
@given(
    case=st.sampled_from(CASES),
    which=st.integers(0, 2),
    sequences=st.integers(0, 512),
    act_tokens=st.integers(1, 256),
    chunk=st.sampled_from([0, 16, 512]),
)
def test_the_fit_check_is_the_full_accountings_peak(case, which, sequences, act_tokens, chunk):
    mow, work, placements = _placements(*case)
    p = placements[which]
    args = (mow, p, sequences, work.length, act_tokens, work.decode_context, chunk)
    full = sram_use(*args)
    assert peak_per_pe(*args) == full.peak_per_pe  # the same float: the search's answers do not move
    assert fits(*args) == (full.peak_per_pe <= mow.sram_per_pe)
    per_region = region_totals_per_pe(*args)
    assert len(per_region) == len(p.regions)
    assert max(per_region) == _approx(full.peak_per_pe)
    for region, total in zip(p.regions, per_region, strict=True):
        whole = region_bytes(mow, p, region, sequences, work.length, act_tokens, work.decode_context, chunk)
        assert total == _approx(sum(whole.values()) / region.pes + CODE_RESERVE_BYTES)


def _approx(x: float):
    return pytest.approx(x, rel=1e-12)


def test_every_region_holds_the_tiles_of_its_own_units():
    """Memos are shared by regions of the same kind (same units up to the layer index, same shape); each
    region's weight tiles and KV slots must still be those of its own units, counted here without them."""
    for case in CASES:
        mow, work, placements = _placements(*case)
        d = mow.model.hidden_size
        for p in placements:
            for region in p.regions:
                r, c = region.rows, region.cols
                pairs = [(u, None if u.is_head else mow.shapes[u.layer]) for u in region.units]
                tiles = math.ceil(sum(tile_elems(u, s, d, r, c) for u, s in pairs))
                tiles += max(stagger_slack(u, s, d, r, c) for u, s in pairs)
                kv = sum(kv_elems(u, s, r, c, 1, work.length) for u, s in pairs)
                got = region_bytes(mow, p, region, 1, work.length, 1, work.decode_context)
                weights = got["weights"] + got["weight_padding"]
                assert weights == _approx(tiles * region.pes * mow.weight_bytes)
                assert got["kv_cache"] + got["kv_padding"] == _approx(kv * region.pes * mow.kv_bytes)
