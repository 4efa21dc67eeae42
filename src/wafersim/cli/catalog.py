"""`wafersim catalog systems|models`: the ids the other commands take, with their key figures."""

from __future__ import annotations

import click
from rich.table import Table

from wafersim.catalog import model_rows, system_rows
from wafersim.cli.common import catalog_option, echo_json, fmt, get_catalog, json_option, make_console


@click.group()
def catalog() -> None:
    """List catalog systems and models."""


@catalog.command()
@catalog_option
@json_option
def systems(catalog_dirs: tuple[str, ...], as_json: bool) -> None:
    """Accelerator systems (one accelerator package each, with its scale-up domain)."""
    rows = system_rows(get_catalog(catalog_dirs))
    if as_json:
        echo_json({"systems": rows})
        return
    table = Table(title="systems")
    for column in ("id", "kind", "bf16", "memory", "mem BW", "scale-up", "power", "price"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["id"],
            r["kind"],
            fmt(r["bf16_flops_per_s"], "FLOP/s"),
            fmt(r["memory_bytes"], "B") + f" {r['memory_kind']}",
            fmt(r["mem_bw_bytes_per_s"], "B/s"),
            f"{r['scale_up_domain']} × {fmt(r['scale_up_bw_bytes_per_s'], 'B/s')}",
            fmt(r["power_w"], "W"),
            fmt(r["usd"], "$") if r["usd"] else "—",
        )
    make_console().print(table)


@catalog.command()
@catalog_option
@json_option
def models(catalog_dirs: tuple[str, ...], as_json: bool) -> None:
    """Models with their shapes and parameter counts."""
    rows = model_rows(get_catalog(catalog_dirs))
    if as_json:
        echo_json({"models": rows})
        return
    table = Table(title="models")
    for column in (
        "id",
        "layers",
        "hidden",
        "heads/kv",
        "experts",
        "params",
        "active",
        "context",
        "precision",
    ):
        table.add_column(column)
    for r in rows:
        experts = f"{r['experts']} top-{r['top_k']}" if r["experts"] else "—"
        table.add_row(
            r["id"],
            str(r["layers"]),
            str(r["hidden_size"]),
            f"{r['heads']}/{r['kv_heads']}",
            experts,
            fmt(r["params_total"]),
            fmt(r["params_active"]),
            str(r["max_context"]),
            r["default_precision"],
        )
    make_console().print(table)
