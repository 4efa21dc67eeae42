"""A placement of a whole model on one or more wafers, its SRAM per PE, and the time of a step through it.

A wafer's program rectangle is cut into a grid of equal R x C regions. Region by region (snake order, so that
consecutive regions are neighbours) the pipeline holds the decoder layers, k consecutive layers per region, then
the LM head (vocabulary rows split over as many regions as its SRAM needs). A token's activation walks the
regions in order, crossing to the next wafer over the system's I/O (12 x 100 GbE, `scale_out` in the catalog)
where a wafer is full. The token-embedding table stays on the host: a lookup is one row (hidden x 2 bytes)
with no arithmetic, so streaming it in over the I/O each step costs ~0.1 us of bandwidth plus the link latency,
while holding the table would take 1-4 GB of SRAM. The sampled token goes back to the host for that lookup.

Decode of B sequences runs as M = min(B, stages) micro-batches of ceil(B / M) sequences in the pipeline: the
step time is the longer of one micro-batch's walk through every stage and M times the busiest stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from wafersim.catalog import ModelSpec, SystemSpec
from wafersim.catalog.fabric_arch import FabricArch
from wafersim.perf.wafer import closed_form as cf
from wafersim.perf.wafer.closed_form import ceil_div
from wafersim.perf.wafer.layer import (
    ACT_BYTES,
    LayerShape,
    activation_elems_per_pe,
    kv_elems_per_pe,
    layer_cost,
    layer_shape,
)

# Code, task tables, DSD descriptors and the runtime's own buffers share the PE's 48 KB with data. No figure is
# published; one of the eight 6 KB banks (facts.md §1) is reserved for them (an assumption, stated in
# docs/wafer.md; the fabric simulator does not charge code to SRAM).
CODE_RESERVE_BYTES = 6144


@dataclass(frozen=True)
class ModelOnWafer:
    """Per-layer shapes and the constants of one deployment (model, arch, storage widths)."""

    model: ModelSpec
    arch: FabricArch
    system: SystemSpec
    weight_bytes: float  # per weight element as stored in SRAM
    kv_bytes: int = ACT_BYTES
    reserved_bytes_per_pe: float = 0.0  # SRAM kept for something else on every PE (a speculative draft model)

    @cached_property
    def shapes(self) -> tuple[LayerShape, ...]:
        kinds: dict[tuple, LayerShape] = {}
        out = []
        for i in range(self.model.num_layers):
            key = (self.model.is_moe_layer(i), self.model.is_sliding_layer(i))
            if key not in kinds:
                kinds[key] = layer_shape(self.model, i)
            out.append(kinds[key])
        return tuple(out)

    @property
    def sram_per_pe(self) -> float:
        """SRAM per PE this model may fill (the PE's 48 KB less any reservation)."""
        return self.arch.memory.sram_bytes_per_pe - self.reserved_bytes_per_pe

    @property
    def fabric_hw(self) -> tuple[int, int]:
        return self.arch.fabric.program_height_pes, self.arch.fabric.program_width_pes

    @property
    def dequant(self) -> bool:
        return self.weight_bytes < ACT_BYTES

    @property
    def table_elems(self) -> int:
        return self.model.vocab_size * self.model.hidden_size

    @property
    def model_bytes_on_wafer(self) -> float:
        """Weights the placement stores, without tile padding: layers, final norm and the LM head (a tied
        embedding is the same table; the host keeps its own copy for lookups)."""
        layers = sum(s.weight_elems for s in self.shapes)
        return (layers + self.model.hidden_size + self.table_elems) * self.weight_bytes


@dataclass(frozen=True)
class Region:
    wafer: int
    index: int  # position on its wafer, snake order over the region grid
    kind: str  # "layers" | "head"
    first_layer: int = 0
    last_layer: int = 0  # exclusive
    table_share: int = 0  # vocabulary rows held (head)


@dataclass(frozen=True)
class Placement:
    rows: int
    cols: int
    grid: tuple[int, int]  # regions per wafer (down, across)
    layers_per_region: int
    wafers: int
    head_regions: int
    regions: tuple[Region, ...] = field(repr=False)

    @property
    def regions_per_wafer(self) -> int:
        return self.grid[0] * self.grid[1]

    def origin(self, region: Region) -> tuple[int, int]:
        """(y, x) of a region's north-west PE: snake order over the region grid."""
        down, across = divmod(region.index, self.grid[1])
        if down % 2:
            across = self.grid[1] - 1 - across
        return down * self.rows, across * self.cols


def build_placement(mow: ModelOnWafer, rows: int, cols: int, k: int, table_regions: int) -> Placement:
    """Layer regions (k layers each) then head regions, in snake order, wafer after wafer."""
    height, width = mow.fabric_hw
    grid = (height // rows, width // cols)
    per_wafer = grid[0] * grid[1]
    layers = mow.model.num_layers
    vocab = mow.model.vocab_size
    order: list[tuple[str, int, int, int]] = []
    share = ceil_div(vocab, table_regions)
    order += [("layers", i, min(layers, i + k), 0) for i in range(0, layers, k)]
    order += [("head", 0, 0, share)] * table_regions
    regions = tuple(
        Region(n // per_wafer, n % per_wafer, kind, a, b, s) for n, (kind, a, b, s) in enumerate(order)
    )
    return Placement(rows, cols, grid, k, regions[-1].wafer + 1, table_regions, regions)


def region_sram(
    mow: ModelOnWafer,
    p: Placement,
    region: Region,
    sequences: int,
    length: int,
    act_tokens: int,
    context: int,
) -> dict[str, float]:
    """Bytes one PE of `region` holds: weights (with tile padding), KV cache, activations, code reserve."""
    whole = region_bytes(mow, p, region, sequences, length, act_tokens, context)
    per_pe = {key: value / (p.rows * p.cols) for key, value in whole.items()}
    return per_pe | {"code": float(CODE_RESERVE_BYTES)}


def region_bytes(
    mow: ModelOnWafer,
    p: Placement,
    region: Region,
    sequences: int,
    length: int,
    act_tokens: int,
    context: int,
) -> dict[str, float]:
    """Bytes a whole region holds, split into what the model needs and what the tiling adds.

    Every PE of a region allocates the same tile sizes (SPMD), so the region's bytes are the per-PE tile times
    the PEs; `*_padding` is that minus the exact figure (rounding of tiles, replicated norm weights)."""
    r, c = p.rows, p.cols
    pes = r * c
    d = mow.model.hidden_size
    if region.kind == "layers":
        shapes = mow.shapes[region.first_layer : region.last_layer]
        tiles = sum(s.tile_elems_per_pe(r, c) for s in shapes) * mow.weight_bytes * pes
        exact = sum(s.weight_elems for s in shapes) * mow.weight_bytes
        kv_tiles = sum(kv_elems_per_pe(s, r, c, sequences, length) for s in shapes) * mow.kv_bytes * pes
        kv_exact = (
            sum(sequences * (min(length, s.window) if s.window else length) * s.cache_elems for s in shapes)
            * mow.kv_bytes
        )
        act = max(activation_elems_per_pe(s, r, c, act_tokens, context) for s in shapes) * ACT_BYTES
    else:
        # Head: vocabulary rows split over the region's rows, the hidden size over its columns; the final norm
        # (counted once, in the first head region; its other copies are padding).
        tiles = (ceil_div(region.table_share, r) + 1) * ceil_div(d, c) * mow.weight_bytes * pes
        first = region is p.regions[-p.head_regions]
        last_rows = mow.model.vocab_size - region.table_share * (p.head_regions - 1)
        rows_held = last_rows if region is p.regions[-1] else region.table_share
        exact = (rows_held + (1 if first else 0)) * d * mow.weight_bytes
        kv_tiles = kv_exact = 0.0
        act = act_tokens * (3 * ceil_div(region.table_share, r) + 2 * ceil_div(d, c)) * ACT_BYTES
    return {
        "weights": float(exact),
        "weight_padding": float(tiles - exact),
        "kv_cache": float(kv_exact),
        "kv_padding": float(kv_tiles - kv_exact),
        "activations": float(act * pes),
    }


@dataclass(frozen=True)
class Sram:
    """Bytes per PE of the fullest region, by use; and totals over every PE the placement occupies."""

    per_pe_bytes: dict[str, float]
    total_bytes: dict[str, float]

    @property
    def peak_per_pe(self) -> float:
        return sum(self.per_pe_bytes.values())

    @property
    def used_bytes(self) -> float:
        return sum(self.total_bytes.values())


def region_totals_per_pe(
    mow: ModelOnWafer, p: Placement, sequences: int, length: int, act_tokens: int, context: int
) -> list[float]:
    """Bytes per PE of every region, in pipeline order (code reserve included)."""
    pes = p.rows * p.cols
    return [
        sum(region_bytes(mow, p, r, sequences, length, act_tokens, context).values()) / pes
        + CODE_RESERVE_BYTES
        for r in p.regions
    ]


def sram_use(
    mow: ModelOnWafer, p: Placement, sequences: int, length: int, act_tokens: int, context: int
) -> Sram:
    peak: dict[str, float] = {}
    totals: dict[str, float] = {}
    pes = p.rows * p.cols
    for region in p.regions:
        whole = region_bytes(mow, p, region, sequences, length, act_tokens, context)
        whole["code"] = float(CODE_RESERVE_BYTES * pes)
        for key, value in whole.items():
            totals[key] = totals.get(key, 0.0) + value
        if sum(whole.values()) > sum(peak.values()) * pes:
            peak = {key: value / pes for key, value in whole.items()}
    return Sram(peak, totals)


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


@lru_cache(maxsize=65536)
def _layer(arch, shape, rows, cols, tokens, context, new_per_sequence, dequant):
    return layer_cost(arch, shape, rows, cols, tokens, context, new_per_sequence, dequant)


def step_time(
    mow: ModelOnWafer, p: Placement, tokens: int, micro_batches: int, context: int, new_per_sequence: int = 1
) -> StepTime:
    """Time for `micro_batches` micro-batches of `tokens` tokens each to pass every stage once."""
    arch, r, c = mow.arch, p.rows, p.cols
    d, hz = mow.model.hidden_size, arch.clock_hz
    height, width = mow.fabric_hw
    # Hand-off to the adjacent region: each row carries a share of the activation to the next region
    # (one region width or height away), then the new region replicates it down its columns.
    handoff = cf.stream(arch, c, ceil_div(tokens * d, r)) + cf.multicast_line(
        arch, r, ceil_div(tokens * d, c)
    )
    link_bytes = tokens * d * ACT_BYTES
    link = mow.system.scale_out.latency_s + link_bytes / mow.system.scale_out.bw_bytes_per_s
    edge = cf.stream(arch, height + width, ceil_div(tokens * d, r)) / hz  # region to the wafer's I/O edge

    compute = sram = fabric = io = 0.0
    busiest = 0.0
    previous_wafer = 0
    for region in p.regions:
        if region.kind == "layers":
            costs = [
                _layer(arch, s, r, c, tokens, context, new_per_sequence, mow.dequant)
                for s in mow.shapes[region.first_layer : region.last_layer]
            ]
            parts = (
                sum(x.compute_cycles for x in costs),
                sum(x.sram_cycles for x in costs),
                sum(x.fabric_cycles for x in costs),
            )
        else:
            norm = cf.rmsnorm(arch, c, d, tokens)
            head = cf.meshgemv(arch, r, c, region.table_share, d, tokens)
            # Argmax over this region's vocabulary slice, then over the head regions (a stream across the wafer).
            local = cf.vec(arch, "add", tokens * ceil_div(region.table_share, r))
            pick = cf.ktree_allreduce_line(arch, r, 2 * tokens) + cf.stream(arch, height + width, 2 * tokens)
            parts = (
                norm.compute_cycles + head.compute_cycles + local,
                0,
                norm.fabric_cycles + head.fabric_cycles + pick,
            )
        stage = (sum(parts) + handoff) / hz
        busiest = max(busiest, stage)
        compute += parts[0] / hz
        sram += parts[1] / hz
        fabric += (parts[2] + handoff) / hz
        if region.wafer != previous_wafer:
            io += link + 2 * edge
            previous_wafer = region.wafer
    # Sampled token to the host, its embedding row back in to the first wafer's first region.
    io += 2 * mow.system.scale_out.latency_s + link_bytes / mow.system.scale_out.bw_bytes_per_s + 2 * edge
    busiest = max(busiest, link)
    path = compute + sram + fabric + io
    return StepTime(path, busiest, micro_batches, compute, sram, fabric, io)


def kv_slot_bytes_per_pe(mow: ModelOnWafer, p: Placement, region: Region) -> float:
    """Bytes one PE of a layer region spends per token slot of KV cache: every layer of the region keeps its
    ceil(cache / R) cached dimensions of each token it holds (tokens are spread over the C columns, so the
    region holds C tokens per slot). Sliding-window layers count as full ones: a pool of tokens shared by many
    sequences cannot rely on a window to free them."""
    shapes = mow.shapes[region.first_layer : region.last_layer]
    return float(sum(ceil_div(s.cache_elems, p.rows) for s in shapes) * mow.kv_bytes)


def kv_capacity_tokens(mow: ModelOnWafer, p: Placement, act_tokens: int, context: int) -> int:
    """Tokens of KV cache (pooled over sequences) the placement holds in the SRAM left after the weights (with
    tile padding), the code reserve and the activation workspace of `act_tokens`-token passes.

    The fullest layer region sets it (every region must hold every cached token of its layers). A region with
    no room for its own workspace leaves 0. Counted with `region_bytes`, the accounting `sram_use` reports."""
    capacity: int | None = None
    for region in p.regions:
        fixed = sum(region_bytes(mow, p, region, 0, 0, act_tokens, context).values()) / (p.rows * p.cols)
        free = mow.sram_per_pe - CODE_RESERVE_BYTES - fixed
        if free < 0:
            return 0
        if region.kind != "layers":
            continue
        slots = int(free // kv_slot_bytes_per_pe(mow, p, region))
        capacity = slots * p.cols if capacity is None else min(capacity, slots * p.cols)
    return capacity or 0


def kv_bytes_per_token_per_wafer(mow: ModelOnWafer, p: Placement) -> float:
    """KV bytes per cached token on the wafer that holds the most of it (what each wafer's I/O carries when a
    request's KV moves: every wafer sends its own layers' share at once)."""
    per_wafer: dict[int, float] = {}
    for region in p.regions:
        if region.kind == "layers":
            shapes = mow.shapes[region.first_layer : region.last_layer]
            added = sum(s.cache_elems for s in shapes) * mow.kv_bytes
            per_wafer[region.wafer] = per_wafer.get(region.wafer, 0.0) + added
    return max(per_wafer.values())
