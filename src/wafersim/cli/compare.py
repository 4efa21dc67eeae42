"""`wafersim compare`: the main job — one model on several systems, side by side.

Each deployment is answered twice: one user alone (batch 1: the speed a person sees) and the maximum-throughput
batch (what the deployment delivers in aggregate). SRAM-only chips and wafers get as many as the weights need.
"""

from __future__ import annotations

import click
from rich.table import Table

from wafersim.catalog import PRECISIONS
from wafersim.cli.common import catalog_option, echo_json, fmt, get_catalog, json_option, make_console
from wafersim.perf.api import DEFAULT_DEPLOYMENTS
from wafersim.perf.api import compare as run_compare


@click.command()
@click.option(
    "--model", default="llama-3.1-70b", show_default=True, help="Catalog model id or config.json path."
)
@click.option(
    "--systems",
    "deployments",
    default=DEFAULT_DEPLOYMENTS,
    show_default=True,
    help="Comma-separated SYSTEM:COUNT; COUNT 0 = as many as the weights need.",
)
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp8", show_default=True)
@click.option("--input-len", type=int, default=1000, show_default=True)
@click.option("--output-len", type=int, default=1000, show_default=True)
@catalog_option
@json_option
def compare(model, deployments, precision, input_len, output_len, catalog_dirs, as_json):
    """Side-by-side: per-user speed, aggregate throughput, TTFT, power and energy per token."""
    result = run_compare(
        model, deployments, precision=precision, input_len=input_len, output_len=output_len,
        catalog=get_catalog(catalog_dirs),
    )  # fmt: skip
    data = result.to_dict()
    if as_json:
        echo_json(data)
        return
    rows, spec = data["deployments"], result
    table = Table(title=f"{spec.model}, {precision}, {input_len} in / {output_len} out")
    for column in (
        "system",
        "count",
        "layout (1 user)",
        "tok/s/user",
        "TTFT",
        "max tok/s",
        "per accel",
        "batch",
        "power",
        "J/token",
        "$/Mtok",
    ):
        table.add_column(column, justify="left" if column in {"system", "layout (1 user)"} else "right")
    for row in rows:
        if "skipped" in row:
            table.add_row(row["system"], str(row["count"]), f"[dim]{row['skipped']}[/dim]", *[""] * 8)
            continue
        s, b = row["single_user"], row["max_throughput"]
        if not s["fits"]:
            table.add_row(
                row["system"], str(row["count"]), f"[red]does not fit[/red]: {s['reason']}", *[""] * 8
            )
            continue
        table.add_row(
            row["system"],
            str(row["count"]),
            _layout(s),
            fmt(s["output_tokens_per_s_per_user"]),
            fmt(s["ttft_s"], "s"),
            fmt(b["output_tokens_per_s"]),
            fmt(b["output_tokens_per_s"] / row["count"]),
            str(b["batch"]),
            fmt(b["power_w"], "W"),
            fmt(b["joules_per_token"], "J"),
            f"{b['usd_per_million_tokens']:.3g}" if b["usd_per_million_tokens"] else "—",
        )
    make_console().print(table)


def _layout(single: dict) -> str:
    placement = single.get("placement")
    if placement is None:
        return f"tp{single['tp']} pp{single['pp']}"
    # Wafers: layer regions of R x C PEs, k layers each, over the wafers the placement uses.
    return (
        f"{placement['layer_regions']}×{placement['layers_per_region']}L on "
        f"{placement['region_rows']}×{placement['region_cols']} PEs, {single['wafers_per_replica']} wafer(s)"
    )
