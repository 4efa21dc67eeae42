"""The `wafer` validation group: wafer-scale systems against published measurements.

Points come from `perf/data/validation_wafer.toml`, whose header states which points calibrate (only the
service-path constants of the catalog's `service` section, never fabric timing) and which test. Metrics name
whose time they are: `client_*` what a client of the hosted service measures (the wafer's own time plus the
service path, perf/wafer/service.py), the plain metrics the wafer's own time (research systems measured on the
device). A point the model cannot express carries the reason in `cannot_express` and is listed, not predicted.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from wafersim.catalog import Catalog, Precision
from wafersim.catalog.systems import ServiceSpec
from wafersim.catalog.toml_io import read_toml, validate
from wafersim.errors import WafersimError
from wafersim.perf.point_result import PointResult, predict_each
from wafersim.perf.types import Estimate, EstimateRequest
from wafersim.perf.validation import report, summarize
from wafersim.progress import Progress

# The wafer group's target for the test group's median APE (issue 9's done-when; also: no point off by 2x).
TEST_MEDIAN_APE_TARGET = 0.20
WAFER_POINTS = Path(__file__).resolve().parent.parent / "data" / "validation_wafer.toml"
WaferMetric = Literal[
    "output_tokens_per_s_per_user", "ttft_s", "client_output_tokens_per_s_per_user", "client_ttft_s"
]


class WaferPoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    group: Literal["calibration", "test"]
    source: str = Field(min_length=1)
    date: str
    model: str
    system: str
    count: int = Field(ge=0)  # 0: not published; predicted on the fewest systems that hold the model
    precision: Precision
    input_len: int = Field(ge=1)
    output_len: int = Field(ge=1)
    batch: int = Field(ge=1)
    metric: WaferMetric
    measured: float = Field(gt=0)
    cannot_express: str | None = None  # why the model cannot predict this point (listed, not predicted)
    notes: str = ""


def load_wafer_points(path: Path = WAFER_POINTS) -> list[WaferPoint]:
    data = read_toml(path)
    points = [
        validate(WaferPoint, raw, f"{path} point {i + 1}") for i, raw in enumerate(data.get("point", []))
    ]
    ids = [p.id for p in points]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise WafersimError(f"{path}: duplicate point ids {sorted(duplicates)}")
    return points


def _estimate(request: EstimateRequest) -> Estimate:
    from wafersim.perf.wafer.estimator import WaferOptions, estimate_wafer

    return estimate_wafer(request, WaferOptions(per_user_views=False))


def _request(point: WaferPoint, catalog: Catalog, service: ServiceSpec | None) -> EstimateRequest | str:
    system = catalog.system(point.system)
    if system.kind != "wafer":
        raise WafersimError(f"{WAFER_POINTS.name} point {point.id}: system {point.system} is not a wafer")
    if service is not None:
        system = system.model_copy(update={"service": service})
    request = EstimateRequest(
        model=catalog.model(point.model),
        system=system,
        count=max(point.count, 1),
        input_len=point.input_len,
        output_len=point.output_len,
        precision=point.precision,
        batch=point.batch,
    )
    if point.count == 0:
        probe = _estimate(request)
        if not probe.fits:
            if not probe.accelerators_needed:
                return f"does not fit: {probe.reason}"
            request = replace(request, count=probe.accelerators_needed)
    return request


def predict_wafer(point: WaferPoint, catalog: Catalog, service: ServiceSpec | None = None) -> PointResult:
    """The point's prediction (with `service` in place of the catalog's section, for calibration)."""
    if point.cannot_express:
        return PointResult(point, None, point.cannot_express, "wafer")
    request = _request(point, catalog, service)
    if isinstance(request, str):
        return PointResult(point, None, request, "wafer")
    result = _estimate(request)
    if not result.fits:
        return PointResult(point, None, f"does not fit: {result.reason}", "wafer", request.count)
    value = result.to_dict().get(point.metric)
    if value is None:
        reason = f"{point.system} has no service section for {point.metric}"
        return PointResult(point, None, reason, "wafer", request.count)
    return PointResult(point, float(value), None, "wafer", request.count)


def summarize_wafer(results: list[PointResult]) -> dict:
    """Per group (calibration, test): the statistics of every validation group (points, median, p90 and worst
    APE), and the wafer group's own: `max_ape` (= worst_ape), the worst ratio either way, and the points not
    expressed with the reason."""
    summary = summarize(results)
    for group, stats in summary.items():
        mine = [r for r in results if r.point.group == group]
        stats["max_ape"] = stats["worst_ape"]
        stats["worst_ratio"] = max(
            (
                max(r.predicted / r.point.measured, r.point.measured / r.predicted)
                for r in mine
                if r.predicted
            ),
            default=None,
        )
        stats["not_expressed"] = [
            {"id": r.point.id, "reason": r.skipped} for r in mine if r.predicted is None
        ]
    return summary


def run_wafer_validation(
    catalog: Catalog, points: list[WaferPoint] | None = None, progress: Progress | None = None
) -> dict:
    """The wafer group's report, with the keys of every validation report (`perf.validation.run_validation`)
    and `max_ape`; `progress(done, total, what)` is told as each point is predicted."""
    points = points if points is not None else load_wafer_points()
    results = predict_each(points, lambda point: predict_wafer(point, catalog), progress)
    summary = summarize_wafer(results)
    return report(results, summary) | {"max_ape": summary["test"]["max_ape"]}


def calibrate_service(
    catalog: Catalog, system_id: str, points: list[WaferPoint] | None = None
) -> ServiceSpec:
    """Fit the service path's two time constants on the calibration points only, in closed form: at batch 1
    the client's time per token is the wafer's path plus the host round trip, and its TTFT the wafer's TTFT
    plus the round trip, the queue and the request latency. The round trip comes from the per-user speed
    points, then the request latency from the TTFT points (median residual of each, at least 0); `load`
    stays the catalog's."""
    base = catalog.system(system_id).service
    if base is None:
        raise WafersimError(f"system {system_id}: no service section to calibrate")
    chosen = [p for p in (points or load_wafer_points()) if p.group == "calibration" and not p.cannot_express]
    zero = base.model_copy(update={"host_round_trip_s": 0.0, "request_latency_s": 0.0})
    speed = [p for p in chosen if p.metric == "client_output_tokens_per_s_per_user"]
    residuals = []
    for p in speed:
        r = predict_wafer(p, catalog, zero)
        if r.predicted is not None:
            residuals.append(1.0 / p.measured - 1.0 / r.predicted)
    if not residuals:
        raise WafersimError("no per-user calibration point predicts: cannot fit host_round_trip_s")
    fitted = zero.model_copy(update={"host_round_trip_s": max(0.0, float(np.median(residuals)))})
    residuals = []
    for p in (p for p in chosen if p.metric == "client_ttft_s"):
        r = predict_wafer(p, catalog, fitted)
        if r.predicted is not None:
            residuals.append(p.measured - r.predicted)
    if not residuals:
        raise WafersimError("no TTFT calibration point predicts: cannot fit request_latency_s")
    return fitted.model_copy(update={"request_latency_s": max(0.0, float(np.median(residuals)))})
