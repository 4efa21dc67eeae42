"""Predictions against published measurements, with the error of each point and of each group.

Points come from the data files in POINT_FILES (`data/validation.toml` for GPUs/TPUs/LPUs; another area
registers its own file there, e.g. the wafer points). A point's `group` says whether it calibrated a parameter
("calibration") or only tests the model ("test"); errors are reported per group and, for the test group, per
family (dense, moe, server, lpu, wafer: FAMILIES), and the test group alone judges the model. Points whose
source leaves the accelerator count or the lengths unknown (0), and points on systems whose estimator is not
built, are listed with the reason they were not predicted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from wafersim.catalog import Catalog, Precision, SystemSpec
from wafersim.catalog.toml_io import read_toml, validate
from wafersim.errors import WafersimError
from wafersim.perf.estimate import estimate
from wafersim.perf.point_result import PointResult, predict_each
from wafersim.perf.types import Estimate, EstimateRequest
from wafersim.progress import Progress

DEFAULT_POINTS = Path(__file__).resolve().parent / "data" / "validation.toml"
# Every validation data file, keyed by the area that owns it; `load_points()` reads them all.
POINT_FILES: dict[str, Path] = {"gpu": DEFAULT_POINTS}
Metric = Literal["output_tokens_per_s", "output_tokens_per_s_per_user", "ttft_s", "tpot_s"]
Family = Literal["dense", "moe", "server", "lpu", "wafer"]
FAMILIES: tuple[str, ...] = ("dense", "moe", "server", "lpu", "wafer")


class Dataset(BaseModel):
    """A benchmark's request lengths, shared by its points; `source` says where they came from (or that they
    were calibrated, when no source publishes them)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    input_len: int = Field(ge=1)
    output_len: int = Field(ge=1)
    server_max_tpot_s: float | None = Field(default=None, gt=0)  # the benchmark's server-scenario TPOT rule
    server_max_ttft_s: float | None = Field(default=None, gt=0)  # ... and its TTFT rule
    # When no source publishes the mean input length: the range `wafersim calibrate` fits it in (on the
    # dataset's calibration points only).
    calibrated_input_bounds: tuple[int, int] | None = None
    # Spread of the output lengths (std / mean) when only their mean is published: 1, the geometric law that
    # perf/tail.py takes for the server tail (maximum entropy for a known mean), unless a source gives more.
    output_len_cv: float = Field(default=1.0, ge=0, le=10)
    source: str = Field(min_length=1)


class Point(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: str
    group: Literal["calibration", "test"]
    source: str = Field(min_length=1)
    date: str
    model: str
    system: str
    count: int = Field(ge=0)
    precision: Precision
    input_len: int = Field(ge=0)
    output_len: int = Field(ge=0)
    scenario: str
    batch: int = Field(ge=0)
    metric: Metric
    measured: float = Field(gt=0)
    tp: int = Field(ge=0)
    dataset: str | None = None  # lengths from a [dataset.NAME] table instead of input_len/output_len
    output_len_cv: float = Field(default=0.0, ge=0, le=10)  # 0: exact lengths; a dataset sets its own
    max_tpot_s: float | None = Field(default=None, gt=0)  # latency rule the measurement was taken under
    max_ttft_s: float | None = Field(default=None, gt=0)
    family: Family | None = None  # None: derived (family_of)
    notes: str = ""


def load_datasets(path: Path = DEFAULT_POINTS) -> dict[str, Dataset]:
    data = read_toml(path)
    return {
        name: validate(Dataset, raw, f"{path} dataset {name}")
        for name, raw in data.get("dataset", {}).items()
    }


def _load_file(path: Path) -> list[Point]:
    data = read_toml(path)
    datasets = load_datasets(path)
    points = []
    for i, raw in enumerate(data.get("point", [])):
        point = validate(Point, raw, f"{path} point {i + 1}")
        if point.dataset is not None:
            if point.dataset not in datasets:
                raise WafersimError(
                    f"{path} point {point.id}: field 'dataset': unknown dataset '{point.dataset}'"
                )
            lengths = datasets[point.dataset]
            update = {
                "input_len": lengths.input_len,
                "output_len": lengths.output_len,
                "output_len_cv": lengths.output_len_cv,
            }
            if point.scenario == "server" and point.max_tpot_s is None:
                update["max_tpot_s"] = lengths.server_max_tpot_s
            if point.scenario == "server" and point.max_ttft_s is None:
                update["max_ttft_s"] = lengths.server_max_ttft_s
            point = point.model_copy(update=update)
        points.append(point)
    return points


def load_points(path: Path | None = None) -> list[Point]:
    """Points with dataset lengths filled in: of one file, or of every file in POINT_FILES."""
    paths = [path] if path is not None else list(POINT_FILES.values())
    points = [point for p in paths for point in _load_file(p)]
    ids = [p.id for p in points]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise WafersimError(f"{', '.join(str(p) for p in paths)}: duplicate point ids {sorted(duplicates)}")
    if not points:
        raise WafersimError(
            f"{', '.join(str(p) for p in paths)}: no [[point]] tables (a validation file holds at least one measurement)"
        )
    return points


def family_of(point: Point, catalog: Catalog) -> str:
    """The family a point reports under: as the data file says, else wafer/lpu by system kind, server by
    scenario, moe by model, dense otherwise."""
    if point.family is not None:
        return point.family
    kind = catalog.system(point.system).kind
    if kind in ("wafer", "lpu"):
        return kind
    if point.scenario == "server":
        return "server"
    return "moe" if catalog.model(point.model).moe is not None else "dense"


def _skip_reason(point: Point, system: SystemSpec) -> str | None:
    if point.count == 0:
        return "accelerator count not published"
    if point.input_len == 0 or point.output_len == 0:
        return "input/output lengths not published"
    if point.metric == "ttft_s" and point.scenario == "server":
        # The server scenario's TTFT includes queueing under load: that is the serving simulator's to predict;
        # the estimate's TTFT is that of a request joining a running batch, without a queue.
        return "server-scenario TTFT includes queueing under load (a serving-simulation figure)"
    return None


def request_for(point: Point, catalog: Catalog, system: SystemSpec | None = None) -> EstimateRequest:
    """The estimate that reproduces a measurement's set-up: fixed tp when published, batch as published
    (per-user points default to batch 1), otherwise the maximum-throughput batch — within the TPOT rule the
    measurement was taken under, if any."""
    batch = point.batch or (1 if point.metric == "output_tokens_per_s_per_user" else None)
    return EstimateRequest(
        model=catalog.model(point.model),
        system=system or catalog.system(point.system),
        count=point.count,
        input_len=point.input_len,
        output_len=point.output_len,
        precision=point.precision,
        tp=point.tp or None,
        batch=batch,
        max_tpot_s=point.max_tpot_s,
        max_ttft_s=point.max_ttft_s,
        output_len_cv=point.output_len_cv,
    )


def predicted_metric(result: Estimate, metric: Metric) -> float | None:
    if not result.fits:
        return None
    return getattr(result, metric)


def predict(point: Point, catalog: Catalog, system: SystemSpec | None = None) -> PointResult:
    system = system or catalog.system(point.system)
    family = family_of(point, catalog)
    reason = _skip_reason(point, system)
    if reason:
        return PointResult(point, None, reason, family)
    result = estimate(request_for(point, catalog, system))
    value = predicted_metric(result, point.metric)
    if value is None:
        return PointResult(point, None, f"does not fit: {result.reason}", family)
    return PointResult(point, value, None, family)


def _stats(errors: list[float]) -> dict[str, float | int | None]:
    return {
        "points": len(errors),
        "median_ape": float(np.median(errors)) if errors else None,
        "p90_ape": float(np.percentile(errors, 90)) if errors else None,
        "worst_ape": float(np.max(errors)) if errors else None,
    }


def summarize(results: list[PointResult]) -> dict[str, dict[str, float | int | None]]:
    """Median, p90 and worst APE per group (calibration, test)."""
    return {
        group: _stats([r.ape for r in results if r.point.group == group and r.ape is not None])
        for group in ("calibration", "test")
    }


def summarize_families(results: list[PointResult], group: str = "test") -> dict[str, dict]:
    """The same per family, for one group (families without points are left out)."""
    summary = {}
    for family in FAMILIES:
        errors = [
            r.ape for r in results if r.point.group == group and r.family == family and r.ape is not None
        ]
        if errors:
            summary[family] = _stats(errors)
    return summary


def run_validation(
    catalog: Catalog, points: list[Point] | None = None, progress: Progress | None = None
) -> dict:
    points = points if points is not None else load_points()
    results = predict_each(points, lambda point: predict(point, catalog), progress)
    return report(results, summarize(results))


def report(results: list[PointResult], summary: dict) -> dict:
    """The keys every validation report has (GPU groups here, the wafer group in perf/wafer/validation.py)."""
    return {
        "points": [r.to_dict() for r in results],
        "median_ape": summary["test"]["median_ape"],
        "p90_ape": summary["test"]["p90_ape"],
        "worst_ape": summary["test"]["worst_ape"],
        "groups": summary,
        "families": summarize_families(results),
        "calibration_families": summarize_families(results, "calibration"),
        "skipped": sum(r.predicted is None for r in results),
    }
