"""The highest request rate a deployment sustains within SLOs, by bracketing then bisection on the rate.

Each probe replays the same requests (same lengths, same arrival pattern) time-scaled to the probed rate, so
the only thing that changes between probes is the load. p90 TTFT and p90 TPOT both grow with load (more
queueing, bigger batches), which is what makes bisection valid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wafersim.errors import WafersimError
from wafersim.serving.metrics import SLO, summarize
from wafersim.serving.pricing import IterationPricer
from wafersim.serving.simulator import SimResult
from wafersim.serving.workload import Workload


@dataclass(frozen=True)
class CapacitySearch:
    slo: SLO
    start_rps: float
    relative_tolerance: float = 0.02
    max_probes: int = 24
    min_rps: float = 1e-4

    def __post_init__(self) -> None:
        if self.slo.ttft_s is None or self.slo.tpot_s is None:
            missing = "slo_ttft_s" if self.slo.ttft_s is None else "slo_tpot_s"
            raise WafersimError("capacity needs both slo_ttft_s and slo_tpot_s", field=missing)
        for name, value in (("slo_ttft_s", self.slo.ttft_s), ("slo_tpot_s", self.slo.tpot_s)):
            if not value > 0:
                raise WafersimError(f"{name} must be > 0 s, got {value}", field=name)
        if not self.start_rps > 0:
            raise WafersimError(f"the starting rate must be > 0, got {self.start_rps}")


def start_rate_rps(
    pricer: IterationPricer, engines: int, prompt_tokens: np.ndarray, output_tokens: np.ndarray
) -> float:
    """The search's first probe: what the engines would sustain if every step decoded a batch of 32 at the mean
    prompt length (then the search brackets the real limit)."""
    step_s = float(pricer.decode_run_s(32, float(np.mean(prompt_tokens)), 1)[0])
    return engines * 32 / step_s / float(np.mean(output_tokens))


@dataclass
class CapacityResult:
    max_rate_rps: float
    summary: dict[str, Any] | None  # the run at max_rate_rps (None when no rate meets the SLOs)
    probes: list[dict[str, Any]] = field(default_factory=list)
    bracketed: bool = True  # False: every probed rate met the SLOs (max_rate_rps is a lower bound)


def meets(summary: dict[str, Any], slo: SLO) -> bool:
    ttft, tpot = summary["ttft_p90_s"], summary["tpot_p90_s"]
    if ttft is None:
        return False
    return ttft <= slo.ttft_s and (tpot is None or tpot <= slo.tpot_s)


def find_capacity(
    workload_at: Callable[[float], Workload],
    run: Callable[[Workload], SimResult],
    search: CapacitySearch,
    on_probe: Callable[[dict[str, Any]], None] | None = None,
) -> CapacityResult:
    """`on_probe` (optional) sees each probe's record as it is made (progress; raising from it cancels)."""
    probes: list[dict[str, Any]] = []
    best: tuple[float, dict[str, Any]] | None = None

    def probe(rate: float) -> bool:
        nonlocal best
        summary = summarize(run(workload_at(rate)), search.slo)
        ok = meets(summary, search.slo)
        probes.append(
            {
                "rate_rps": rate,
                "meets": ok,
                "ttft_p90_s": summary["ttft_p90_s"],
                "tpot_p90_s": summary["tpot_p90_s"],
            }
        )
        if ok and (best is None or rate > best[0]):
            best = (rate, summary)
        if on_probe is not None:
            on_probe(probes[-1])
        return ok

    low, high = None, None
    rate = search.start_rps
    while len(probes) < search.max_probes:  # bracket: double while met, halve while not
        if probe(rate):
            low = rate
            if high is not None:
                break
            rate *= 2.0
        else:
            high = rate
            if low is not None:
                break
            rate /= 2.0
            if rate < search.min_rps:
                return CapacityResult(0.0, None, probes)
    while low is not None and high is not None and len(probes) < search.max_probes:
        if (high - low) <= search.relative_tolerance * low:
            break
        middle = (low + high) / 2.0
        if probe(middle):
            low = middle
        else:
            high = middle
    if best is None:
        return CapacityResult(0.0, None, probes)
    return CapacityResult(best[0], best[1], probes, bracketed=high is not None)
