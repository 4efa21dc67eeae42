"""`wafersim frontier`: speed per user against tokens per MW over deployments (and disaggregated pools)."""

from __future__ import annotations

from pathlib import Path

import click

from wafersim.catalog import PRECISIONS
from wafersim.cli.common import catalog_option, echo_json, fmt, get_catalog, json_option, make_console


def _layout(part: dict) -> str:
    if "tp" not in part:
        return f"{part['count']} wafer(s)"
    return f"{part['count']}× tp{part['tp']} pp{part['pp']}" + (
        f" ep{part['ep']}" if part.get("ep", 1) > 1 else ""
    )


@click.command()
@click.option("--model", required=True, help="Catalog model id or config.json path.")
@click.option("--system", "systems", required=True, multiple=True, help="System id (repeatable).")
@click.option("--input-len", type=int, required=True, help="Prompt tokens per request.")
@click.option("--output-len", type=int, required=True, help="Generated tokens per request.")
@click.option("--precision", type=click.Choice(PRECISIONS), default=None, help="Default: the model's.")
@click.option("--slo-ttft", "slo_ttft_s", type=float, default=None, help="TTFT limit, s.")
@click.option("--slo-tpot", "slo_tpot_s", type=float, default=None, help="TPOT limit, s.")
@click.option("--disagg", is_flag=True, help="Also prefill and decode on separate pools (any two systems).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Write the picture (.png/.svg).")
@catalog_option
@json_option
def frontier(model, systems, input_len, output_len, precision, slo_ttft_s, slo_tpot_s, disagg, plot,
             catalog_dirs, as_json):  # fmt: skip
    """The Pareto frontier of output tokens/s per user against output tokens/s per MW."""
    from wafersim.perf.frontier import frontier as search

    catalog = get_catalog(catalog_dirs)
    result = search(
        model, list(systems), input_len=input_len, output_len=output_len, precision=precision,
        slo_ttft_s=slo_ttft_s, slo_tpot_s=slo_tpot_s, disagg=disagg, catalog=catalog,
    )  # fmt: skip
    if plot:
        from wafersim.report.frontier_plot import write_frontier_plot

        write_frontier_plot(result, Path(plot))
    if as_json:
        echo_json([p.to_dict() for p in result.points])
        return
    from rich.table import Table

    within = sum(p.meets_slo for p in result.points)
    table = Table(title=f"Pareto frontier: {result.model}, {input_len} in / {output_len} out")
    for column in ("mode", "prefill", "decode", "batch", "tok/s/user", "tok/s/MW", "TTFT", "TPOT"):
        table.add_column(column, justify="left" if column in ("mode", "prefill", "decode") else "right")
    for p in result.pareto:
        disaggregated = p.mode == "disaggregated"
        table.add_row(
            "disagg" if disaggregated else "agg",
            f"{p.prefill_system} {_layout(p.prefill)}" if disaggregated else "",
            f"{p.decode_system} {_layout(p.decode)}",
            str(p.decode["batch"]),
            fmt(p.output_tokens_per_s_per_user),
            fmt(p.output_tokens_per_s_per_mw),
            fmt(p.ttft_s, "s"),
            fmt(p.tpot_s, "s"),
        )
    console = make_console()
    console.print(table)
    console.print(f"{len(result.points)} deployments evaluated, {within} within the SLO, "
                  f"{len(result.pareto)} on the frontier" + (f"; plot: {plot}" if plot else ""))  # fmt: skip
