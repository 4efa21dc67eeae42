"""The placement search finds a replica's candidate placements once and ranks them per batch: its answer at a
batch must not depend on what was searched before (memos and caches warm or cold)."""

from __future__ import annotations

from dataclasses import replace

from wafersim.perf.types import EstimateRequest
from wafersim.perf.wafer import search
from wafersim.perf.wafer.estimator import WaferOptions, model_on_wafer, workload


def _cold() -> None:
    """Every cache and memo of the search, emptied."""
    search.clear_caches()


def test_each_batch_gets_the_answer_of_a_cold_search(catalog):
    request = EstimateRequest(model=catalog.model("llama-3.1-8b"), system=catalog.system("cs-3"), count=1,
                              input_len=1000, output_len=1000)  # fmt: skip
    mow = model_on_wafer(request)
    work = workload(request, WaferOptions())
    batches = (1, 16)
    cold = {}
    for batch in batches:
        _cold()
        cold[batch] = search.search(mow, replace(work, batch=batch))
    _cold()
    largest = search.search(mow, work)  # the frontier asks for the largest batch first, then smaller ones
    found_once = search._candidates.cache_info().misses
    for batch in batches:
        assert search.search(mow, replace(work, batch=batch)) == cold[batch]
    assert search._candidates.cache_info().misses == found_once == 1
    # Every batch is ranked on the very placement objects found first (their memos stay warm).
    found = search.candidates(mow, work)[0]
    for batch in batches:
        chosen = search.search(mow, replace(work, batch=batch)).best.placement
        assert any(chosen is p for p in found)
    assert any(largest.best.placement is p for p in found)
