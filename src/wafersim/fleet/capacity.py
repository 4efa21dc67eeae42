"""Capacity of one serving replica at the SLO, from the serving simulator, cached on disk by its inputs.

One (system, model) pair is simulated as a single replica of `replica_accelerators` accelerators (a node of 8
GPUs, one CS-3): the highest request rate whose p90 TTFT and p90 TPOT meet the SLO (the serving layer's
bracketing search). A fleet is many independent replicas behind a router, so capacity scales with the number of
replicas; that is the planner's linear model.

The cache key is a SHA-256 of everything the answer depends on: the catalog specs' content, the replica size,
the lengths (a trace's bytes), the SLO, request count, seed, and the source text of the serving and performance
layers plus this module. Editing the simulator invalidates old answers on its own, including "not available"
answers (a wafer system before the serving layer models it): when wafer replicas land in serving, the key
changes and the capacity is simulated.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import wafersim
from wafersim.catalog import ModelSpec, SystemSpec
from wafersim.errors import WafersimError
from wafersim.fleet.scenario import Lengths, SLOSpec
from wafersim.serving.workload import trace_path

CACHE_ENV = "WAFERSIM_CACHE_DIR"
CACHE_FORMAT = 1


@dataclass(frozen=True)
class CapacityJob:
    """Everything one capacity search depends on (no I/O to build)."""

    system: SystemSpec
    model: ModelSpec
    replica_accelerators: int
    lengths: Lengths
    slo: SLOSpec
    requests: int  # the most requests one probe replays
    seed: int
    min_span_lifetimes: float = 2.0


@dataclass(frozen=True)
class ReplicaCapacity:
    system: str
    model: str
    replica_accelerators: int
    available: bool
    reason: str | None = None  # why not available
    max_rate_rps: float = 0.0  # per replica, at the SLO
    output_tokens_per_s: float = 0.0  # per replica, at that rate
    power_w: float = 0.0  # per replica (IT, catalog)
    ttft_p90_s: float | None = None
    tpot_p90_s: float | None = None
    layout: str | None = None  # "tp×pp×ep dp, precision"
    probes: int = 0
    # True when the answer is the steady-state ceiling (requests / minimum span), not a measured SLO limit.
    span_limited: bool = False
    cached: bool = False


def default_cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wafersim" / "fleet"


@functools.cache
def _code_digest() -> str:
    """Hash of the code an answer comes from: serving, perf and this module (plus the package version)."""
    root = Path(wafersim.__file__).parent
    digest = hashlib.sha256(wafersim.__version__.encode())
    # Sub-packages too (perf/wafer prices wafer iterations once serving uses it).
    files = sorted((root / "serving").rglob("*.py")) + sorted((root / "perf").rglob("*.py"))
    for path in [*files, Path(__file__)]:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(job: CapacityJob) -> str:
    lengths = job.lengths.model_dump(mode="json")
    if job.lengths.trace is not None:
        path = trace_path(job.lengths.trace)
        try:
            lengths["trace_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as error:
            raise WafersimError(
                f"demand.lengths.trace {job.lengths.trace!r}: cannot read ({error})"
            ) from None
    content = {
        "format": CACHE_FORMAT,
        "system": job.system.model_dump(mode="json"),
        "model": job.model.model_dump(mode="json"),
        "replica_accelerators": job.replica_accelerators,
        "lengths": lengths,
        "slo": job.slo.model_dump(mode="json"),
        "requests": job.requests,
        "min_span_lifetimes": job.min_span_lifetimes,
        "seed": job.seed,
        "code": _code_digest(),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


@functools.lru_cache(maxsize=4)
def _trace_lengths(path: Path, mtime_ns: int):
    """Parsed once per process (a 19k-line trace takes most of a second); the mtime keys out stale copies."""
    from wafersim.serving.workload import Lengths as ServingLengths
    from wafersim.serving.workload import read_trace

    trace = read_trace(path)
    return (
        ServingLengths("empirical", values=tuple(trace.prompt_tokens.tolist())),
        ServingLengths("empirical", values=tuple(trace.output_tokens.tolist())),
    )


def serving_lengths(lengths: Lengths):
    from wafersim.serving.workload import Lengths as ServingLengths

    if lengths.trace is not None:
        path = trace_path(lengths.trace)
        try:
            mtime_ns = path.stat().st_mtime_ns
        except OSError as error:
            raise WafersimError(f"demand.lengths.trace {lengths.trace!r}: cannot read ({error})") from None
        return _trace_lengths(path, mtime_ns)
    out = []
    for spec in (lengths.prompt, lengths.output):
        assert spec is not None  # the scenario validator guarantees both
        if spec.kind == "fixed":
            out.append(ServingLengths("fixed", value=int(spec.value or 1)))
        else:
            out.append(
                ServingLengths(
                    "lognormal",
                    median=float(spec.median or 1),
                    sigma=float(spec.sigma or 0),
                    maximum=spec.maximum,
                )
            )
    return tuple(out)


def simulate_capacity(job: CapacityJob) -> ReplicaCapacity:
    """One capacity search (seconds). Unavailable pairs come back with the serving layer's reason."""
    from wafersim.serving.capacity import CapacitySearch, find_capacity, start_rate_rps
    from wafersim.serving.engine import SchedulerConfig
    from wafersim.serving.metrics import SLO
    from wafersim.serving.pricing import IterationPricer
    from wafersim.serving.replica import plan_deployment
    from wafersim.serving.simulator import ServeConfig, simulate
    from wafersim.serving.workload import synthetic

    prompt, output = serving_lengths(job.lengths)
    # Arrival times are drawn at 1 req/s and then time-scaled by the search: every probe replays a prefix of
    # the same requests.
    base = synthetic(np.random.default_rng(job.seed), 1.0, count=job.requests, prompt=prompt, output=output)
    mean_prompt, mean_output = float(np.mean(base.prompt_tokens)), float(np.mean(base.output_tokens))
    common = {
        "system": job.system.id,
        "model": job.model.id,
        "replica_accelerators": job.replica_accelerators,
    }
    try:
        # The layout is chosen within the TPOT target (as `wafersim capacity` does), not for a batch users
        # would not accept.
        deployment = plan_deployment(
            job.model, job.system, job.replica_accelerators, 1, mean_prompt, mean_output,
            max_tpot_s=job.slo.tpot_p90_s,
        )  # fmt: skip
    except WafersimError as error:
        return ReplicaCapacity(**common, available=False, reason=str(error))
    config = ServeConfig(scheduler=SchedulerConfig(), engines=deployment.engines)
    pricer = IterationPricer(deployment.replica)
    start_rps = start_rate_rps(pricer, deployment.engines, base.prompt_tokens, base.output_tokens)
    search = CapacitySearch(SLO(job.slo.ttft_p90_s, job.slo.tpot_p90_s), start_rps=start_rps)
    # A probe must span a few request lifetimes, or a fast deployment swallows the whole finite workload as one
    # burst within the SLO at any rate and the search never finds an upper bound. Rates whose span would need
    # more requests than the job allows are capped at that ceiling (reported as span_limited).
    lifetime_s = job.slo.ttft_p90_s + mean_output * job.slo.tpot_p90_s
    span_s = job.min_span_lifetimes * lifetime_s
    ceiling_rps = job.requests / span_s

    def workload_at(rate_rps: float):
        # At least 1,000 requests (or all there are) so that a slow replica's p90 rests on enough samples.
        count = int(min(job.requests, max(1000, np.ceil(rate_rps * span_s))))
        return base.head(count).at_rate(rate_rps)

    found = find_capacity(workload_at, lambda w: simulate(w, deployment.replica, config, pricer), search)
    limited = found.max_rate_rps > ceiling_rps
    layout = deployment.layout
    layout_text = f"tp{layout.tp}×pp{layout.pp}×ep{layout.ep}, {layout.dp} engine(s), {deployment.precision}"
    if found.summary is None:
        return ReplicaCapacity(
            **common,
            available=False,
            reason=f"no probed rate meets the SLO on {job.replica_accelerators} × {job.system.id} ({layout_text})",
            power_w=deployment.power_w,
            layout=layout_text,
            probes=len(found.probes),
        )
    return ReplicaCapacity(
        **common,
        available=True,
        max_rate_rps=min(found.max_rate_rps, ceiling_rps),
        # Tokens per request are fixed by the lengths, so tokens/s scale with the (possibly capped) rate.
        output_tokens_per_s=float(found.summary["output_tokens_per_s"])
        * min(1.0, ceiling_rps / found.max_rate_rps),
        span_limited=bool(limited),
        power_w=deployment.power_w,
        ttft_p90_s=found.summary["ttft_p90_s"],
        tpot_p90_s=found.summary["tpot_p90_s"],
        layout=layout_text,
        probes=len(found.probes),
    )


def _read(path: Path) -> ReplicaCapacity | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ReplicaCapacity(**(data | {"cached": True}))
    except (OSError, ValueError, TypeError):
        return None  # missing or damaged entries are recomputed


def _write(path: Path, result: ReplicaCapacity) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ignore = path.parent / ".gitignore"
    if not ignore.exists():  # a cache placed inside a checkout keeps itself out of git
        ignore.write_text("*\n", encoding="utf-8")
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        json.dump(asdict(result) | {"cached": False}, handle)
    os.replace(handle.name, path)  # atomic: a concurrent reader sees the old entry or the new, never half


def _collect(missing, fresh, results, keys, directory, use_cache, progress) -> None:
    """Store each fresh answer (and cache it) as it arrives."""
    for done, (index, result) in enumerate(zip(missing, fresh, strict=True), start=1):
        results[index] = result
        if use_cache:
            _write(directory / f"{keys[index]}.json", result)
        if progress is not None:
            progress(done, len(missing))


def capacities(
    jobs: list[CapacityJob],
    cache_dir: Path | None = None,
    use_cache: bool = True,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[ReplicaCapacity]:
    """Answers for every job, from the cache where possible; misses run in `workers` processes. `progress`
    (optional) is told (searches done, searches to run) as each finishes; raising from it cancels."""
    directory = cache_dir or default_cache_dir()
    keys = [cache_key(job) for job in jobs]
    results: list[ReplicaCapacity | None] = [
        _read(directory / f"{key}.json") if use_cache else None for key in keys
    ]
    missing = [i for i, result in enumerate(results) if result is None]
    if progress is not None:
        progress(0, len(missing))
    if workers > 1 and len(missing) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(missing))) as pool:
            fresh = pool.map(simulate_capacity, [jobs[i] for i in missing])
            _collect(missing, fresh, results, keys, directory, use_cache, progress)
    else:
        fresh = (simulate_capacity(jobs[i]) for i in missing)
        _collect(missing, fresh, results, keys, directory, use_cache, progress)
    return [r for r in results if r is not None]
