"""`wafersim serve` (replay a workload against a deployment) and `wafersim capacity` (highest rate within SLOs)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import click
import numpy as np

from wafersim.bounds import Bounds, Count, check, check_simulation_size
from wafersim.catalog import PRECISIONS, load_catalog
from wafersim.errors import WafersimError

BUILTIN_TRACES = {"azure-conv": "azure-llm-2023-conv.csv", "azure-code": "azure-llm-2023-code.csv"}


def _trace_path(trace: str) -> Path:
    if trace in BUILTIN_TRACES:
        return Path(str(resources.files("wafersim.serving") / "data" / BUILTIN_TRACES[trace]))
    return Path(trace)


def _default_lengths():
    from wafersim.serving.workload import Lengths, read_azure_csv

    conv = read_azure_csv(_trace_path("azure-conv"))
    return (
        Lengths("empirical", values=tuple(conv.prompt_tokens.tolist())),
        Lengths("empirical", values=tuple(conv.output_tokens.tolist())),
    )


def _lengths(input_len: int | None, output_len: int | None):
    from wafersim.serving.workload import Lengths

    if (input_len is None) != (output_len is None):
        raise WafersimError("give both --input-len and --output-len, or neither (conv-trace lengths)")
    if input_len is None:
        return _default_lengths()
    return Lengths("fixed", value=input_len), Lengths("fixed", value=output_len)


def _common(function):
    options = [
        click.option("--model", required=True, help="model id or a config.json / TOML path"),
        click.option("--system", required=True, help="system id"),
        click.option("--count", type=int, required=True, help="accelerators in ONE replica"),
        click.option(
            "--replicas", type=int, default=1, show_default=True, help="identical replicas behind the router"
        ),
        click.option("--tp", type=int, default=None),
        click.option("--pp", type=int, default=None),
        click.option("--ep", type=int, default=None),
        click.option("--precision", type=click.Choice(PRECISIONS), default=None),
        click.option(
            "--scheduler", type=click.Choice(["vllm", "sarathi", "static"]), default="vllm", show_default=True
        ),
        click.option(
            "--router",
            type=click.Choice(["round-robin", "least-outstanding", "least-kv"]),
            default="least-outstanding",
            show_default=True,
        ),
        click.option(
            "--max-batch", type=int, default=2048, show_default=True, help="sequences in flight per engine"
        ),
        click.option(
            "--chunk-tokens", type=int, default=2048, show_default=True, help="sarathi token budget per step"
        ),
        click.option(
            "--requests", "max_requests", type=int, default=None, help="use only the first N requests"
        ),
        click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True),
        click.option(
            "--prefill-replicas", type=int, default=None, help="disaggregate: replicas that only prefill"
        ),
        click.option(
            "--prefill-system", default=None, help="system of the prefill replicas (default: --system)"
        ),
        click.option(
            "--prefill-count",
            type=int,
            default=None,
            help="accelerators per prefill replica (default: --count)",
        ),
        click.option("--json", "as_json", is_flag=True),
        click.option(
            "--allow-large",
            is_flag=True,
            help="simulate more than 1,000,000 requests (refused otherwise, with an estimate of time and memory)",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _setup(
    model,
    system,
    count,
    replicas,
    tp,
    pp,
    ep,
    precision,
    scheduler,
    router,
    max_batch,
    chunk_tokens,
    workload,
    max_tpot_s=None,
):
    from wafersim.serving.engine import SchedulerConfig
    from wafersim.serving.replica import plan_deployment
    from wafersim.serving.simulator import ServeConfig

    catalog = load_catalog()
    model_spec, system_spec = catalog.model(model), catalog.system(system)
    deployment = plan_deployment(
        model_spec,
        system_spec,
        count,
        replicas,
        float(np.mean(workload.prompt_tokens)),
        float(np.mean(workload.output_tokens)),
        tp,
        pp,
        ep,
        precision,
        max_batch,
        max_tpot_s,
    )
    config = ServeConfig(
        scheduler=SchedulerConfig(policy=scheduler, max_batch=max_batch, chunk_tokens=chunk_tokens),
        engines=deployment.engines,
        router=router,
    )
    return model_spec, system_spec, deployment, config


def _deployment_fields(
    model_spec, system_spec, count, replicas, deployment, prefill_fields=None
) -> dict[str, Any]:
    layout = deployment.layout
    fields = {
        "model": model_spec.id,
        "system": system_spec.id,
        "count": count,
        "replicas": replicas,
        "tp": layout.tp,
        "pp": layout.pp,
        "ep": layout.ep,
        "engines_per_replica": layout.dp,
        "engines": deployment.engines,
        "precision": deployment.precision,
        "accelerators": deployment.accelerators,
        "power_w": deployment.power_w,
    }
    if prefill_fields:  # disaggregated: both pools count
        fields.update(prefill_fields)
        fields["accelerators"] += prefill_fields["prefill_accelerators"]
        fields["power_w"] += prefill_fields["prefill_power_w"]
    return fields


def _print(summary: dict[str, Any], as_json: bool, title: str, keys: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False)
    for key in keys:
        value = summary.get(key)
        if value is None:
            continue
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    if "rejected" in summary:
        for code, info in summary["rejected"]["reasons"].items():
            table.add_row(f"rejected: {code}", f"{info['count']} (e.g. {info['example']})")
    Console().print(table)


def _window(text: str | None) -> tuple[float, float]:
    if text is None:
        return (0.0, float("inf"))
    try:
        start, end = (float(part) for part in text.split(":"))
    except ValueError:
        raise WafersimError(f"--trace-window {text!r}: expected START:END in seconds, e.g. 0:60") from None
    if not 0 <= start < end:
        raise WafersimError(f"--trace-window {text!r}: need 0 ≤ START < END")
    return start, end


def _maybe_prefill_pool(
    model_spec,
    system_spec,
    deployment,
    config,
    workload,
    count,
    precision,
    replicas,
    system_id,
    prefill_count,
):
    """(PrefillPool, its report fields, config) when any --prefill-* option is given, else (None, {}, config)."""
    if replicas is None and system_id is None and prefill_count is None:
        return None, {}, config
    replicas = 1 if replicas is None else replicas
    prefill_count = count if prefill_count is None else prefill_count
    check(_PrefillBounds, {"prefill_replicas": replicas, "prefill_count": prefill_count})
    return _prefill_pool(
        model_spec, system_spec, deployment, config, workload, replicas, system_id or system_spec.id,
        prefill_count, precision,
    )  # fmt: skip


class _PrefillBounds(Bounds):
    prefill_replicas: Count
    prefill_count: Count


def _prefill_pool(model_spec, decode_system, decode, config, workload, replicas, system_id, count, precision):
    """Disaggregation: prefill replicas (possibly another system type) in front of the decode replicas."""
    from dataclasses import replace

    from wafersim.serving.replica import kv_transfer_time, plan_deployment
    from wafersim.serving.simulator import PrefillPool

    if config.scheduler.policy != "vllm":
        raise WafersimError("prefill/decode disaggregation runs vLLM-style engines: use --scheduler vllm")
    prefill_system = load_catalog().system(system_id)
    prefill = plan_deployment(
        model_spec, prefill_system, count, replicas, float(np.mean(workload.prompt_tokens)),
        float(np.mean(workload.output_tokens)), precision=decode.precision, max_batch=config.scheduler.max_batch,
    )  # fmt: skip
    transfer = kv_transfer_time(prefill, decode, prefill_system, decode_system)
    fields = {
        "prefill_system": prefill_system.id,
        "prefill_count": count,
        "prefill_replicas": replicas,
        "prefill_tp": prefill.layout.tp,
        "prefill_pp": prefill.layout.pp,
        "prefill_engines": prefill.engines,
        "prefill_accelerators": prefill.accelerators,
        "prefill_power_w": prefill.power_w,
        "kv_transfer_s_at_mean_prompt": float(transfer(float(np.mean(workload.prompt_tokens)))),
    }
    return PrefillPool(prefill.replica, transfer), fields, replace(config, prefill_engines=prefill.engines)


@click.command()
@_common
@click.option("--trace", default=None, help="Azure CSV or JSONL path, or azure-conv / azure-code (shipped)")
@click.option("--rate", type=float, default=None, help="synthetic arrivals, requests/s")
@click.option("--duration", type=float, default=None, help="synthetic workload length, s")
@click.option("--input-len", type=int, default=None, help="fixed prompt length (default: conv-trace lengths)")
@click.option(
    "--output-len", type=int, default=None, help="fixed output length (default: conv-trace lengths)"
)
@click.option("--arrival", type=click.Choice(["poisson", "gamma"]), default="poisson", show_default=True)
@click.option(
    "--cv", type=float, default=1.0, show_default=True, help="gamma arrivals: coefficient of variation"
)
@click.option("--rate-scale", type=float, default=None, help="replay X times faster")
@click.option(
    "--trace-rate", type=float, default=None, help="replay the trace time-scaled to this mean rate, req/s"
)
@click.option("--slo-ttft", type=float, default=None, help="for goodput, s")
@click.option("--slo-tpot", type=float, default=None, help="for goodput, s")
@click.option(
    "--requests-out", type=click.Path(dir_okay=False), default=None, help="per-request CSV (.parquet)"
)
@click.option(
    "--series-out",
    type=click.Path(dir_okay=False),
    default=None,
    help="KV use and queue length over time (CSV)",
)
@click.option("--chrome-trace", type=click.Path(dir_okay=False), default=None, help="Chrome trace JSON")
@click.option("--trace-window", default=None, help="START:END seconds of the Chrome trace")
@click.option("--exact-pricing", is_flag=True, help="price multi-prompt prefills exactly, not from the table")
def serve(
    model, system, count, replicas, tp, pp, ep, precision, scheduler, router, max_batch, chunk_tokens,
    max_requests, seed, prefill_replicas, prefill_system, prefill_count, as_json, allow_large, trace, rate,
    duration, input_len, output_len, arrival, cv, rate_scale, trace_rate, slo_ttft, slo_tpot, requests_out,
    series_out, chrome_trace, trace_window, exact_pricing,
):  # fmt: skip
    """Replay a trace (or synthetic arrivals) against a deployment; report latency percentiles and throughput."""
    from dataclasses import replace

    from wafersim.serving.metrics import SLO, summarize, write_chrome_trace, write_requests, write_series
    from wafersim.serving.simulator import simulate
    from wafersim.serving.workload import read_trace, synthetic

    rng = np.random.default_rng(seed)
    slo = SLO(slo_ttft, slo_tpot)  # checked before any work
    if (trace is None) == (rate is None):
        raise WafersimError("give either --trace PATH or --rate QPS --duration S")
    if trace is not None:
        if duration is not None or input_len is not None or output_len is not None:
            raise WafersimError("--duration, --input-len and --output-len go with --rate, not --trace")
        workload = read_trace(_trace_path(trace))
    else:
        if duration is None:
            raise WafersimError("--rate needs --duration S")
        prompt, output = _lengths(input_len, output_len)
        workload = synthetic(
            rng, rate, duration_s=duration, prompt=prompt, output=output, arrival=arrival, cv=cv,
            allow_large=allow_large,
        )  # fmt: skip
    if max_requests is not None:
        if max_requests < 1:
            raise WafersimError(f"--requests must be ≥ 1, got {max_requests}")
        workload = workload.head(max_requests)
    if trace_rate is not None:
        if trace is None:
            raise WafersimError("--trace-rate scales a --trace; a synthetic workload takes --rate")
        workload = workload.at_rate(trace_rate)
    if rate_scale is not None:
        workload = workload.rate_scaled(rate_scale)
    window = _window(trace_window)
    model_spec, system_spec, deployment, config = _setup(
        model,
        system,
        count,
        replicas,
        tp,
        pp,
        ep,
        precision,
        scheduler,
        router,
        max_batch,
        chunk_tokens,
        workload,
        slo_tpot,
    )
    config = replace(config, record_segments=chrome_trace is not None)
    prefill, prefill_fields, config = _maybe_prefill_pool(
        model_spec, system_spec, deployment, config, workload, count, precision,
        prefill_replicas, prefill_system, prefill_count,
    )  # fmt: skip
    from wafersim.serving.pricing import IterationPricer

    pricer = IterationPricer(deployment.replica, exact_prefill=exact_pricing)
    from wafersim.cli.common import ProgressBar

    with ProgressBar("serving", enabled=not as_json) as progress:
        result = simulate(
            workload,
            deployment.replica,
            config,
            pricer,
            prefill=prefill,
            allow_large=allow_large,
            progress=progress,
        )
    summary = _deployment_fields(model_spec, system_spec, count, replicas, deployment, prefill_fields)
    summary["seed"] = seed
    summary.update(summarize(result, slo))
    summary["requests_per_s_per_mw"] = summary["requests_per_s"] / (summary["power_w"] / 1e6)
    if requests_out:
        write_requests(result, Path(requests_out))
    if series_out:
        summary["series_rows"] = write_series(result, Path(series_out))
    if chrome_trace:
        summary["chrome_trace_events"] = write_chrome_trace(result, Path(chrome_trace), *window)
    keys = ["model", "system", "accelerators", "engines", "tp", "pp", "requests", "completed", "ttft_p50_s",
            "ttft_p90_s", "ttft_p99_s", "tpot_p50_s", "tpot_p90_s", "tpot_p99_s", "e2e_p50_s",
            "output_tokens_per_s", "goodput_rps", "kv_use_mean", "queue_len_mean", "preemptions", "sim_wall_s"]  # fmt: skip
    _print(summary, as_json, f"serve {model_spec.id} on {system_spec.id}", keys)


@click.command()
@_common
@click.option(
    "--trace", default=None, help="Azure CSV or JSONL path, or azure-conv / azure-code; default synthetic"
)
@click.option("--input-len", type=int, default=None, help="synthetic: fixed prompt length")
@click.option("--output-len", type=int, default=None, help="synthetic: fixed output length")
@click.option("--synthetic-requests", type=int, default=2000, show_default=True)
@click.option("--slo-ttft", type=float, required=True, help="p90 TTFT target, s")
@click.option("--slo-tpot", type=float, required=True, help="p90 TPOT target, s")
@click.option(
    "--tolerance", type=float, default=0.02, show_default=True, help="relative width of the final bracket"
)
def capacity(
    model, system, count, replicas, tp, pp, ep, precision, scheduler, router, max_batch, chunk_tokens,
    max_requests, seed, prefill_replicas, prefill_system, prefill_count, as_json, allow_large, trace, input_len,
    output_len, synthetic_requests, slo_ttft, slo_tpot, tolerance,
):  # fmt: skip
    """Highest request rate within p90 TTFT and p90 TPOT targets, found by bracketing and bisection."""
    from wafersim.serving.capacity import CapacitySearch, find_capacity
    from wafersim.serving.metrics import SLO
    from wafersim.serving.simulator import simulate
    from wafersim.serving.workload import read_trace, synthetic

    slo = SLO(slo_ttft, slo_tpot)  # checked before any work
    if trace is not None:
        if input_len is not None or output_len is not None:
            raise WafersimError("--input-len and --output-len go with a synthetic workload, not --trace")
        base = read_trace(_trace_path(trace))
    else:
        if synthetic_requests < 2:
            raise WafersimError(f"--synthetic-requests must be ≥ 2, got {synthetic_requests}")
        check_simulation_size(synthetic_requests, allow_large, "synthetic_requests")
        prompt, output = _lengths(input_len, output_len)
        base = synthetic(
            np.random.default_rng(seed), 1.0, count=synthetic_requests, prompt=prompt, output=output,
            allow_large=allow_large,
        )  # fmt: skip
    if max_requests is not None:
        if max_requests < 2:
            raise WafersimError(f"--requests must be ≥ 2 for a rate, got {max_requests}")
        base = base.head(max_requests)
    if base.rate_rps == 0:
        raise WafersimError(
            f"{base.source}: all requests arrive at once; a capacity search needs arrival times"
        )
    if not 0 < tolerance < 1:
        raise WafersimError(f"--tolerance must be in (0, 1), got {tolerance}")
    model_spec, system_spec, deployment, config = _setup(
        model,
        system,
        count,
        replicas,
        tp,
        pp,
        ep,
        precision,
        scheduler,
        router,
        max_batch,
        chunk_tokens,
        base,
        slo_tpot,
    )
    # Start from what the engines could sustain if every step ran at its best throughput (then bracket).
    from wafersim.serving.pricing import IterationPricer

    pricer = IterationPricer(deployment.replica)
    mean_out = float(np.mean(base.output_tokens))
    guess = deployment.engines * 32 / float(pricer.decode_run_s(32, float(np.mean(base.prompt_tokens)), 1)[0])
    search = CapacitySearch(slo, start_rps=guess / mean_out, relative_tolerance=tolerance)
    prefill, prefill_fields, config = _maybe_prefill_pool(
        model_spec, system_spec, deployment, config, base, count, precision,
        prefill_replicas, prefill_system, prefill_count,
    )  # fmt: skip
    from wafersim.cli.common import ProgressBar

    with ProgressBar("capacity search", enabled=not as_json) as progress:
        found = find_capacity(
            base.at_rate,
            lambda w: simulate(
                w, deployment.replica, config, pricer, prefill=prefill, allow_large=allow_large
            ),
            search,
            progress,
        )
    summary = _deployment_fields(model_spec, system_spec, count, replicas, deployment, prefill_fields)
    summary.update(
        {
            "seed": seed,
            "workload": base.source,
            "requests": len(base),
            "slo_ttft_s": slo_ttft,
            "slo_tpot_s": slo_tpot,
        }
    )
    summary["max_rate_rps"] = found.max_rate_rps
    run = found.summary or {}
    for key in (
        "output_tokens_per_s",
        "ttft_p50_s",
        "ttft_p90_s",
        "tpot_p50_s",
        "tpot_p90_s",
        "e2e_p50_s",
        "completed",
    ):
        summary[key] = run.get(key)
    summary["requests_per_s_per_mw"] = found.max_rate_rps / (summary["power_w"] / 1e6)
    if "rejected" in run:  # too long for the model or an engine at any rate: left out of the percentiles
        summary["rejected"] = run["rejected"]
    summary["probes"] = found.probes
    if found.summary is None:
        summary["note"] = "no probed rate met the SLOs (even a nearly idle deployment misses them)"
    elif not found.bracketed:
        summary["note"] = (
            f"every probed rate met the SLOs: max_rate_rps is a lower bound ({len(found.probes)} probes); "
            "with this few requests even a burst of all of them at once stays within the SLOs"
        )
    keys = ["model", "system", "accelerators", "engines", "tp", "pp", "max_rate_rps", "output_tokens_per_s",
            "ttft_p90_s", "tpot_p90_s", "power_w", "requests_per_s_per_mw", "note"]  # fmt: skip
    _print(summary, as_json, f"capacity of {model_spec.id} on {system_spec.id}", keys)
