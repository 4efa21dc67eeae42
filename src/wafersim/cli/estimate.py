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
from wafersim.cli.speculative import parse_speculative, speculative_options
from wafersim.errors import WafersimError
from wafersim.perf import Estimate
from wafersim.perf.api import estimate as run_estimate
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
        ("layout", layout_words(result)),
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
        f"{part_words(k)} {v / total:.0%}"
        for k, v in sorted(decode.items(), key=lambda kv: -kv[1])
        if v / total >= 0.01
    )
    what = "where a decode step's time goes" if result.extra.get("placement") else "decode step by operator"
    console.print(f"{what}: {parts}")
    _print_service(console, result.extra)
    spec = result.extra.get("speculative")
    if spec:
        drafter = (
            f"draft {spec['draft_model']}" if spec.get("draft_model") else f"{spec['mtp_heads']} MTP head(s)"
        )
        console.print(
            f"speculative: {drafter}, {spec['draft_tokens']} drafted per round, acceptance {spec['acceptance']}: "
            f"{spec['tokens_per_round']:.2f} tokens per round"
        )


# Breakdown keys as people say them (the JSON keeps the field names).
PART_WORDS = {
    "compute_s": "compute", "sram_s": "SRAM", "fabric_s": "fabric", "io_s": "I/O", "idle_s": "idle",
    "qkv_proj": "QKV projection", "o_proj": "output projection", "lm_head": "LM head", "ffn": "MLP",
    "moe": "experts", "norm": "norms", "embedding": "embedding", "attention": "attention",
}  # fmt: skip


def part_words(key: str) -> str:
    return PART_WORDS.get(key, key.removesuffix("_s").replace("_", " "))


def layout_words(result: Estimate) -> str:
    """tp/pp/ep for GPUs; for a wafer, where the layers sit (a wafer has no tensor-parallel degree)."""
    placement = result.extra.get("placement")
    if placement is not None:
        wafers = result.extra.get("wafers_per_replica", result.count)
        return (
            f"{placement['layer_regions']} regions of {placement['region_rows']}×{placement['region_cols']} PEs "
            f"({placement['layers_per_region']} layer(s) each) on {wafers} wafer(s)"
        )
    text = f"tp {result.tp} × pp {result.pp}" + (f", ep {result.ep}" if result.ep > 1 else "")
    text += f", {result.dp} replica(s)" if result.dp > 1 else ""
    return text + (", attention data-parallel" if result.attention_dp else "")


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
@click.option(
    "--max-ttft",
    "max_ttft_s",
    type=float,
    default=None,
    help="With --batch auto: ... and whose p99 time to first token under Poisson load stays within this (s).",
)
@click.option(
    "--expert-load-cv",
    "expert_load_cv",
    type=float,
    default=None,
    help="MoE routing skew: std/mean of tokens per expert (default 1.28, DeepSeek-R1 without EPLB).",
)
@click.option(
    "--input-len", type=int, default=1000, show_default=True, help="Prompt tokens per request (as compare)."
)
@click.option("--output-len", type=int, default=1000, show_default=True, help="Generated tokens per request.")
@click.option(
    "--output-len-cv",
    "output_len_cv",
    type=float,
    default=0.0,
    show_default=True,
    help="Spread of output lengths across requests (std/mean): 0 = all equal, 1 = geometric. Long requests "
    "fill a running batch, so its KV grows with the spread.",
)
@click.option("--grid", default=None, help="Wafer systems: region shape RxC (PEs) for both phases.")
@click.option(
    "--decode-grid", default=None, help="Wafer systems: region shape RxC for decode (the weights' home)."
)
@click.option(
    "--prefill-grid", default=None, help="Wafer systems: region shape RxC for prefill (weights re-laid)."
)
@cost_options
@speculative_options
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
    max_ttft_s,
    expert_load_cv,
    input_len,
    output_len,
    output_len_cv,
    grid,
    decode_grid,
    prefill_grid,
    life_years,
    usd_per_kwh,
    pue,
    speculative,
    catalog_dirs,
    as_json,
):
    """Prefill and decode speed of MODEL on COUNT accelerators of SYSTEM."""
    catalog = get_catalog(catalog_dirs)
    result = run_estimate(
        model=model,
        system=system,
        catalog=catalog,
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
        max_ttft_s=max_ttft_s,
        expert_load_cv=expert_load_cv,
        output_len_cv=output_len_cv,
        cost=CostAssumptions(life_years=life_years, usd_per_kwh=usd_per_kwh, pue=pue),
        grid=grid,
        decode_grid=decode_grid,
        prefill_grid=prefill_grid,
        speculative=parse_speculative(catalog, speculative),
        per_user_views=True,
    )
    if as_json:
        echo_json(result.to_dict())
    else:
        print_estimate(result)
