"""Memory of compiler-scheduled SRAM and dataflow chips: Groq's LPU (SRAM only) and SambaNova's SN40L
(on-chip SRAM, HBM and DDR).

A GPU runtime allocates at run time: it keeps an allocator reserve (vLLM's gpu_memory_utilization) and a
workspace sized for the largest iteration it admits (the chunked-prefill token budget). A compiler-scheduled
chip places every tensor when the model is compiled (Groq TSP: Abts et al., ISCA 2020; SN40L: Prabhakar et al.,
"SambaNova SN40L", MICRO 2024 / arXiv 2405.07518), so:

- no allocator reserve: the system file sets `usable_memory_fraction = 1.0`;
- activations are what one step holds: the residual stream, one working copy and the widest intermediate of the
  tokens in that step (the batch's decode tokens; prompts stream through the same buffers in tiles of that
  size), plus the step's logits — not a GPU-style workspace for an 8,192-token budget;
- on the SN40L weights live in HBM and, where HBM is short, in DDR, and stream through the on-chip SRAM; a step
  reads each tier's share of the weights at that tier's bandwidth.

The chips' timing is the shared roofline and alpha-beta model of `perf/cost.py`, with the systems' own
efficiency and link figures (their catalog files say where they come from; none is borrowed from a GPU).
"""

from __future__ import annotations

from wafersim.catalog import SystemSpec

# System kinds whose memory is laid out by a compiler rather than a run-time allocator.
COMPILER_SCHEDULED_KINDS = frozenset({"lpu", "rdu"})


def is_compiler_scheduled(system: SystemSpec) -> bool:
    return system.kind in COMPILER_SCHEDULED_KINDS


def ddr_bytes(system: SystemSpec) -> float:
    return sum(tier.capacity_bytes for tier in system.memory_tiers if tier.kind == "ddr")


def usable_bytes(system: SystemSpec) -> float:
    """What weights, KV cache and activations may use on one accelerator: the main memory's usable share plus
    any DDR tier (which holds weights only; see `weight_bytes_per_s`)."""
    return system.memory.capacity_bytes * system.usable_memory_fraction + ddr_bytes(system)


def weight_bytes_per_s(system: SystemSpec, weights_bytes: float, bytes_per_s: float) -> float:
    """Achievable bytes/s of a step's reads when `weights_bytes` per accelerator spill from the main memory into
    DDR: each tier's share is read at its own bandwidth (same efficiency), so the time per byte is the
    share-weighted sum of the tiers' times per byte. Without a spill, `bytes_per_s` unchanged."""
    main = system.memory.capacity_bytes * system.usable_memory_fraction
    spill = max(weights_bytes - main, 0.0)
    ddr = [tier for tier in system.memory_tiers if tier.kind == "ddr" and tier.bw_bytes_per_s]
    if spill <= 0 or not ddr:
        return bytes_per_s
    efficiency = bytes_per_s / system.memory.bw_bytes_per_s
    ddr_bytes_per_s = sum(tier.bw_bytes_per_s for tier in ddr) * efficiency
    share = spill / weights_bytes
    return 1.0 / ((1 - share) / bytes_per_s + share / ddr_bytes_per_s)
