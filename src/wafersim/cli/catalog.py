"""`wafersim catalog systems|models`: the ids the other commands take, with their key figures."""

from __future__ import annotations

import click
from rich.table import Table

from wafersim.cli.common import catalog_option, echo_json, fmt, get_catalog, json_option, make_console


@click.group()
def catalog() -> None:
    """List catalog systems and models."""


@catalog.command()
@catalog_option
@json_option
def systems(catalog_dirs: tuple[str, ...], as_json: bool) -> None:
    """Accelerator systems (one accelerator package each, with its scale-up domain)."""
    specs = sorted(get_catalog(catalog_dirs).systems.values(), key=lambda s: s.id)
    rows = [
        {
            "id": s.id,
            "name": s.name,
            "kind": s.kind,
            "status": s.status,
            "bf16_flops_per_s": s.compute.bf16_flops_per_s,
            "memory_bytes": s.memory.capacity_bytes,
            "memory_kind": s.memory.kind,
            "mem_bw_bytes_per_s": s.memory.bw_bytes_per_s,
            "scale_up_domain": s.scale_up.domain_size,
            "scale_up_bw_bytes_per_s": s.scale_up.bw_bytes_per_s,
            "power_w": s.power.system_w_per_accelerator,
            "usd": s.price.usd_per_accelerator if s.price else None,
        }
        for s in specs
    ]
    if as_json:
        echo_json({"systems": rows})
        return
    table = Table(title="systems")
    for column in ("id", "kind", "status", "bf16", "memory", "mem BW", "scale-up", "power", "price"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["id"],
            r["kind"],
            r["status"],
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
    specs = sorted(get_catalog(catalog_dirs).models.values(), key=lambda m: m.id)
    rows = [
        {
            "id": m.id,
            "name": m.name,
            "architecture": m.architecture,
            "layers": m.num_layers,
            "hidden_size": m.hidden_size,
            "heads": m.num_heads,
            "kv_heads": m.num_kv_heads,
            "experts": m.moe.num_experts if m.moe else 0,
            "top_k": m.moe.top_k if m.moe else 0,
            "params_total": m.params_total(),
            "params_active": m.params_active(),
            "max_context": m.max_context,
            "default_precision": m.default_precision,
        }
        for m in specs
    ]
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
