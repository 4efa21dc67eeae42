"""How many wafer-scale systems a deployment gets: chosen by what it is for, not just the fewest that fit.

The fewest systems that hold a model's weights leave little SRAM for the KV cache, so the batch (and the
throughput per system) is small; more systems per replica hold more sequences. `size_wafers` tries counts from
the fewest that fit up to 8x that (doubling, at most MAX_SIZED_COUNT) and keeps the best by the objective, each answered at the
maximum-throughput batch within the TPOT bound (`max_tpot_s`) when one is given. The ladder stops early once
the search chooses a placement on at most half the systems on hand: more systems would only repeat it. OBJECTIVES is the one place an
objective is registered, keyed by the name users type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from wafersim.errors import WafersimError
from wafersim.perf.estimate import estimate
from wafersim.perf.types import Estimate, EstimateRequest

# Candidate counts: the fewest that fit times these factors, up to MAX_SIZED_COUNT systems (a bound on search
# time: each candidate is a placement search; the ranking flattens once copies of a placement repeat).
COUNT_FACTORS = (1, 2, 4, 8)
MAX_SIZED_COUNT = 32


@dataclass(frozen=True)
class Objective:
    description: str
    value: Callable[[Estimate], float | None]  # the figure ranked
    lower_is_better: bool
    unit: str


def _usd(e: Estimate) -> float | None:
    return e.usd_per_million_tokens


def _per_mw(e: Estimate) -> float | None:
    return e.output_tokens_per_s / (e.power_w / 1e6) if e.output_tokens_per_s and e.power_w else None


def _count(e: Estimate) -> float | None:
    return float(e.count)


OBJECTIVES: dict[str, Objective] = {
    "usd-per-mtok": Objective("cheapest $ per million output tokens", _usd, True, "$/Mtok"),
    "tokens-per-mw": Objective("most output tokens/s per MW", _per_mw, False, "tok/s per MW"),
    "fewest": Objective("fewest systems that hold the model", _count, True, "systems"),
}


@dataclass(frozen=True)
class Sized:
    count: int
    answer: Estimate  # at the maximum-throughput batch within the bound
    objective: str
    tried: tuple[tuple[int, float | None], ...]  # (count, objective value) per candidate
    fewest: int

    def why(self) -> str:
        o = OBJECTIVES[self.objective]
        figures = ", ".join(f"{n}: {_fmt(v)}" for n, v in self.tried)
        return (
            f"{self.count} system(s) by objective '{self.objective}' ({o.description}); fewest that fit "
            f"{self.fewest}; {o.unit} by count: {figures}"
        )

    def to_dict(self) -> dict:
        return {
            "objective": self.objective,
            "count": self.count,
            "fewest_that_fit": self.fewest,
            "candidates": [{"count": n, "value": v} for n, v in self.tried],
            "unit": OBJECTIVES[self.objective].unit,
            "why": self.why(),
        }


def _fmt(value: float | None) -> str:
    return "does not fit" if value is None else f"{value:.4g}"


def wafer_estimate(request: EstimateRequest, options=None) -> Estimate:
    """`estimate` for a wafer system, with wafer options (speculative decoding, grids) when given."""
    if options is None:
        return estimate(request)
    from wafersim.perf.estimate import with_costs
    from wafersim.perf.wafer.estimator import estimate_wafer

    return with_costs(estimate_wafer(request, options), request)


def size_wafers(request: EstimateRequest, objective: str = "usd-per-mtok", options=None) -> Sized | Estimate:
    """The best count for `request` (its `count` ignored) by `objective`, with the `WaferOptions` `options`
    (e.g. speculative decoding) when given; an Estimate that does not fit when no count holds the model."""
    if objective not in OBJECTIVES:
        raise WafersimError(f"objective '{objective}': choose one of {', '.join(OBJECTIVES)}")
    if request.system.kind != "wafer":
        raise WafersimError(f"system {request.system.id}: wafer sizing applies to wafer-scale systems")
    chosen = OBJECTIVES[objective]
    probe = wafer_estimate(replace(request, count=1, batch=1, max_tpot_s=None), options)
    fewest = 1 if probe.fits else probe.accelerators_needed
    if not fewest:
        return probe
    tried: list[tuple[int, float | None]] = []
    best: tuple[float, int, Estimate] | None = None
    factors = (1,) if objective == "fewest" else COUNT_FACTORS
    counts = [fewest * f for f in factors if f == 1 or fewest * f <= MAX_SIZED_COUNT]
    for count in counts:
        answer = wafer_estimate(replace(request, count=count), options)
        value = chosen.value(answer) if answer.fits else None
        tried.append((count, value))
        if value is None:
            continue
        rank = value if chosen.lower_is_better else -value
        if best is None or rank < best[0]:
            best = (rank, count, answer)
        # The search at `count` weighed every placement on up to `count` wafers, side-by-side copies included;
        # when it chose one on at most half of them, larger counts only add copies of it (same figures).
        if 2 * answer.extra.get("wafers_per_replica", count) <= count:
            break
    if best is None:
        return wafer_estimate(replace(request, count=fewest), options)
    return Sized(best[1], best[2], objective, tuple(tried), fewest)
