"""`wafersim serve` (replay a workload against a deployment) and `wafersim capacity` (highest rate within SLOs).

A thin face over `wafersim.serving.api`: the options map one to one onto its keywords.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from wafersim.catalog import PRECISIONS
from wafersim.errors import WafersimError
from wafersim.serving.engine import SCHEDULERS
from wafersim.serving.simulator import ROUTERS


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
            "--scheduler", type=click.Choice(list(SCHEDULERS)), default="vllm", show_default=True
        ),
        click.option(
            "--router",
            type=click.Choice(list(ROUTERS)),
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
        click.option("--seed", type=int, default=0, show_default=True),
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
    ]
    for option in reversed(options):
        function = option(function)
    return function


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
    """--trace-window START:END (seconds) of the Chrome trace."""
    if text is None:
        return (0.0, float("inf"))
    try:
        start, end = (float(part) for part in text.split(":"))
    except ValueError:
        raise WafersimError(f"--trace-window {text!r}: expected START:END in seconds, e.g. 0:60") from None
    if not 0 <= start < end:
        raise WafersimError(f"--trace-window {text!r}: need 0 ≤ START < END")
    return start, end


def _deployment(replicas, tp, pp, ep, precision, scheduler, router, max_batch, chunk_tokens, prefill_replicas,
                prefill_system, prefill_count) -> dict[str, Any]:  # fmt: skip
    return {
        "replicas": replicas, "tp": tp, "pp": pp, "ep": ep, "precision": precision, "scheduler": scheduler,
        "router": router, "max_batch": max_batch, "chunk_tokens": chunk_tokens,
        "prefill_replicas": prefill_replicas, "prefill_system": prefill_system, "prefill_count": prefill_count,
    }  # fmt: skip


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
    max_requests, seed, prefill_replicas, prefill_system, prefill_count, as_json, trace, rate, duration,
    input_len, output_len, arrival, cv, rate_scale, trace_rate, slo_ttft, slo_tpot, requests_out, series_out,
    chrome_trace, trace_window, exact_pricing,
):  # fmt: skip
    """Replay a trace (or synthetic arrivals) against a deployment; report latency percentiles and throughput."""
    from wafersim.report.serving_files import write_chrome_trace, write_requests, write_series
    from wafersim.serving.api import serve as run_serve

    window = _window(trace_window)
    result = run_serve(
        model, system, count, trace=trace, rate_rps=rate, duration_s=duration, input_len=input_len,
        output_len=output_len, arrival=arrival, cv=cv, requests=max_requests, rate_scale=rate_scale,
        trace_rate_rps=trace_rate, slo_ttft_s=slo_ttft, slo_tpot_s=slo_tpot, seed=seed,
        exact_pricing=exact_pricing, record_segments=chrome_trace is not None,
        **_deployment(replicas, tp, pp, ep, precision, scheduler, router, max_batch, chunk_tokens,
                      prefill_replicas, prefill_system, prefill_count),
    )  # fmt: skip
    summary = result.to_dict()
    if requests_out:
        write_requests(result.sim, Path(requests_out))
    if series_out:
        summary["series_rows"] = write_series(result.sim, Path(series_out))
    if chrome_trace:
        summary["chrome_trace_events"] = write_chrome_trace(result.sim, Path(chrome_trace), *window)
    keys = ["model", "system", "accelerators", "engines", "tp", "pp", "requests", "completed", "ttft_p50_s",
            "ttft_p90_s", "ttft_p99_s", "tpot_p50_s", "tpot_p90_s", "tpot_p99_s", "e2e_p50_s",
            "output_tokens_per_s", "goodput_rps", "kv_use_mean", "queue_len_mean", "preemptions", "sim_wall_s"]  # fmt: skip
    _print(summary, as_json, f"serve {result.deployment.model} on {result.deployment.system}", keys)


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
    max_requests, seed, prefill_replicas, prefill_system, prefill_count, as_json, trace, input_len, output_len,
    synthetic_requests, slo_ttft, slo_tpot, tolerance,
):  # fmt: skip
    """Highest request rate within p90 TTFT and p90 TPOT targets, found by bracketing and bisection."""
    from wafersim.serving.api import capacity as run_capacity

    found = run_capacity(
        model, system, count, slo_ttft_s=slo_ttft, slo_tpot_s=slo_tpot, trace=trace, input_len=input_len,
        output_len=output_len, synthetic_requests=synthetic_requests, requests=max_requests, tolerance=tolerance,
        seed=seed,
        **_deployment(replicas, tp, pp, ep, precision, scheduler, router, max_batch, chunk_tokens,
                      prefill_replicas, prefill_system, prefill_count),
    )  # fmt: skip
    keys = ["model", "system", "accelerators", "engines", "tp", "pp", "max_rate_rps", "output_tokens_per_s",
            "ttft_p90_s", "tpot_p90_s", "power_w", "requests_per_s_per_mw", "note"]  # fmt: skip
    title = f"capacity of {found.deployment.model} on {found.deployment.system}"
    _print(found.to_dict(), as_json, title, keys)
