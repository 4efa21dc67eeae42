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
from wafersim.cli.speculative import parse_speculative, speculative_options
from wafersim.perf.api import DEFAULT_DEPLOYMENTS
from wafersim.perf.api import compare as run_compare
from wafersim.perf.wafer.sizing import OBJECTIVES


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
    model, deployments, precision, input_len, output_len, objective, max_tpot_s, speculative, catalog_dirs, as_json,
):  # fmt: skip
    """Side-by-side: per-user speed, aggregate throughput, TTFT, power and energy per token."""
    catalog = get_catalog(catalog_dirs)
    speculative = parse_speculative(catalog, speculative)
    result = run_compare(
        model, deployments, precision=precision, input_len=input_len, output_len=output_len, objective=objective,
        max_tpot_s=max_tpot_s, speculative=speculative, catalog=catalog,
    )  # fmt: skip
    data = result.to_dict()
    if as_json:
        echo_json(data)
        return
    print_comparison(f"{result.model}, {precision}, {input_len} in / {output_len} out", data["deployments"])
    if speculative is not None:
        make_console().print(
            f"wafer rows: speculative decoding, draft {speculative.draft.id}, acceptance {speculative.acceptance}, "
            f"{speculative.draft_tokens} tokens drafted per round"
        )


COLUMNS = (
    "system",
    "tok/s\nper user",
    "TTFT\nms",
    "tok/s\nat max",
    "batch",
    "power\nkW",
    "J per\ntoken",
    "$ per M\ntokens",
)


def print_comparison(title: str, rows: list[dict]) -> None:
    """The comparison as a table that fits 80 columns, notes for what does not fit, and a one-line verdict."""
    from rich import box

    console = make_console()
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for column in COLUMNS:
        table.add_column(column, justify="left" if column == "system" else "right", no_wrap=True)
    notes: list[str] = []
    for row in rows:
        name = f"{row['count']} × {row['system']}" if row["count"] else row["system"]
        reason = row.get("skipped") or (None if row["single_user"]["fits"] else row["single_user"]["reason"])
        if reason:
            notes.append(f"{len(notes) + 1}. {name}: {reason}")
            table.add_row(name, f"[red]does not fit ({len(notes)})[/red]", *[""] * (len(COLUMNS) - 2))
            continue
        s, b = row["single_user"], row["max_throughput"]
        usd = b["usd_per_million_tokens"]
        table.add_row(
            name,
            fmt(s["output_tokens_per_s_per_user"]),
            fmt(s["ttft_s"] * 1e3) if s["ttft_s"] is not None else "—",
            fmt(b["output_tokens_per_s"]),
            str(b["batch"]),
            fmt(b["power_w"] / 1e3) if b["power_w"] else "—",
            fmt(b["joules_per_token"], digits=2),
            f"{usd:.2g}" if usd else "—",
        )
    console.print(table)
    console.print(
        "per user: one request alone (batch 1); at max: the largest batch that fits (batch per replica). "
        "— : no price in the catalog (see `wafersim catalog systems`)."
    )
    for note in notes:
        console.print(note)
    for row in rows:
        if row.get("sizing"):
            console.print(f"{row['system']}: {row['sizing']['why']}")
    verdict = _verdict(rows)
    if verdict:
        console.print(verdict)


def _verdict(rows: list[dict]) -> str | None:
    """One sentence: who is fastest for one user, most efficient per joule and cheapest per token."""
    fits = [
        r for r in rows if "skipped" not in r and r["single_user"]["fits"] and r["max_throughput"]["fits"]
    ]
    if not fits:
        return None

    def name(row: dict) -> str:
        return f"{row['count']} × {row['system']}"

    fastest = max(fits, key=lambda r: r["single_user"]["output_tokens_per_s_per_user"] or 0)
    frugal = min(fits, key=lambda r: r["max_throughput"]["joules_per_token"] or float("inf"))
    parts = [
        f"fastest for one user: {name(fastest)} "
        f"({fmt(fastest['single_user']['output_tokens_per_s_per_user'])} tok/s)",
        f"least energy per token: {name(frugal)} ({fmt(frugal['max_throughput']['joules_per_token'], ' J', 2)})",
    ]
    priced = [r for r in fits if r["max_throughput"]["usd_per_million_tokens"]]
    if priced:
        cheap = min(priced, key=lambda r: r["max_throughput"]["usd_per_million_tokens"])
        parts.append(
            f"cheapest per token: {name(cheap)} (${cheap['max_throughput']['usd_per_million_tokens']:.2g} per "
            "million, of the priced systems)"
        )
    return "In short, " + "; ".join(parts) + "."
