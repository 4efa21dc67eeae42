"""The placement as data: which layers sit where on which wafer, and SRAM use per PE (the picture is drawn by
`wafersim.report.wafer_map`)."""

from __future__ import annotations

from typing import Any

from wafersim.errors import WafersimError
from wafersim.perf.types import EstimateRequest
from wafersim.perf.wafer.estimator import WaferOptions
from wafersim.perf.wafer.pipeline import ModelOnWafer, region_sram
from wafersim.perf.wafer.search import Phases, Workload, workspace


def wafer_map(request: EstimateRequest, options: WaferOptions | None = None) -> dict[str, Any]:
    """The decode placement the search picks for `request` (a wafer system) as `placement_map` data, with room
    for a speculative draft when `options` has one: what `wafersim wafer map --json` prints."""
    from wafersim.perf.types import Estimate
    from wafersim.perf.wafer.estimator import solve

    solved = solve(request, options or WaferOptions())
    if isinstance(solved, Estimate):
        needed = solved.accelerators_needed
        raise WafersimError(
            f"{request.model.id} does not fit {request.count} × {request.system.id}"
            + (f": it needs {needed}" if needed and needed > request.count else f": {solved.reason}")
        )
    data = placement_map(solved.mow, solved.work, solved.best)
    # The draft's share of each PE is reserved beside the target's (not drawn region by region).
    data["speculative"] = (
        solved.spec.summary() | {"reserved_bytes_per_pe": solved.mow.reserved_bytes_per_pe}
        if solved.spec is not None
        else None
    )
    return data


def placement_map(mow: ModelOnWafer, work: Workload, phases: Phases) -> dict[str, Any]:
    p = phases.placement
    # The prefill chunk's workspace lives here only when prefill runs on this placement.
    tokens, chunk = workspace(mow, work, phases)
    height, width = mow.fabric_hw
    regions = []
    for region in p.regions:
        y, x = p.origin(region)
        use = region_sram(mow, p, region, phases.batch, work.length, tokens, work.decode_context, chunk)
        entry = {
            "wafer": region.wafer,
            "index": region.index,
            "kind": region.kind,
            "y": y,
            "x": x,
            "rows": region.rows,
            "cols": region.cols,
            "sram_bytes_per_pe": use,
            "sram_fill": sum(use.values()) / mow.sram_per_pe,
        }
        if region.kind == "layers":
            entry["layers"] = [region.first_layer, region.last_layer - 1]
            # Compact packing may put (part of) the output head after the last layers in the same region.
            head_rows = sum(u.head_rows for u in region.units if u.is_head)
            if head_rows:
                entry["vocab_rows"] = head_rows
        else:
            entry["vocab_rows"] = region.table_share
        regions.append(entry)
    used_per_wafer = [sum(r.pes for r in p.regions if r.wafer == w) for w in range(p.wafers)]
    return {
        "model": mow.model.id,
        "system": mow.system.id,
        "arch": mow.arch.name,
        "fabric_rows": height,
        "fabric_cols": width,
        "sram_bytes_per_pe": mow.sram_per_pe,
        "wafers_used": p.wafers,
        "region_rows": p.rows,
        "region_cols": p.cols,
        "regions_per_wafer": p.regions_per_wafer,
        "layers_per_region": p.layers_per_region,
        "batch": phases.batch,
        "pes_used_per_wafer": used_per_wafer,
        "regions": regions,
    }
