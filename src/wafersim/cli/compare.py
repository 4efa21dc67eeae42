"""`wafersim compare`: the main job — one model on several systems, side by side.

Each deployment is answered twice: one user alone (batch 1: the speed a person sees) and the maximum-throughput
batch (what the deployment delivers in aggregate). SRAM-only chips get as many as the weights need; wafer-scale
systems with count 0 get the count the objective chooses (perf/wafer/sizing.py), and the answer says why.
"""

from __future__ import annotations

import click
from rich.table import Table

from wafersim.catalog import PRECISIONS
from wafersim.cli.common import catalog_option, echo_json, fmt, get_catalog, json_option, make_console
from wafersim.cli.estimate import parse_speculative, speculative_options
from wafersim.errors import WafersimError
from wafersim.perf import EstimateRequest
from wafersim.perf.analytical import accelerators_needed
from wafersim.perf.wafer.estimator import WaferOptions
from wafersim.perf.wafer.sizing import OBJECTIVES, Sized, size_wafers, wafer_estimate

# One scale-up domain each (0 = as many chips as the weights need), as the systems are sold.
DEFAULT_DEPLOYMENTS = (
    "h100-sxm:8,h200-sxm:8,b200:8,gb200:72,mi300x:8,mi355x:8,tpu-v6e:8,tpu-v7:8,groq-lpu:0,cs-3:0"
)


def parse_deployments(text: str) -> list[tuple[str, int]]:
    deployments = []
    for item in text.split(","):
        system, _, count = item.strip().partition(":")
        try:
            deployments.append((system, int(count or 0)))
        except ValueError:
            raise WafersimError(f"--systems entry '{item}' is not SYSTEM:COUNT") from None
    return deployments


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
@click.option(
    "--objective",
    type=click.Choice(list(OBJECTIVES)),
    default="usd-per-mtok",
    show_default=True,
    help="Wafer systems with COUNT 0: how their count is chosen.",
)
@click.option(
    "--max-tpot",
    "max_tpot_s",
    type=float,
    default=None,
    help="TPOT bound (s) on the maximum-throughput batch of every deployment.",
)
@speculative_options
@catalog_option
@json_option
def compare(
    model, deployments, precision, input_len, output_len, objective, max_tpot_s, draft, acceptance, draft_tokens,
    catalog_dirs, as_json,
):  # fmt: skip
    """Side-by-side: per-user speed, aggregate throughput, TTFT, power and energy per token."""
    catalog = get_catalog(catalog_dirs)
    spec = catalog.model(model)
    # Speculative decoding (--draft/--acceptance) applies to the wafer rows.
    speculative = parse_speculative(catalog, draft, acceptance, draft_tokens)
    wafer_options = WaferOptions(speculative=speculative) if speculative is not None else None
    rows = []
    sizing: dict[str, dict] = {}
    for system_id, count in parse_deployments(deployments):
        system = catalog.system(system_id)
        base = dict(
            model=spec, system=system, input_len=input_len, output_len=output_len, precision=precision
        )
        if count == 0 and system.kind == "wafer":
            sized = size_wafers(
                EstimateRequest(count=1, max_tpot_s=max_tpot_s, **base), objective, wafer_options
            )
            count = sized.count if isinstance(sized, Sized) else sized.accelerators_needed or 1
            if isinstance(sized, Sized):
                sizing[system_id] = sized.to_dict()
        elif count == 0:
            count = accelerators_needed(EstimateRequest(count=1, **base), precision) or 0
            if count == 0:
                rows.append({"system": system_id, "count": 0, "skipped": "no layout holds the model"})
                continue
        options = wafer_options if system.kind == "wafer" else None
        single = wafer_estimate(EstimateRequest(count=count, batch=1, **base), options)
        bulk = wafer_estimate(EstimateRequest(count=count, max_tpot_s=max_tpot_s, **base), options)
        row = {
            "system": system_id,
            "count": count,
            "single_user": single.to_dict(),
            "max_throughput": bulk.to_dict(),
        }
        if system_id in sizing:
            row["sizing"] = sizing[system_id]
        rows.append(row)
    if as_json:
        echo_json(
            {
                "model": spec.id,
                "precision": precision,
                "input_len": input_len,
                "output_len": output_len,
                "deployments": rows,
            }
        )
        return
    table = Table(title=f"{spec.id}, {precision}, {input_len} in / {output_len} out")
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
            fmt(b["output_tokens_per_s"] / row["count"] if b["output_tokens_per_s"] else None),
            str(b["batch"]),
            fmt(b["power_w"], "W"),
            fmt(b["joules_per_token"], "J"),
            f"{b['usd_per_million_tokens']:.3g}" if b["usd_per_million_tokens"] else "—",
        )
    console = make_console()
    console.print(table)
    for system_id, sized in sizing.items():
        console.print(f"{system_id}: {sized['why']}")
    if speculative is not None:
        console.print(
            f"wafer rows: speculative decoding, draft {speculative.draft.id}, acceptance {speculative.acceptance}, "
            f"{speculative.draft_tokens} tokens drafted per round"
        )


def _layout(single: dict) -> str:
    placement = single.get("placement")
    if placement is None:
        return f"tp{single['tp']} pp{single['pp']}"
    # Wafers: layer regions of R x C PEs, k layers each, over the wafers the placement uses.
    return (
        f"{placement['layer_regions']}×{placement['layers_per_region']}L on "
        f"{placement['region_rows']}×{placement['region_cols']} PEs, {single['wafers_per_replica']} wafer(s)"
    )
