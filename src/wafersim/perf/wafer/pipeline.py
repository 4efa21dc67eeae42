"""The time of a step (a decode iteration or a prefill chunk) through a placement's pipeline of regions.

A token's activation walks the regions in order (`placement.py`), each stage running its units' kernels and
handing the activation to the next region, crossing to the next wafer over the system's I/O where a wafer is
full; the sampled token goes back to the host for its embedding lookup.

Decode of B sequences runs as M = min(B, stages) micro-batches of ceil(B / M) sequences in the pipeline: the
step time is the longer of one micro-batch's walk through every stage and M times the busiest stage.

The placement (`placement.py`) and its SRAM accounting (`sram.py`) are re-exported here for the modules that
import them from this one.
"""

from __future__ import annotations

from dataclasses import dataclass

from wafersim.perf.wafer import closed_form as cf
from wafersim.perf.wafer.closed_form import ceil_div
from wafersim.perf.wafer.layer import ACT_BYTES, LayerShape
from wafersim.perf.wafer.placement import (  # noqa: F401  (re-exported)
    CODE_RESERVE_BYTES,
    ModelOnWafer,
    Placement,
    Region,
    build_placement,
    carve,
    unit_kind,
)
from wafersim.perf.wafer.sram import (  # noqa: F401  (re-exported)
    Sram,
    fits,
    kv_bytes_per_token_per_wafer,
    kv_capacity_tokens,
    kv_slot_bytes_per_pe,
    region_bytes,
    region_sram,
    region_totals_per_pe,
    sram_budget,
    sram_use,
    workspace_elems,
)
from wafersim.perf.wafer.units import Unit, decode_cost

# Host and wafer-to-wafer I/O attaches to the fabric at its West and East edges: the SDK's I/O channels connect
# to the routers of PEs on those two edges, "spaced roughly 16 rows apart" (Cerebras SDK docs, "Host Runtime and
# Tensor Streaming", sdk.cerebras.net/tensor-streaming). Which channels a production deployment uses is not
# published; assumption: a region's activation leaves (or enters) through the nearer of the program rectangle's
# West and East edges, each PE row along its own row, then at most half a channel spacing along the edge to a
# channel. The memcpy support columns beyond the program rectangle (3 West, 2 East, and the halo) are not counted.
IO_CHANNEL_SPACING_ROWS = 16


def edge_hops(region: Region, width: int) -> int:
    """Hops between the farthest PE of a region's rows and an I/O channel on the nearer West/East edge."""
    return min(region.x + region.cols, width - region.x) + IO_CHANNEL_SPACING_ROWS // 2


@dataclass(frozen=True)
class StepTime:
    """Seconds of one step (a decode iteration or a prefill chunk) through the whole pipeline."""

    path_s: float  # one micro-batch's walk through every stage
    busiest_s: float  # the slowest stage's time for one micro-batch
    micro_batches: int
    compute_s: float
    sram_s: float
    fabric_s: float
    io_s: float

    @property
    def step_s(self) -> float:
        return max(self.path_s, self.micro_batches * self.busiest_s)

    @property
    def idle_s(self) -> float:
        return self.step_s - self.path_s


_UNITS: dict = {}


def _unit(arch, unit, shape, d, rows, cols, tokens, context, new_per_sequence, dequant, imbalance, gemm):
    """Cycles of one unit, memoised on the identity of the arch, the shape and the unit's kind (`unit_kind`:
    every layer of one shape shares the entry); hashing them costs more than this."""
    unit = unit_kind(unit)
    key = (
        id(arch),
        id(unit),
        id(shape),
        d,
        rows,
        cols,
        tokens,
        context,
        new_per_sequence,
        dequant,
        imbalance,
        gemm,
    )
    found = _UNITS.get(key)
    if found is None or found[0] is not arch or found[1] is not shape or found[2] is not unit:
        if len(_UNITS) > 200_000:
            _UNITS.clear()
        cost = _unit_cost(
            arch, unit, shape, d, rows, cols, tokens, context, new_per_sequence, dequant, imbalance, gemm
        )
        found = _UNITS[key] = (arch, shape, unit, cost)
    return found[3]


def _unit_cost(arch, unit, shape, d, rows, cols, tokens, context, new_per_sequence, dequant, imbalance, gemm):
    if gemm and not unit.is_head:
        from wafersim.perf.wafer.prefill import prefill_cost

        return prefill_cost(arch, unit, shape, d, rows, cols, tokens, context, dequant, imbalance)
    return decode_cost(
        arch, unit, shape, d, rows, cols, tokens, context, new_per_sequence, dequant, imbalance
    )


def holds_expert_subset(unit: Unit, shape: LayerShape | None) -> bool:
    """Whether the unit holds some but not all of its layer's routed experts: only then can its load differ
    from the mean (a region holding every expert of a layer serves all of the layer's token-expert passes,
    whatever the routing)."""
    if shape is None or not shape.experts:
        return False
    return any(piece.routed and piece.experts < shape.experts for piece in unit.pieces)


def step_time(
    mow: ModelOnWafer,
    p: Placement,
    tokens: int,
    micro_batches: int,
    context: int,
    new_per_sequence: int = 1,
    imbalance: float = 1.0,
    gemm: bool = False,
) -> StepTime:
    """Time for `micro_batches` micro-batches of `tokens` tokens each to pass every stage once: decode kernels
    (GEMV; `new_per_sequence` > 1 spreads a chunk's KV entries along the rows), or with `gemm` a prompt chunk
    as GEMMs (`prefill.py`)."""
    arch = mow.arch
    d, hz = mow.model.hidden_size, arch.clock_hz
    height, width = mow.fabric_hw
    link_bytes = tokens * d * ACT_BYTES
    link = mow.system.scale_out.latency_s + link_bytes / mow.system.scale_out.bw_bytes_per_s

    compute = sram = fabric = io = 0.0
    busiest = 0.0
    previous_wafer = 0
    heads = 0
    for n, region in enumerate(p.regions):
        r, c = region.rows, region.cols
        # A layer cut inside its FFN hands over the token's accumulator beside its input.
        carry = 1 if (not region.units or region.units[-1].ends_layer) else 2
        if gemm:
            # The chunk's 2-D tiles cross to the adjacent region, every row of PEs carrying its own.
            handoff = cf.stream(arch, c, carry * ceil_div(tokens * d, r))
        else:
            # Each row carries a share of the activation to the next region (one region width away), then the
            # new region replicates it down its columns.
            handoff = cf.stream(arch, c, carry * ceil_div(tokens * d, r)) + cf.multicast_line(
                arch, r, carry * ceil_div(tokens * d, c)
            )
        parts = [0, 0, 0]
        skewed = 0  # cycles the region adds when its expert groups carry the busiest share (`imbalance`)
        for u in region.units:
            shape = None if u.is_head else mow.shapes[u.layer]
            args = (arch, u, shape, d, r, c, tokens, context, new_per_sequence, mow.dequant)
            cost = _unit(*args, 1.0, gemm)
            for i in range(3):
                parts[i] += cost[i]
            if imbalance != 1.0 and holds_expert_subset(u, shape):
                skewed += sum(_unit(*args, imbalance, gemm)) - sum(cost)
        if any(u.is_head for u in region.units):
            heads += 1
            # Argmax over the head regions: a stream across the wafer.
            parts[2] += cf.stream(arch, height + width, 2 * (1 if gemm else tokens))
        if n == len(p.regions) - 1:
            handoff = 0
        # The path is an expectation, so each stage takes its mean expert passes; the throughput bound is the
        # busiest stage, where a group of popular experts makes its region slower than the mean.
        stage = (sum(parts) + handoff) / hz
        busiest = max(busiest, stage + skewed / hz)
        compute += parts[0] / hz
        sram += parts[1] / hz
        fabric += (parts[2] + handoff) / hz
        if region.wafer != previous_wafer:
            before = p.regions[n - 1]
            carry = 1 if (not before.units or before.units[-1].ends_layer) else 2
            # Out of the last region of one wafer to its edge, in from the next wafer's edge to its first region.
            out = cf.stream(arch, edge_hops(before, width), carry * ceil_div(tokens * d, before.rows))
            into = cf.stream(arch, edge_hops(region, width), carry * ceil_div(tokens * d, r))
            # The accumulator travels in the same message as the activation: one latency, twice the bytes.
            io += link + (carry - 1) * link_bytes / mow.system.scale_out.bw_bytes_per_s + (out + into) / hz
            previous_wafer = region.wafer
    # Sampled token to the host from the last region, its embedding row back in to the first wafer's first region.
    first, last = p.regions[0], p.regions[-1]
    out = cf.stream(arch, edge_hops(last, width), ceil_div(tokens * d, last.rows))
    into = cf.stream(arch, edge_hops(first, width), ceil_div(tokens * d, first.rows))
    io += (
        2 * mow.system.scale_out.latency_s
        + link_bytes / mow.system.scale_out.bw_bytes_per_s
        + (out + into) / hz
    )
    busiest = max(busiest, link)
    path = compute + sram + fabric + io
    return StepTime(path, busiest, micro_batches, compute, sram, fabric, io)
