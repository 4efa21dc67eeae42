"""The performance layer's public entry points: `estimate` (one deployment) and `compare` (one model on several
systems, side by side), taking catalog ids or spec objects with keyword arguments.

`estimate(...).to_dict()` is `wafersim estimate --json`; `compare(...).to_dict()` is `wafersim compare --json`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wafersim.catalog import Catalog, ModelSpec, SystemSpec, load_catalog
from wafersim.errors import WafersimError
from wafersim.perf.economics import CostAssumptions
from wafersim.perf.estimate import estimate as estimate_request
from wafersim.perf.estimate import with_costs
from wafersim.perf.types import Estimate, EstimateRequest
from wafersim.progress import Progress

# Median absolute percentage error the test group must stay within (the foundation issue's target).
TEST_MEDIAN_APE_TARGET = 0.15
# "wafer": the wafer-scale group, from its own points file (perf/wafer/validation.py).
GROUPS = ("all", "calibration", "test", "wafer")

# One scale-up domain each (0 = as many chips as the weights need), as the systems are sold.
DEFAULT_DEPLOYMENTS = (
    "h100-sxm:8,h200-sxm:8,b200:8,gb200:72,mi300x:8,mi355x:8,tpu-v6e:8,tpu-v7:8,groq-lpu:0,cs-3:0"
)

Region = tuple[int, int] | str | None


def parse_region(region: Region, field: str) -> tuple[int, int] | None:
    """A wafer region shape: (rows, cols), 'RxC' (rows x columns) or None."""
    if region is None or isinstance(region, tuple):
        if region is not None and not (
            len(region) == 2 and all(isinstance(v, int) and v > 0 for v in region)
        ):
            raise WafersimError(
                f"{field} {region!r}: expected (rows, cols) with positive integers", field=field
            )
        return region
    parts = region.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise WafersimError(
            f"{field} '{region}': expected RxC with positive integers, e.g. 390x108", field=field
        )
    return int(parts[0]), int(parts[1])


def _spec(value, kind: str, catalog: Catalog | None):
    if isinstance(value, ModelSpec | SystemSpec):
        return value
    if value is None:
        raise WafersimError(f"{kind} is required (a catalog id or a spec)", field=kind)
    catalog = catalog or load_catalog()
    return catalog.model(value) if kind == "model" else catalog.system(value)


def estimate(
    request: EstimateRequest | None = None,
    /,
    *,
    model: str | ModelSpec | None = None,
    system: str | SystemSpec | None = None,
    catalog: Catalog | None = None,
    grid: Region = None,
    decode_grid: Region = None,
    prefill_grid: Region = None,
    cost: CostAssumptions | None = None,
    per_user_views: bool = False,
    **fields: Any,
) -> Estimate:
    """Prefill and decode speed of a model on `count` accelerators of a system.

    Either an `EstimateRequest`, or keywords: model and system (ids or specs), count, input_len, output_len and
    any other `EstimateRequest` field (tp, pp, ep, attention_dp, precision, kv_precision, batch, max_batch,
    max_tpot_s, cost). Wafer systems also take region shapes: `grid` for both phases, or `decode_grid` /
    `prefill_grid` ((rows, cols) or 'RxC'), and `per_user_views` adds their per-user speed and TTFT alone and at
    the serving batch (two more placement searches).
    """
    if request is None:
        unknown = sorted(set(fields) - set(EstimateRequest.__dataclass_fields__))
        if unknown:
            raise WafersimError(f"estimate has no keyword {unknown[0]!r}", field=unknown[0])
        request = EstimateRequest(
            model=_spec(model, "model", catalog), system=_spec(system, "system", catalog),
            **fields, **({"cost": cost} if cost is not None else {}),
        )  # fmt: skip
    elif model is not None or system is not None or fields or cost is not None:
        raise WafersimError("give an EstimateRequest or keywords, not both", field="request")
    wafer_views = per_user_views and request.system.kind == "wafer"
    if grid is None and decode_grid is None and prefill_grid is None and not wafer_views:
        return estimate_request(request)
    if request.system.kind != "wafer":
        raise WafersimError(
            "grid, decode_grid and prefill_grid apply to wafer-scale systems (cs-2, cs-3)",
            field="grid"
            if grid is not None
            else "decode_grid"
            if decode_grid is not None
            else "prefill_grid",
        )
    from wafersim.perf.wafer.estimator import WaferOptions, estimate_wafer

    shared = parse_region(grid, "grid")
    options = WaferOptions(
        decode_grid=parse_region(decode_grid, "decode_grid") or shared,
        prefill_grid=parse_region(prefill_grid, "prefill_grid") or shared,
        speculative=request.speculative,
        per_user_views=wafer_views,
    )
    return with_costs(estimate_wafer(request, options), request)


@dataclass(frozen=True)
class ComparisonRow:
    """One system: one user alone (batch 1) and the maximum-throughput batch, or why it was skipped."""

    system: str
    count: int
    single_user: Estimate | None = None
    max_throughput: Estimate | None = None
    skipped: str | None = None
    sizing: dict[str, Any] | None = None  # wafers asked with count 0: the count an objective chose, and why

    def to_dict(self) -> dict[str, Any]:
        if self.skipped is not None:
            return {"system": self.system, "count": self.count, "skipped": self.skipped}
        assert self.single_user is not None and self.max_throughput is not None
        data = {
            "system": self.system,
            "count": self.count,
            "single_user": self.single_user.to_dict(),
            "max_throughput": self.max_throughput.to_dict(),
        }
        return data | ({"sizing": self.sizing} if self.sizing is not None else {})


@dataclass(frozen=True)
class Comparison:
    model: str
    precision: str
    input_len: int
    output_len: int
    deployments: tuple[ComparisonRow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "precision": self.precision,
            "input_len": self.input_len,
            "output_len": self.output_len,
            "deployments": [row.to_dict() for row in self.deployments],
        }


def parse_deployments(text: str) -> list[tuple[str, int]]:
    """'SYSTEM:COUNT,SYSTEM:COUNT' (COUNT 0: as many as the weights need; a count is required)."""
    deployments = []
    for item in text.split(","):
        system, colon, count = item.strip().partition(":")
        if not colon or not system:
            raise WafersimError(
                f"systems entry '{item.strip()}' has no count: write SYSTEM:COUNT, e.g. "
                f"{system or 'h100-sxm'}:8 (COUNT 0 = as many as the weights need)",
                field="systems",
            )
        try:
            deployments.append((system, int(count)))
        except ValueError:
            raise WafersimError(
                f"systems entry '{item}' is not SYSTEM:COUNT (COUNT a whole number)", field="systems"
            ) from None
    return deployments


def compare(
    model: str | ModelSpec = "llama-3.1-70b",
    systems: str | list[tuple[str | SystemSpec, int]] = DEFAULT_DEPLOYMENTS,
    *,
    precision: str = "fp8",
    input_len: int = 1000,
    output_len: int = 1000,
    objective: str = "usd-per-mtok",
    max_tpot_s: float | None = None,
    speculative: Any = None,
    catalog: Catalog | None = None,
) -> Comparison:
    """One model on several systems, each as (system, count) or as 'SYSTEM:COUNT,...' text. Count 0: GPUs and
    SRAM-only chips get as many as the weights need; wafers the count `objective` chooses (perf/wafer/sizing.py:
    usd-per-mtok, tokens-per-mw or fewest). `max_tpot_s` bounds every maximum-throughput batch; `speculative`
    (a draft-model Speculative) applies to the wafer rows."""
    from wafersim.perf.analytical import accelerators_needed
    from wafersim.perf.wafer.estimator import WaferOptions
    from wafersim.perf.wafer.sizing import Sized, size_wafers, wafer_estimate
    from wafersim.perf.wafer.speculative import Speculative

    if speculative is not None and not isinstance(speculative, Speculative):
        raise WafersimError(
            "compare drafts with a draft model on the wafer rows (multi-token-prediction heads: use estimate)",
            field="speculative",
        )
    catalog = catalog or load_catalog()
    spec = _spec(model, "model", catalog)
    wafer_options = WaferOptions(speculative=speculative) if speculative is not None else None
    rows = []
    for system_id, count in parse_deployments(systems) if isinstance(systems, str) else systems:
        system = _spec(system_id, "system", catalog)
        name = system_id if isinstance(system_id, str) else system.id  # as the user wrote it
        base = dict(
            model=spec, system=system, input_len=input_len, output_len=output_len, precision=precision
        )
        sizing = None
        if count == 0 and system.kind == "wafer":
            sized = size_wafers(
                EstimateRequest(count=1, max_tpot_s=max_tpot_s, **base), objective, wafer_options
            )
            count = sized.count if isinstance(sized, Sized) else sized.accelerators_needed or 1
            sizing = sized.to_dict() if isinstance(sized, Sized) else None
        elif count == 0:
            count = accelerators_needed(EstimateRequest(count=1, **base), precision) or 0
            if count == 0:
                rows.append(ComparisonRow(name, 0, skipped="no layout holds the model"))
                continue
        options = wafer_options if system.kind == "wafer" else None
        single = wafer_estimate(EstimateRequest(count=count, batch=1, **base), options)
        bulk = wafer_estimate(EstimateRequest(count=count, max_tpot_s=max_tpot_s, **base), options)
        rows.append(ComparisonRow(name, count, single, bulk, sizing=sizing))
    return Comparison(spec.id, precision, input_len, output_len, tuple(rows))


def validate(
    points_path: str | Path | None = None,
    group: str = "all",
    catalog: Catalog | None = None,
    progress: Progress | None = None,
    ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Every published measurement (the shipped points files, or `points_path`) predicted: per point measured,
    predicted and APE, per group and family median, p90 and worst APE, and the target; `wafersim validate
    --json`. Group 'wafer' is the wafer-scale group: its own points file (`perf/data/validation_wafer.toml`),
    and per group also the worst ratio and the points the model cannot express. `ids` keeps only those points.
    `progress(done, total, what)` is told as each point is predicted."""
    if group not in GROUPS:
        raise WafersimError(f"group {group!r}: expected one of {', '.join(GROUPS)}", field="group")
    catalog = catalog or load_catalog()
    path = Path(points_path) if points_path else None  # None: the group's shipped points file(s)
    if group == "wafer":
        from wafersim.perf.wafer import validation as wafer

        points = _chosen(wafer.load_wafer_points(path or wafer.WAFER_POINTS), ids, group)
        report = wafer.run_wafer_validation(catalog, points, progress)
        report["test_median_ape_target"] = wafer.TEST_MEDIAN_APE_TARGET
        return report
    from wafersim.perf.validation import load_points, run_validation

    points = load_points(path)
    points = _chosen([p for p in points if group in ("all", p.group)], ids, group)
    report = run_validation(catalog, points, progress)
    report["test_median_ape_target"] = TEST_MEDIAN_APE_TARGET
    return report


def _chosen(points: list, ids: Sequence[str] | None, group: str) -> list:
    """The points named in `ids` (all when None), in file order."""
    if ids is None:
        return points
    if isinstance(ids, str):
        ids = [ids]
    known = {p.id for p in points}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise WafersimError(f"ids: group {group!r} has no validation point {unknown[0]!r}", field="ids")
    return [p for p in points if p.id in set(ids)]
