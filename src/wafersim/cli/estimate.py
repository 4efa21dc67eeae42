"""`wafersim estimate`: prefill/decode speed of one model on one deployment."""

from __future__ import annotations

import click
from rich.table import Table

from wafersim.catalog import PRECISIONS
from wafersim.cli.common import (
    catalog_option,
    cost_options,
    echo_json,
    fmt,
    get_catalog,
    json_option,
    make_console,
)
from wafersim.errors import WafersimError
from wafersim.perf import Estimate, EstimateRequest
from wafersim.perf import estimate as run_estimate
from wafersim.perf.economics import CostAssumptions


def parse_batch(value: str) -> int | None:
    if value == "auto":
        return None
    try:
        batch = int(value)
    except ValueError:
        raise WafersimError(f"--batch must be a positive integer or 'auto', got '{value}'") from None
    if batch < 1:
        raise WafersimError(f"--batch must be ≥ 1 or 'auto', got {batch}")
    return batch


def speculative_options(f):
    """--draft, --acceptance, --draft-tokens: speculative decoding as production runs it (wafer systems)."""
    for option in reversed(
        (
            click.option(
                "--draft", default=None, help="Speculative decoding: draft model id (same vocabulary)."
            ),
            click.option(
                "--acceptance",
                type=float,
                default=None,
                help="Speculative decoding: acceptance rate per token.",
            ),
            click.option(
                "--draft-tokens", type=int, default=4, show_default=True, help="Tokens drafted per round."
            ),
        )
    ):
        f = option(f)
    return f


def parse_speculative(catalog, draft: str | None, acceptance: float | None, draft_tokens: int):
    """The Speculative the flags ask for, or None."""
    from wafersim.perf.wafer.speculative import Speculative

    if (draft is None) != (acceptance is None):
        raise WafersimError("speculative decoding needs both --draft and --acceptance")
    return Speculative(catalog.model(draft), acceptance, draft_tokens) if draft else None


def print_estimate(result: Estimate) -> None:
    console = make_console()
    head = (
        f"{result.model} on {result.count} × {result.system} ({result.precision}, KV {result.kv_precision})"
    )
    if not result.fits:
        console.print(f"[bold]{head}[/bold]: [red]does not fit[/red] — {result.reason}")
        return
    table = Table(title=head)
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        (
            "layout",
            f"tp={result.tp} pp={result.pp} ep={result.ep} dp={result.dp}"
            + (" attention-DP" if result.attention_dp else ""),
        ),
        ("batch per replica", str(result.batch)),
        ("TTFT", fmt(result.ttft_s, "s")),
        ("TPOT", fmt(result.tpot_s, "s")),
        ("tokens/s per user", fmt(result.output_tokens_per_s_per_user)),
        ("tokens/s (deployment)", fmt(result.output_tokens_per_s)),
        ("memory per accelerator", fmt(result.memory_bytes_per_accelerator, "B")),
        ("power", fmt(result.power_w, "W")),
        ("energy per token", fmt(result.joules_per_token, "J")),
        (
            "$ per million tokens",
            f"{result.usd_per_million_tokens:.3g}" if result.usd_per_million_tokens else "—",
        ),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    decode = result.breakdown.get("decode", {})
    total = sum(decode.values()) or 1.0
    parts = ", ".join(
        f"{k} {v / total:.0%}" for k, v in sorted(decode.items(), key=lambda kv: -kv[1]) if v / total >= 0.01
    )
    console.print(f"decode step by operator: {parts}")
    _print_service(console, result.extra)


def _print_service(console, extra: dict) -> None:
    """Wafer systems: what a client of the hosted service sees, beside the wafer's own time above."""
    if "client_ttft_s" in extra:
        console.print(
            f"client (service path): TTFT {fmt(extra['client_ttft_s'], 's')}, "
            f"{fmt(extra['client_output_tokens_per_s_per_user'])} tokens/s per user"
            + (" (speculative decoding)" if extra.get("speculative_used") else "")
        )
    labels = {"batch_1": "alone", "serving": "the serving batch"}
    for name, view in extra.get("per_user", {}).items():
        if not view.get("fits"):
            console.print(f"per user, {labels.get(name, name)}: does not fit — {view.get('reason')}")
            continue
        client = view["client_tokens_per_s_per_user"]
        console.print(
            f"per user, {labels.get(name, name)} (batch {view['batch']}): wafer "
            f"{fmt(view['wafer_tokens_per_s_per_user'])} tokens/s, TTFT {fmt(view['wafer_ttft_s'], 's')}"
            + (
                f"; client {fmt(client)} tokens/s, TTFT {fmt(view['client_ttft_s'], 's')}"
                if client is not None
                else ""
            )
        )


def _estimate_on_grids(request: EstimateRequest, grid, decode_grid, prefill_grid, spec=None) -> Estimate:
    """A wafer estimate with each phase held to a region size (to reproduce a published configuration), or
    with speculative decoding."""
    if request.system.kind != "wafer":
        raise WafersimError(
            "--grid/--decode-grid/--prefill-grid and --draft/--acceptance apply to wafer-scale systems (cs-2, cs-3)"
        )
    # Imported here: cli.wafer imports this module.
    from wafersim.cli.wafer import parse_region
    from wafersim.perf.estimate import with_costs
    from wafersim.perf.wafer.estimator import WaferOptions, estimate_wafer

    shared = parse_region(grid, "--grid")
    options = WaferOptions(
        decode_grid=parse_region(decode_grid, "--decode-grid") or shared,
        prefill_grid=parse_region(prefill_grid, "--prefill-grid") or shared,
        speculative=spec,
        per_user_views=True,
    )
    return with_costs(estimate_wafer(request, options), request)


@click.command()
@click.option("--model", required=True, help="Catalog model id or path to a Hugging Face config.json.")
@click.option("--system", required=True, help="Catalog system id (see `wafersim catalog systems`).")
@click.option("--count", required=True, type=int, help="Number of accelerators of that system.")
@click.option("--tp", type=int, default=None, help="Tensor-parallel degree (chosen by the tool if omitted).")
@click.option(
    "--pp", type=int, default=None, help="Pipeline-parallel degree (chosen by the tool if omitted)."
)
@click.option("--ep", type=int, default=None, help="Expert-parallel degree, dividing tp (MoE models).")
@click.option(
    "--attention-dp/--no-attention-dp",
    default=None,
    help="MoE: attention data-parallel over the tp group with experts spread over it (default: chosen).",
)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default=None,
    help="Weights/matmul format (default: model's).",
)
@click.option("--kv-precision", type=click.Choice(PRECISIONS), default=None, help="KV-cache format.")
@click.option(
    "--batch", default="auto", show_default=True, help="Sequences per replica, or 'auto' (max throughput)."
)
@click.option(
    "--max-tpot",
    "max_tpot_s",
    type=float,
    default=None,
    help="With --batch auto: largest batch whose time per output token stays within this (s).",
)
@click.option("--input-len", required=True, type=int, help="Prompt tokens per request.")
@click.option("--output-len", required=True, type=int, help="Generated tokens per request.")
@click.option("--grid", default=None, help="Wafer systems: region shape RxC (PEs) for both phases.")
@click.option(
    "--decode-grid", default=None, help="Wafer systems: region shape RxC for decode (the weights' home)."
)
@click.option(
    "--prefill-grid", default=None, help="Wafer systems: region shape RxC for prefill (weights re-laid)."
)
@speculative_options
@cost_options
@catalog_option
@json_option
def estimate(
    model,
    system,
    count,
    tp,
    pp,
    ep,
    attention_dp,
    precision,
    kv_precision,
    batch,
    max_tpot_s,
    input_len,
    output_len,
    grid,
    decode_grid,
    prefill_grid,
    draft,
    acceptance,
    draft_tokens,
    life_years,
    usd_per_kwh,
    pue,
    catalog_dirs,
    as_json,
):
    """Prefill and decode speed of MODEL on COUNT accelerators of SYSTEM."""
    catalog = get_catalog(catalog_dirs)
    request = EstimateRequest(
        model=catalog.model(model),
        system=catalog.system(system),
        count=count,
        input_len=input_len,
        output_len=output_len,
        tp=tp,
        pp=pp,
        ep=ep,
        attention_dp=attention_dp,
        precision=precision,
        kv_precision=kv_precision,
        batch=parse_batch(batch),
        max_tpot_s=max_tpot_s,
        cost=CostAssumptions(life_years=life_years, usd_per_kwh=usd_per_kwh, pue=pue),
    )
    spec = parse_speculative(catalog, draft, acceptance, draft_tokens)
    if request.system.kind == "wafer" or grid or decode_grid or prefill_grid or spec is not None:
        result = _estimate_on_grids(request, grid, decode_grid, prefill_grid, spec)
    else:
        result = run_estimate(request)
    if as_json:
        echo_json(result.to_dict())
    else:
        print_estimate(result)
