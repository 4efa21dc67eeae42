"""The one place the web face calls wafersim: each endpoint's body in, a JSON-ready dict out.

Every answer is the public API's result as `to_dict()` gives it, which is what the matching CLI command prints
with --json (the same keys and numbers), plus, for serve, the per-request latencies and the KV/queue series
the charts draw. The web layer holds no logic of its own: a new figure belongs in the API first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wafersim.errors import WafersimError
from wafersim.web.schemas import (
    CapacityBody,
    CompareBody,
    EstimateBody,
    FrontierBody,
    PlanBody,
    ServeBody,
    WaferMapBody,
)

Progress = Callable[[str, float | None], None]  # stage, fraction done (None: not known)
# Points per plotted series: a 20k-request run records ~10^5 KV samples, more than a chart can show.
MAX_SERIES_POINTS = 2_000


def _quiet(stage: str, fraction: float | None) -> None:
    pass


def catalog_systems() -> dict[str, Any]:
    from wafersim.catalog import load_catalog, system_rows

    return _finite({"systems": system_rows(load_catalog())})


def catalog_models() -> dict[str, Any]:
    from wafersim.catalog import load_catalog, model_rows

    return _finite({"models": model_rows(load_catalog())})


def estimate(body: EstimateBody) -> dict[str, Any]:
    import wafersim

    fields = body.model_dump(exclude={"life_years", "usd_per_kwh", "pue"})
    cost = wafersim.CostAssumptions(life_years=body.life_years, usd_per_kwh=body.usd_per_kwh, pue=body.pue)
    return _finite(wafersim.estimate(cost=cost, per_user_views=True, **fields).to_dict())  # as the CLI


def compare(body: CompareBody) -> dict[str, Any]:
    import wafersim

    systems = [(d.system, d.count) for d in body.systems]
    fields = body.model_dump(exclude={"model", "systems"})
    return _finite(wafersim.compare(body.model, systems, **fields).to_dict())


def frontier(body: FrontierBody) -> dict[str, Any]:
    import wafersim

    fields = body.model_dump(exclude={"model", "systems"})
    return _finite(wafersim.frontier(body.model, body.systems, **fields).to_dict())


def wafer_map(body: WaferMapBody) -> dict[str, Any]:
    """`wafersim wafer map --json`: the decode placement the search picks."""
    from wafersim import EstimateRequest, load_catalog
    from wafersim.perf.wafer.mapview import wafer_map as placement

    catalog = load_catalog()
    fields = body.model_dump(exclude={"model", "system"})
    request = EstimateRequest(model=catalog.model(body.model), system=catalog.system(body.system), **fields)
    return _finite(placement(request))


def validate(group: str) -> dict[str, Any]:
    import wafersim

    return _finite(wafersim.validate(group=group))


def serve(body: ServeBody, progress: Progress = _quiet) -> dict[str, Any]:
    from wafersim import serve as run_serve

    progress("simulating", None)

    def arrived(done: float, total: float | None, what: str) -> None:
        progress(f"simulating: {done:.0f} of {total:.0f} {what}", done / total if total else None)

    result = run_serve(**body.model_dump(exclude_none=True), progress=arrived)
    progress("summarising", None)
    answer = _finite(result.to_dict())
    answer["per_request"] = _per_request(result.sim)
    answer["series"] = _series(result.sim)
    return answer


def capacity(body: CapacityBody, progress: Progress = _quiet) -> dict[str, Any]:
    from wafersim import capacity as run_capacity

    progress("searching the highest rate within the SLOs", None)
    probes = 0

    def on_probe(probe: dict[str, Any]) -> None:  # a search's length is not known ahead: no fraction
        nonlocal probes
        probes += 1
        verdict = "within" if probe["meets"] else "outside"
        progress(f"probe {probes}: {probe['rate_rps']:.4g} requests/s, {verdict} the SLOs", None)

    return _finite(run_capacity(**body.model_dump(exclude_none=True), on_probe=on_probe).to_dict())


def plan(body: PlanBody, progress: Progress = _quiet) -> dict[str, Any]:
    progress("capacity per system (simulated, or from the cache)", None)

    def searched(done: float, to_run: float | None, what: str = "") -> None:
        progress(f"capacity searches: {done:.0f} of {to_run:.0f} done", done / to_run if to_run else None)

    try:
        import wafersim

        return _finite(wafersim.plan(body.scenario, use_cache=body.use_cache, progress=searched).to_dict())
    except ImportError as error:  # SciPy and PyYAML are the fleet extra's
        raise WafersimError(
            f"plan needs the fleet extra ({error.name} is missing): pip install -e '.[fleet]'"
        ) from None


def _per_request(sim) -> dict[str, list]:
    """Completed requests' TTFT and TPOT (the distributions' charts); rejected ones are counted in the summary."""
    import numpy as np

    from wafersim.serving.metrics import per_request
    from wafersim.serving.state import COMPLETED

    metrics = per_request(sim)
    done = sim.requests.status == COMPLETED
    tpot = metrics["tpot_s"][done]
    return {"ttft_s": metrics["ttft_s"][done].tolist(), "tpot_s": tpot[~np.isnan(tpot)].tolist()}


def _series(sim) -> dict[str, Any]:
    """KV tokens in use and queue length over time, summed over engines. Past MAX_SERIES_POINTS samples, the
    peak of each of MAX_SERIES_POINTS equal time bins (every k-th sample would hide the spikes)."""
    import numpy as np

    def arrays(*columns):
        return [np.frombuffer(c, dtype=c.typecode) for c in columns]

    s = sim.series
    out: dict[str, Any] = {}
    for name, (times, engines, values) in (
        ("kv_tokens", arrays(s.kv_t, s.kv_engine, s.kv_tokens)),
        ("queue_len", arrays(s.queue_t, s.queue_engine, s.queue_len)),
    ):
        # Each engine's value holds until its next sample: the total is the running sum of per-engine changes.
        change = values.astype(np.int64).copy()
        for engine in np.unique(engines):
            mine = np.flatnonzero(engines == engine)
            change[mine[1:]] -= values[mine[:-1]]
        order = np.argsort(times, kind="stable")
        t, v = times[order], np.cumsum(change[order])
        out[name] = {"time_s": t.tolist(), "value": v.tolist(), "samples": len(t), "bins": None}
        if len(t) > MAX_SERIES_POINTS:
            edges = np.linspace(t[0], t[-1], MAX_SERIES_POINTS + 1)
            index = np.minimum(np.searchsorted(edges, t, side="right") - 1, MAX_SERIES_POINTS - 1)
            peak = np.full(MAX_SERIES_POINTS, -1, dtype=np.int64)
            np.maximum.at(peak, index, v)
            held = peak >= 0  # bins with no sample are left out
            out[name].update(
                time_s=edges[:-1][held].tolist(), value=peak[held].tolist(), bins=MAX_SERIES_POINTS
            )
    return out


def _finite(value: Any) -> Any:
    """NaN/inf as null, as the CLI's --json writes them (JSON has no NaN)."""
    import math

    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


# The long jobs, by the name in /api/jobs/{kind}.
JOBS: dict[str, Callable[..., dict[str, Any]]] = {"serve": serve, "capacity": capacity, "plan": plan}
