"""The serving layer's public entry points: `serve` (replay a workload) and `capacity` (highest rate in SLOs).

Both take catalog ids or spec objects and keyword arguments, and return frozen results whose `to_dict()` is
what `wafersim serve --json` / `wafersim capacity --json` print. Errors name the keyword at fault (`field`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from wafersim.catalog import Catalog, ModelSpec, Precision, SystemSpec, load_catalog
from wafersim.errors import WafersimError
from wafersim.serving.capacity import CapacitySearch, find_capacity, start_rate_rps
from wafersim.serving.engine import SchedulerConfig
from wafersim.serving.metrics import SLO, summarize
from wafersim.serving.pricing import IterationPricer
from wafersim.serving.replica import Deployment, kv_transfer_time, plan_deployment
from wafersim.serving.simulator import PrefillPool, ServeConfig, SimResult, simulate
from wafersim.serving.workload import Lengths, Workload, read_azure_csv, read_trace, synthetic, trace_path


@dataclass(frozen=True)
class DeploymentSummary:
    """What was deployed: `replicas` × `count` accelerators of `system` (and a prefill pool when disaggregated)."""

    model: str
    system: str
    count: int
    replicas: int
    tp: int
    pp: int
    ep: int
    engines_per_replica: int
    engines: int
    precision: str
    accelerators: int  # both pools
    power_w: float  # both pools
    prefill: MappingProxyType | None = None  # prefill_* figures when disaggregated

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "prefill"}
        if self.prefill:
            data.update(self.prefill)
        return data


@dataclass(frozen=True)
class ServeResult:
    """One replay: the deployment, the seed, and the run's figures (`metrics`, read-only, as the CLI's JSON)."""

    deployment: DeploymentSummary
    seed: int
    metrics: MappingProxyType  # serving.metrics.summarize: percentiles, throughput, goodput, series summaries
    requests_per_s_per_mw: float
    sim: SimResult = field(repr=False, compare=False)  # per-request arrays and series, for report writers

    @property
    def ttft_p90_s(self) -> float | None:
        return self.metrics["ttft_p90_s"]

    @property
    def tpot_p90_s(self) -> float | None:
        return self.metrics["tpot_p90_s"]

    @property
    def output_tokens_per_s(self) -> float:
        return self.metrics["output_tokens_per_s"]

    @property
    def completed(self) -> int:
        return self.metrics["completed"]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.deployment.to_dict(),
            "seed": self.seed,
            **_plain(self.metrics),
            "requests_per_s_per_mw": self.requests_per_s_per_mw,
        }


@dataclass(frozen=True)
class ServeCapacity:
    """The highest request rate whose p90 TTFT and p90 TPOT meet the targets, and the run at that rate."""

    deployment: DeploymentSummary
    seed: int
    workload: str
    requests: int
    slo_ttft_s: float
    slo_tpot_s: float
    max_rate_rps: float
    at_max: MappingProxyType | None  # summarize() of the run at max_rate_rps; None when no rate met the SLOs
    probes: tuple[MappingProxyType, ...]
    bracketed: bool  # False: every probed rate met the SLOs (max_rate_rps is a lower bound)

    @property
    def requests_per_s_per_mw(self) -> float:
        return self.max_rate_rps / (self.deployment.power_w / 1e6)

    @property
    def note(self) -> str | None:
        if self.at_max is None:
            return "no probed rate met the SLOs (even a nearly idle deployment misses them)"
        if not self.bracketed:
            return (
                f"every probed rate met the SLOs: max_rate_rps is a lower bound ({len(self.probes)} probes); "
                "with this few requests even a burst of all of them at once stays within the SLOs"
            )
        return None

    def to_dict(self) -> dict[str, Any]:
        run = self.at_max or {}
        data = {
            **self.deployment.to_dict(),
            "seed": self.seed,
            "workload": self.workload,
            "requests": self.requests,
            "slo_ttft_s": self.slo_ttft_s,
            "slo_tpot_s": self.slo_tpot_s,
            "max_rate_rps": self.max_rate_rps,
        }
        for key in ("output_tokens_per_s", "ttft_p50_s", "ttft_p90_s", "tpot_p50_s", "tpot_p90_s", "e2e_p50_s",
                    "completed"):  # fmt: skip
            data[key] = run.get(key)
        data["requests_per_s_per_mw"] = self.requests_per_s_per_mw
        if "rejected" in run:  # too long for the model or an engine at any rate: left out of the percentiles
            data["rejected"] = _plain(run["rejected"])
        data["probes"] = [dict(p) for p in self.probes]
        if self.note is not None:
            data["note"] = self.note
        return data


def _plain(value: Any) -> Any:
    """Read-only mappings back to plain dicts (JSON-ready)."""
    if isinstance(value, MappingProxyType | dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    return value


def resolve_specs(
    model: str | ModelSpec, system: str | SystemSpec, catalog: Catalog | None = None
) -> tuple[ModelSpec, SystemSpec]:
    """Catalog ids (or config.json / TOML paths) to specs; spec objects pass through."""
    if isinstance(model, ModelSpec) and isinstance(system, SystemSpec):
        return model, system
    catalog = catalog or load_catalog()
    model_spec = model if isinstance(model, ModelSpec) else catalog.model(model)
    system_spec = system if isinstance(system, SystemSpec) else catalog.system(system)
    return model_spec, system_spec


def conv_lengths() -> tuple[Lengths, Lengths]:
    """The Azure conversation trace's prompt and output lengths, resampled (the default synthetic lengths)."""
    conv = read_azure_csv(trace_path("azure-conv"))
    return (
        Lengths("empirical", values=tuple(conv.prompt_tokens.tolist())),
        Lengths("empirical", values=tuple(conv.output_tokens.tolist())),
    )


def synthetic_lengths(input_len: int | None, output_len: int | None) -> tuple[Lengths, Lengths]:
    """Fixed lengths when both are given, the conv trace's when neither is."""
    if (input_len is None) != (output_len is None):
        raise WafersimError(
            "give both input_len and output_len, or neither (conv-trace lengths)",
            field="input_len" if input_len is None else "output_len",
        )
    if input_len is None or output_len is None:
        return conv_lengths()
    return Lengths("fixed", value=input_len), Lengths("fixed", value=output_len)


@dataclass(frozen=True)
class _Options:
    """The deployment and scheduling choices `serve` and `capacity` share."""

    replicas: int = 1
    tp: int | None = None
    pp: int | None = None
    ep: int | None = None
    precision: Precision | None = None
    scheduler: str = "vllm"
    router: str = "least-outstanding"
    max_batch: int = 2048
    chunk_tokens: int = 2048
    prefill_replicas: int | None = None
    prefill_system: str | SystemSpec | None = None
    prefill_count: int | None = None


def _deploy(model_spec, system_spec, count, options: _Options, workload: Workload, max_tpot_s, catalog):
    mean_prompt = float(np.mean(workload.prompt_tokens))
    mean_output = float(np.mean(workload.output_tokens))
    deployment = plan_deployment(
        model_spec, system_spec, count, options.replicas, mean_prompt, mean_output, options.tp, options.pp,
        options.ep, options.precision, options.max_batch, max_tpot_s,
    )  # fmt: skip
    config = ServeConfig(
        scheduler=SchedulerConfig(
            policy=options.scheduler, max_batch=options.max_batch, chunk_tokens=options.chunk_tokens
        ),  # type: ignore[arg-type]
        engines=deployment.engines,
        router=options.router,  # type: ignore[arg-type]
    )
    prefill, prefill_fields = None, None
    if (options.prefill_replicas, options.prefill_system, options.prefill_count) != (None, None, None):
        prefill, prefill_fields, config = _prefill_pool(
            model_spec, system_spec, count, deployment, config, workload, options, catalog
        )
    summary = _summary(model_spec, system_spec, count, options.replicas, deployment, prefill_fields)
    return deployment, config, prefill, summary


def _prefill_pool(model_spec, decode_system, count, decode: Deployment, config, workload, options, catalog):
    """Disaggregation: prefill replicas (possibly another system type) in front of the decode replicas."""
    if config.scheduler.policy != "vllm":
        raise WafersimError(
            "prefill/decode disaggregation runs vLLM-style engines: use scheduler 'vllm'", field="scheduler"
        )
    replicas = options.prefill_replicas or 1
    prefill_count = options.prefill_count or count
    system = options.prefill_system or decode_system
    prefill_system = system if isinstance(system, SystemSpec) else (catalog or load_catalog()).system(system)
    mean_prompt = float(np.mean(workload.prompt_tokens))
    prefill = plan_deployment(
        model_spec, prefill_system, prefill_count, replicas, mean_prompt, float(np.mean(workload.output_tokens)),
        precision=decode.precision, max_batch=config.scheduler.max_batch,
    )  # fmt: skip
    transfer = kv_transfer_time(prefill, decode, prefill_system, decode_system)
    fields = {
        "prefill_system": prefill_system.id,
        "prefill_count": prefill_count,
        "prefill_replicas": replicas,
        "prefill_tp": prefill.layout.tp,
        "prefill_pp": prefill.layout.pp,
        "prefill_engines": prefill.engines,
        "prefill_accelerators": prefill.accelerators,
        "prefill_power_w": prefill.power_w,
        "kv_transfer_s_at_mean_prompt": float(transfer(mean_prompt)),
    }
    return PrefillPool(prefill.replica, transfer), fields, replace(config, prefill_engines=prefill.engines)


def _summary(model_spec, system_spec, count, replicas, deployment: Deployment, prefill_fields):
    layout = deployment.layout
    accelerators, power_w = deployment.accelerators, deployment.power_w
    if prefill_fields:  # disaggregated: both pools count
        accelerators += prefill_fields["prefill_accelerators"]
        power_w += prefill_fields["prefill_power_w"]
    return DeploymentSummary(
        model=model_spec.id, system=system_spec.id, count=count, replicas=replicas, tp=layout.tp, pp=layout.pp,
        ep=layout.ep, engines_per_replica=layout.dp, engines=deployment.engines, precision=deployment.precision,
        accelerators=accelerators, power_w=power_w,
        prefill=MappingProxyType(prefill_fields) if prefill_fields else None,
    )  # fmt: skip


def _serve_workload(rng, trace, workload, rate_rps, duration_s, input_len, output_len, arrival, cv):
    if workload is not None:
        if trace is not None or rate_rps is not None:
            raise WafersimError("give a workload, a trace or a rate, not several", field="workload")
        return workload
    if (trace is None) == (rate_rps is None):
        raise WafersimError("give either trace (a path or shipped name) or rate_rps and duration_s", field="trace")
    if trace is not None:
        if duration_s is not None or input_len is not None or output_len is not None:
            raise WafersimError(
                "duration_s, input_len and output_len go with rate_rps, not trace",
                field="duration_s" if duration_s is not None else "input_len" if input_len is not None
                else "output_len",
            )  # fmt: skip
        return read_trace(trace_path(trace))
    if duration_s is None:
        raise WafersimError("rate_rps needs duration_s", field="duration_s")
    prompt, output = synthetic_lengths(input_len, output_len)
    return synthetic(rng, rate_rps, duration_s=duration_s, prompt=prompt, output=output, arrival=arrival, cv=cv)


def serve(
    model: str | ModelSpec,
    system: str | SystemSpec,
    count: int,
    *,
    trace: str | None = None,
    rate_rps: float | None = None,
    duration_s: float | None = None,
    workload: Workload | None = None,
    input_len: int | None = None,
    output_len: int | None = None,
    arrival: str = "poisson",
    cv: float = 1.0,
    requests: int | None = None,
    rate_scale: float | None = None,
    trace_rate_rps: float | None = None,
    slo_ttft_s: float | None = None,
    slo_tpot_s: float | None = None,
    seed: int = 0,
    exact_pricing: bool = False,
    record_segments: bool = False,
    catalog: Catalog | None = None,
    **deployment: Any,
) -> ServeResult:
    """Replay a trace (a path, or azure-conv / azure-code), synthetic arrivals (`rate_rps`, `duration_s`) or a
    `Workload` against `count` accelerators of `system` per replica.

    Deployment keywords: replicas, tp, pp, ep, precision, scheduler (vllm|sarathi|static), router, max_batch,
    chunk_tokens, prefill_replicas, prefill_system, prefill_count (any prefill_* disaggregates).
    `record_segments` keeps every engine segment (for a Chrome trace).
    """
    options = _options(deployment)
    rng = np.random.default_rng(seed)
    base = _serve_workload(rng, trace, workload, rate_rps, duration_s, input_len, output_len, arrival, cv)
    if requests is not None:
        if requests < 1:
            raise WafersimError(f"requests must be ≥ 1, got {requests}", field="requests")
        base = base.head(requests)
    if trace_rate_rps is not None:
        if trace is None:
            raise WafersimError(
                "trace_rate_rps scales a trace; a synthetic workload takes rate_rps", field="trace_rate_rps"
            )
        base = base.at_rate(trace_rate_rps)
    if rate_scale is not None:
        base = base.rate_scaled(rate_scale)
    model_spec, system_spec = resolve_specs(model, system, catalog)
    deployed, config, prefill, summary = _deploy(
        model_spec, system_spec, count, options, base, slo_tpot_s, catalog
    )
    config = replace(config, record_segments=record_segments)
    pricer = IterationPricer(deployed.replica, exact_prefill=exact_pricing)
    result = simulate(base, deployed.replica, config, pricer, prefill=prefill)
    metrics = summarize(result, SLO(slo_ttft_s, slo_tpot_s))
    return ServeResult(
        deployment=summary,
        seed=seed,
        metrics=_frozen(metrics),
        requests_per_s_per_mw=metrics["requests_per_s"] / (summary.power_w / 1e6),
        sim=result,
    )


def _options(given: dict[str, Any]) -> _Options:
    unknown = sorted(set(given) - set(_Options.__dataclass_fields__))
    if unknown:
        raise WafersimError(
            f"unknown keyword {unknown[0]!r}; deployment keywords are {', '.join(_Options.__dataclass_fields__)}",
            field=unknown[0],
        )
    return _Options(**given)


def capacity(
    model: str | ModelSpec,
    system: str | SystemSpec,
    count: int,
    *,
    slo_ttft_s: float,
    slo_tpot_s: float,
    trace: str | None = None,
    input_len: int | None = None,
    output_len: int | None = None,
    synthetic_requests: int = 2000,
    requests: int | None = None,
    tolerance: float = 0.02,
    seed: int = 0,
    catalog: Catalog | None = None,
    on_probe: Callable[[dict[str, Any]], None] | None = None,
    **deployment: Any,
) -> ServeCapacity:
    """The highest request rate whose p90 TTFT and p90 TPOT stay within the targets (bracketing, bisection).

    The workload is a trace (time-scaled per probe) or `synthetic_requests` Poisson arrivals with fixed lengths
    (`input_len`, `output_len`) or the conv trace's. Deployment keywords as for `serve`. `on_probe` sees each
    probe (rate_rps, meets, ttft_p90_s, tpot_p90_s) as it finishes: progress for a long search; an exception
    raised there cancels it.
    """
    options = _options(deployment)
    if trace is not None:
        if input_len is not None or output_len is not None:
            raise WafersimError(
                "input_len and output_len go with a synthetic workload, not trace",
                field="input_len" if input_len is not None else "output_len",
            )
        base = read_trace(trace_path(trace))
    else:
        if synthetic_requests < 2:
            raise WafersimError(
                f"synthetic_requests must be ≥ 2, got {synthetic_requests}", field="synthetic_requests"
            )
        prompt, output = synthetic_lengths(input_len, output_len)
        base = synthetic(np.random.default_rng(seed), 1.0, count=synthetic_requests, prompt=prompt, output=output)
    if requests is not None:
        if requests < 2:
            raise WafersimError(f"requests must be ≥ 2 for a rate, got {requests}", field="requests")
        base = base.head(requests)
    if base.rate_rps == 0:
        raise WafersimError(f"{base.source}: all requests arrive at once; a capacity search needs arrival times")
    if not 0 < tolerance < 1:
        raise WafersimError(f"tolerance must be in (0, 1), got {tolerance}", field="tolerance")
    model_spec, system_spec = resolve_specs(model, system, catalog)
    deployed, config, prefill, summary = _deploy(
        model_spec, system_spec, count, options, base, slo_tpot_s, catalog
    )
    pricer = IterationPricer(deployed.replica)
    start = start_rate_rps(pricer, deployed.engines, base.prompt_tokens, base.output_tokens)
    search = CapacitySearch(SLO(slo_ttft_s, slo_tpot_s), start_rps=start, relative_tolerance=tolerance)
    found = find_capacity(
        base.at_rate, lambda w: simulate(w, deployed.replica, config, pricer, prefill=prefill), search, on_probe
    )
    return ServeCapacity(
        deployment=summary,
        seed=seed,
        workload=base.source,
        requests=len(base),
        slo_ttft_s=slo_ttft_s,
        slo_tpot_s=slo_tpot_s,
        max_rate_rps=found.max_rate_rps,
        at_max=_frozen(found.summary) if found.summary is not None else None,
        probes=tuple(_frozen(p) for p in found.probes),
        bracketed=found.bracketed,
    )
