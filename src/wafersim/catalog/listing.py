"""The catalog's key figures per system and per model, as rows (what `wafersim catalog systems|models --json`
lists, and what a web page's pickers show)."""

from __future__ import annotations

from typing import Any

from wafersim.catalog.catalog import Catalog


def system_rows(catalog: Catalog) -> list[dict[str, Any]]:
    """One row per system, by id: kind, bf16 FLOP/s, memory, scale-up domain, power and price per accelerator."""
    specs = sorted(catalog.systems.values(), key=lambda s: s.id)
    return [
        {
            "id": s.id,
            "name": s.name,
            "kind": s.kind,
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


def model_rows(catalog: Catalog) -> list[dict[str, Any]]:
    """One row per model, by id: architecture, shape, experts, parameter counts, context, native precision."""
    specs = sorted(catalog.models.values(), key=lambda m: m.id)
    return [
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
