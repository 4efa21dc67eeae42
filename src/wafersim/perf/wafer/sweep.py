"""Decode time of one layer as its region grows: where spreading over more PEs stops paying.

Local work (GEMV columns, attention over the keys) shrinks with the region's area, while every K-tree allreduce
and hand-off grows with its side (a multicast crosses the whole line; the root chain spans it). The layer's
decode time therefore falls with the region until the fabric terms dominate, then rises again.
"""

from __future__ import annotations

from dataclasses import dataclass

from wafersim.catalog import ModelSpec
from wafersim.catalog.fabric_arch import FabricArch
from wafersim.perf.wafer.layer import layer_cost, layer_shape

DEFAULT_SIDES = (32, 48, 64, 96, 128, 192, 256, 384, 512, 640, 762)


@dataclass(frozen=True)
class SweepPoint:
    rows: int
    cols: int
    compute_cycles: int
    sram_cycles: int
    fabric_cycles: int
    weight_bytes_per_pe: float  # the layer's weight tile on each PE (16-bit): does it fit 48 KB?

    @property
    def cycles(self) -> int:
        return self.compute_cycles + self.sram_cycles + self.fabric_cycles


def layer_sweep(
    model: ModelSpec,
    arch: FabricArch,
    sides: tuple[int, ...] = DEFAULT_SIDES,
    tokens: int = 1,
    context: int = 1024,
    layer: int = 0,
) -> list[SweepPoint]:
    """One decode step of `layer` for `tokens` sequences at `context` keys on square regions of each side
    (capped at the program rectangle)."""
    shape = layer_shape(model, layer)
    height, width = arch.fabric.program_height_pes, arch.fabric.program_width_pes
    points = []
    for side in sides:
        rows, cols = min(side, height), min(side, width)
        cost = layer_cost(arch, shape, rows, cols, tokens, context)
        points.append(
            SweepPoint(
                rows,
                cols,
                cost.compute_cycles,
                cost.sram_cycles,
                cost.fabric_cycles,
                shape.tile_elems_per_pe(rows, cols) * 2.0,
            )
        )
    return points


@dataclass(frozen=True)
class GridPoint:
    """One p x p grid running every layer in turn (WaferLLM's experiment): a decode step and a prompt's
    prefill (one chunk, GEMM kernels) through all layers, without hand-offs, head or host I/O."""

    side: int
    decode_s: float
    prefill_s: float
    prompt: int

    @property
    def decode_tokens_per_s(self) -> float:
        return 1.0 / self.decode_s

    @property
    def prefill_tokens_per_s(self) -> float:
        return self.prompt / self.prefill_s


def grid_sweep(
    model: ModelSpec, arch: FabricArch, sides: tuple[int, ...], prompt: int = 2048, context: int = 2048
) -> list[GridPoint]:
    """Per-layer costs on square grids times the layer count: what a system that runs each layer on one p x p
    grid (weights of the next layer already in place) would deliver for one sequence."""
    from wafersim.perf.wafer.prefill import prefill_cost
    from wafersim.perf.wafer.units import decode_cost, whole_layer

    height, width = arch.fabric.program_height_pes, arch.fabric.program_width_pes
    d = model.hidden_size
    points = []
    for side in sides:
        p = min(side, height, width)
        decode = prefill = 0
        for i in range(model.num_layers):
            shape = layer_shape(model, i)
            unit = whole_layer(i, shape)
            decode += sum(decode_cost(arch, unit, shape, d, p, p, 1, context, 1, False, 1.0))
            prefill += sum(prefill_cost(arch, unit, shape, d, p, p, prompt, max(1, prompt // 2), False, 1.0))
        points.append(GridPoint(p, decode / arch.clock_hz, prefill / arch.clock_hz, prompt))
    return points
