"""What a sweep point can compute: one entry per task, keyed by the name a spec's `task:` uses.

A task turns one point's parameters into a flat row: the same keys as the matching command's `--json`
(nested values, e.g. the per-operator breakdown, become JSON text so every row has the same columns).
Each runs in a worker process, so it takes and returns plain data only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wafersim.errors import WafersimError

# Parameters every task accepts: what is deployed and for which requests.
_DEPLOYMENT = {"model", "system", "count", "precision"}
_SLO = {"slo_ttft_s", "slo_tpot_s"}
_SERVING = _DEPLOYMENT | {"trace", "input_len", "output_len", "requests", "replicas", "scheduler", "router"}


@dataclass(frozen=True)
class Task:
    run: Callable[[dict[str, Any]], dict[str, Any]]
    keys: frozenset[str]  # the parameters it accepts
    required: frozenset[str]
    summary: str
    unused: frozenset[str] = frozenset()  # accepted so one spec serves several tasks; said in the summary


def split_system(params: dict[str, Any]) -> tuple[str, int]:
    """`system: "h100-sxm:8"` (or `system` + `count`) -> (id, count); count 0 = the fewest that fit."""
    system = str(params["system"])
    name, colon, count_text = system.partition(":")
    if colon and "count" in params:
        raise WafersimError(f"system {system!r}: give the count once, in system or in count", field="count")
    raw = count_text if colon else params.get("count", 0)
    try:
        count = int(raw)
    except (TypeError, ValueError):
        raise WafersimError(f"system {system!r}: the count must be a whole number", field="system") from None
    if not 0 <= count <= 1_000_000:
        raise WafersimError(f"system {system!r}: count {count} is outside 0..1,000,000", field="system")
    return name, count


def flat(data: dict[str, Any]) -> dict[str, Any]:
    """A result as one row: scalars as they are, nested values as JSON text."""
    return {
        key: json.dumps(value, sort_keys=True) if isinstance(value, dict | list | tuple) else value
        for key, value in data.items()
    }


def _estimate(params: dict[str, Any]) -> dict[str, Any]:
    import wafersim

    catalog = wafersim.load_catalog()
    system_id, count = split_system(params)
    base = dict(
        model=catalog.model(params["model"]),
        system=catalog.system(system_id),
        input_len=params["input_len"],
        output_len=params["output_len"],
        precision=params.get("precision"),
        max_tpot_s=params.get("slo_tpot_s"),
    )
    batch = params.get("batch", "auto")
    count = count or fewest_that_fit(base)
    return flat(wafersim.estimate(count=count, batch=None if batch == "auto" else batch, **base).to_dict())


def fewest_that_fit(base: dict[str, Any]) -> int:
    """The fewest accelerators (wafers) that hold the model, as `compare` counts them for count 0."""
    from wafersim.perf import EstimateRequest, estimate
    from wafersim.perf.analytical import accelerators_needed

    if base["system"].kind == "wafer":
        probe = estimate(EstimateRequest(count=1, batch=1, **base))
        needed = 1 if probe.fits else probe.accelerators_needed or 0
    else:
        request = EstimateRequest(count=1, **base)
        needed = accelerators_needed(request, request.resolved_precision) or 0
    if needed == 0:
        raise WafersimError(f"{base['model'].id} does not fit on any number of {base['system'].id}")
    return needed


def _serving_count(params: dict[str, Any]) -> tuple[str, int]:
    system, count = split_system(params)
    if count == 0:
        raise WafersimError(
            f"system {params['system']!r}: serving tasks need a replica size (id:count with count ≥ 1)",
            field="system",
        )
    return system, count


def _serving_options(params: dict[str, Any], names: set[str]) -> dict[str, Any]:
    return {name: params[name] for name in sorted(names) if name in params}


def _capacity(params: dict[str, Any]) -> dict[str, Any]:
    import wafersim

    system, count = _serving_count(params)
    options = _serving_options(params, _CAPACITY - {"model", "system", "count"})
    return flat(wafersim.capacity(params["model"], system, count, seed=params["seed"], **options).to_dict())


def _serve(params: dict[str, Any]) -> dict[str, Any]:
    import wafersim

    system, count = _serving_count(params)
    options = _serving_options(params, _SERVE - {"model", "system", "count"})
    return flat(wafersim.serve(params["model"], system, count, seed=params["seed"], **options).to_dict())


_CAPACITY = _SERVING | _SLO | {"synthetic_requests", "tolerance", "max_batch"}
_SERVE = _SERVING | _SLO | {"rate_rps", "duration_s", "arrival", "cv", "trace_rate_rps", "max_batch"}

TASKS: dict[str, Task] = {
    "estimate": Task(
        run=_estimate,
        keys=frozenset(_DEPLOYMENT | _SLO | {"input_len", "output_len", "batch", "trace"}),
        required=frozenset({"model", "system", "input_len", "output_len"}),
        summary="prefill/decode speed of one deployment (wafersim estimate)",
        unused=frozenset({"trace"}),
    ),
    "capacity": Task(
        run=_capacity,
        keys=frozenset(_CAPACITY),
        required=frozenset({"model", "system", "slo_ttft_s", "slo_tpot_s"}),
        summary="highest request rate within p90 TTFT/TPOT targets (wafersim capacity)",
    ),
    "serve": Task(
        run=_serve,
        keys=frozenset(_SERVE),
        required=frozenset({"model", "system"}),
        summary="replay a trace or synthetic arrivals (wafersim serve)",
    ),
}
