"""The one interface every system type answers: `estimate(request) -> Estimate`.

ESTIMATORS maps a system kind to the function that answers for it; a new kind of system plugs in there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from wafersim.errors import WafersimError
from wafersim.perf.economics import usd_per_million_tokens
from wafersim.perf.types import DEFAULT_MAX_BATCH, Estimate, EstimateRequest

__all__ = [
    "DEFAULT_MAX_BATCH",
    "ESTIMATORS",
    "Estimate",
    "EstimateRequest",
    "Estimator",
    "estimate",
    "with_costs",
]

Estimator = Callable[[EstimateRequest], Estimate]


def _analytical(request: EstimateRequest) -> Estimate:
    from wafersim.perf.analytical import estimate_analytical  # here: `wafersim estimate` loads only its kind

    return estimate_analytical(request)


def _wafer(request: EstimateRequest) -> Estimate:
    from wafersim.perf.wafer.estimator import WaferOptions, estimate_wafer
    from wafersim.perf.wafer.speculative import Speculative

    if request.speculative is not None and not isinstance(request.speculative, Speculative):
        raise WafersimError(
            f"{request.system.id}: the wafer model drafts with a draft model only (no multi-token-prediction heads)"
        )
    return estimate_wafer(request, WaferOptions(speculative=request.speculative))


# The one place a system kind is registered: the catalog's `kind` -> the estimator that answers for it.
ESTIMATORS: dict[str, Estimator] = {
    "gpu": _analytical,
    "tpu": _analytical,
    "lpu": _analytical,
    "rdu": _analytical,
    "wafer": _wafer,
}


def estimate(request: EstimateRequest) -> Estimate:
    result = ESTIMATORS[request.system.kind](request)
    if request.speculative is not None and request.system.kind != "wafer":  # wafers speculate in placement
        from wafersim.perf.speculative import speculate

        result = speculate(result, request, request.speculative)
    return with_costs(result, request)


def with_costs(result: Estimate, request: EstimateRequest) -> Estimate:
    """Capex of the deployment (all `count` accelerators bought, busy or idle) and dollars per million output
    tokens, for any system kind."""
    price = request.system.price
    if not result.fits or price is None or result.power_w is None or not result.output_tokens_per_s:
        return result
    capex = price.usd_per_accelerator * request.count
    usd = usd_per_million_tokens(capex, result.power_w, result.output_tokens_per_s, request.cost)
    return replace(result, capex_usd=capex, usd_per_million_tokens=usd)
