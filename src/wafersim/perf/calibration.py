"""Fitting the achievable-efficiency factors on the calibration points, and only on them.

Each family of systems (same vendor software stack and generation) shares one set of factors, fitted by
coordinate descent (golden-section search per factor) on the absolute log error of its calibration points, in
the stages `calibrate` describes.
A workload parameter that no source publishes (a benchmark's mean input length) is fitted the same way, on
calibration points only. Systems without a calibration point of their own borrow a family's factors, which
their catalog entry says. Test points never set a parameter: they only judge the result.
`wafersim.report.calibration_toml.write_calibration` writes a result into the data files.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from wafersim.catalog import Catalog, SystemSpec
from wafersim.catalog.systems import EfficiencySpec
from wafersim.perf.estimate import estimate
from wafersim.perf.validation import (
    Point,
    load_datasets,
    load_points,
    predicted_metric,
    request_for,
)

FAMILIES: dict[str, tuple[str, ...]] = {
    "nvidia-hopper": ("h100-sxm", "h200-sxm"),
    "nvidia-blackwell": ("b200", "gb200"),
    "amd-cdna3": ("mi300x", "mi325x"),
}
# Systems with no calibration point take a family's factors (the nearest software stack and generation).
BORROWED: dict[str, str] = {
    "a100-sxm": "nvidia-hopper",
    "mi355x": "amd-cdna3",
    "tpu-v5e": "nvidia-hopper",
    "tpu-v6e": "nvidia-hopper",
    "tpu-v7": "nvidia-hopper",
    "groq-lpu": "nvidia-hopper",
}
# Link efficiency is not fitted (calibration points barely exercise it): nccl-tests all-reduce bus bandwidth
# reaches roughly 70-80% of NVLink peak at large messages; the lower end is taken.
NETWORK_EFFICIENCY = 0.7
# Physically plausible ranges, so that factors which trade off against each other cannot run to corners:
# inference GEMMs reach at most ~80% of dense peak (the best published MFU figures); measured HBM bandwidth
# reaches 92% of peak (GB200 in Azure, facts.md §2), and a kernel that streams weights or KV at under 60% of it
# would be a broken one.
BOUNDS = {"compute": (0.15, 0.8), "memory_bw": (0.6, 0.92)}
# The per-iteration host overhead is not fitted: throughput points cannot see it (it vanishes at large batch)
# while it would dominate batch-1 latency, which no calibration point measures. The runtimes measured hide
# it behind CUDA graphs and overlapped scheduling, so it is taken as zero.
STEP_OVERHEAD_S = 0.0
# Grouped expert GEMMs get their own factor where a family has MoE calibration points (lower bound: well under
# dense efficiency is common for small per-expert matmuls).
MOE_BOUNDS = (0.03, 0.8)
DATASET_INPUT_BOUNDS = (64, 1024)
CALIBRATED_DATASET = "mlperf-llama2-70b-openorca"


@dataclass(frozen=True)
class Calibration:
    factors: dict[str, dict[str, float]]  # family -> {compute, memory_bw, step_overhead_s}
    dataset_input_len: int
    loss: float
    points: int


def _golden(f: Callable[[float], float], low: float, high: float, iterations: int = 14) -> float:
    ratio = (math.sqrt(5) - 1) / 2
    a, b = low, high
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iterations):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
    return (a + b) / 2


def with_efficiency(system: SystemSpec, factors: dict[str, float], source: str) -> SystemSpec:
    efficiency = EfficiencySpec(network=NETWORK_EFFICIENCY, source=source, **factors)
    return system.model_copy(update={"efficiency": efficiency})


def _loss(points: list[Point], catalog: Catalog, systems: dict[str, SystemSpec], input_len: int) -> float:
    total = 0.0
    for point in points:
        if point.dataset == CALIBRATED_DATASET:
            point = point.model_copy(update={"input_len": input_len})
        value = predicted_metric(estimate(request_for(point, catalog, systems[point.system])), point.metric)
        # Absolute log error: robust to the odd inconsistent measurement (it fits medians, not means).
        total += 5.0 if value is None else abs(math.log(value / point.measured))  # unfit: a heavy penalty
    return total


def _fit_family(
    family: str,
    family_points: list[Point],
    catalog: Catalog,
    factors: dict[str, dict[str, float]],
    input_len: int,
    rounds: int,
) -> dict[str, float]:
    """Coordinate descent over one family's factors on its points, the other families held fixed."""
    fitted = dict(factors[family])
    members = FAMILIES[family]
    bounds = dict(BOUNDS)
    if any(catalog.model(p.model).moe is not None for p in family_points):
        bounds["moe_compute"] = MOE_BOUNDS
        fitted.setdefault("moe_compute", fitted["compute"])
    for _ in range(rounds):
        for name, (low, high) in bounds.items():

            def trial(value: float, name=name) -> float:
                trial_factors = {**fitted, name: value}
                systems = {
                    s: with_efficiency(catalog.system(s), trial_factors, "calibration trial") for s in members
                }
                return _loss(family_points, catalog, systems, input_len)

            fitted[name] = _golden(trial, low, high)
    return fitted


def calibrate(catalog: Catalog, points: list[Point] | None = None, rounds: int = 3) -> Calibration:
    """Three stages, each on calibration points only:
    1. families with exact-length points fit their factors on those points;
    2. with those factors fixed, the benchmark points of those families fit the dataset's mean input length;
    3. families that have only benchmark points fit their factors on them, the input length fixed.
    Staging keeps the unknown input length from trading off against the efficiencies.
    """
    points = [p for p in (points if points is not None else load_points()) if p.group == "calibration"]
    family_of = {system: family for family, members in FAMILIES.items() for system in members}
    factors = {
        family: {"compute": 0.5, "memory_bw": 0.8, "step_overhead_s": STEP_OVERHEAD_S} for family in FAMILIES
    }
    input_len = load_datasets()[CALIBRATED_DATASET].input_len

    def of_family(family: str, exact: bool) -> list[Point]:
        return [
            p
            for p in points
            if family_of.get(p.system) == family and (p.dataset != CALIBRATED_DATASET) == exact
        ]

    exact_families = [f for f in FAMILIES if of_family(f, exact=True)]
    for family in exact_families:
        factors[family] = _fit_family(family, of_family(family, True), catalog, factors, input_len, rounds)

    def systems_for(family_factors: dict[str, dict[str, float]]) -> dict[str, SystemSpec]:
        return {
            system: with_efficiency(catalog.system(system), family_factors[family], "calibration trial")
            for system, family in family_of.items()
        }

    benchmark_points = [p for f in exact_families for p in of_family(f, exact=False)]
    if benchmark_points:
        systems = systems_for(factors)
        input_len = round(
            _golden(lambda x: _loss(benchmark_points, catalog, systems, round(x)), *DATASET_INPUT_BOUNDS)
        )
    for family in FAMILIES:
        if family not in exact_families and of_family(family, exact=False):
            factors[family] = _fit_family(
                family, of_family(family, False), catalog, factors, input_len, rounds
            )
    loss = _loss(points, catalog, systems_for(factors), input_len)
    rounded = {
        family: {k: round(v, 6 if k == "step_overhead_s" else 4) for k, v in values.items()}
        for family, values in factors.items()
    }
    return Calibration(factors=rounded, dataset_input_len=input_len, loss=loss, points=len(points))


def loss_at_catalog(catalog: Catalog, points: list[Point] | None = None) -> float:
    """Loss of the catalog's stored factors on the calibration points (for checks that they are fitted)."""
    points = [p for p in (points if points is not None else load_points()) if p.group == "calibration"]
    systems = {p.system: catalog.system(p.system) for p in points}
    return _loss(points, catalog, systems, load_datasets()[CALIBRATED_DATASET].input_len)


__all__ = ["BORROWED", "FAMILIES", "Calibration", "calibrate", "loss_at_catalog"]
