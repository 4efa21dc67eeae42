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

import math
from dataclasses import dataclass, field
from functools import cached_property

from wafersim.catalog import ModelSpec, SystemSpec
from wafersim.catalog.fabric_arch import FabricArch
from wafersim.perf.wafer import closed_form as cf
from wafersim.perf.wafer.closed_form import ceil_div
from wafersim.perf.wafer.layer import ACT_BYTES, LayerShape, layer_shape
from wafersim.perf.wafer.units import (
    Unit,
    decode_act_elems,
    decode_cost,
    kv_elems,
    kv_exact_elems,
    stagger_slack,
    tile_elems,
    weight_elems,
    whole_layer,
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
    index: int  # position on its wafer, pipeline order
    kind: str  # "layers" | "head"
    first_layer: int = 0
    last_layer: int = 0  # exclusive
    table_share: int = 0  # vocabulary rows held (head)
    units: tuple[Unit, ...] = ()
    y: int = 0  # north-west PE on its wafer
    x: int = 0
    rows: int = 0
    cols: int = 0

    @property
    def pes(self) -> int:
        return self.rows * self.cols


@dataclass(frozen=True)
class Placement:
    rows: int  # the decode grid: the compute region of the layers' kernels (the main regions' shape)
    cols: int
    grid: tuple[int, int]  # main regions per wafer (down, across); leftover strips are regions of their own
    layers_per_region: int  # most layers (whole or in part) any region holds
    wafers: int
    head_regions: int
    regions: tuple[Region, ...] = field(repr=False)

    @property
    def regions_per_wafer(self) -> int:
        return max(sum(1 for r in self.regions if r.wafer == w) for w in range(self.wafers))

    @property
    def pes(self) -> int:
        return sum(r.pes for r in self.regions)

    def origin(self, region: Region) -> tuple[int, int]:
        return region.y, region.x


def carve(
    height: int, width: int, rows: int, cols: int, min_side: int = 8, square: bool = False
) -> list[tuple[int, int, int, int]]:
    """(y, x, rows, cols) of the regions of one wafer: the rows x cols grid in snake order, then the strips it
    leaves on the right and at the bottom, cut to the grid's pitch (regions need not all be equal). With
    `square`, the strips are cut into squares of their short side instead (MeshGEMM runs on p x p grids)."""
    down, across = height // rows, width // cols
    out = []
    for i in range(down):
        line = [(i * rows, j * cols, rows, cols) for j in range(across)]
        out += line[::-1] if i % 2 else line
    right = width - across * cols
    bottom = height - down * rows
    if square:
        for y0, x0, h, w in ((0, across * cols, down * rows, right), (down * rows, 0, bottom, width)):
            side = min(h, w)
            if side < min_side:
                continue
            count = max(h, w) // side
            out += [
                (y0 + i * side, x0, side, side) if h > w else (y0, x0 + i * side, side, side)
                for i in range(count)
            ]
        return out
    if right >= min_side:
        out += [(i * rows, across * cols, rows, right) for i in range(down)][:: -1 if down % 2 else 1]
    if bottom >= min_side:
        line = [(down * rows, j * cols, bottom, cols) for j in range(across)]
        if right >= min_side:
            line.append((down * rows, across * cols, bottom, right))
        out += line[::-1] if (down % 2) == 0 and right >= min_side else line
    return out


def build_placement(mow: ModelOnWafer, rows: int, cols: int, k: int, table_regions: int) -> Placement:
    """Equal regions holding k whole layers each, then the LM head over `table_regions` regions (snake order,
    wafer after wafer) — the draft model's layout beside a target placement."""
    height, width = mow.fabric_hw
    grid = (height // rows, width // cols)
    per_wafer = grid[0] * grid[1]
    layers = mow.model.num_layers
    vocab = mow.model.vocab_size
    share = ceil_div(vocab, table_regions)
    spots = carve(height, width, rows, cols)[:per_wafer]
    regions = []
    contents = [list(range(i, min(layers, i + k))) for i in range(0, layers, k)]
    contents += [None] * table_regions
    for n, held in enumerate(contents):
        y, x, r, c = spots[n % per_wafer]
        if held is None:
            rows_here = min(share, vocab - share * (n - len(contents) + table_regions))
            units = (Unit(-1, False, (), max(1, rows_here)),)
            regions.append(Region(n // per_wafer, n % per_wafer, "head", 0, 0, share, units, y, x, r, c))
        else:
            units = tuple(whole_layer(i, mow.shapes[i]) for i in held)
            regions.append(
                Region(n // per_wafer, n % per_wafer, "layers", held[0], held[-1] + 1, 0, units, y, x, r, c)
            )
    return Placement(rows, cols, grid, k, regions[-1].wafer + 1, table_regions, tuple(regions))


def _shape_of(mow: ModelOnWafer, unit: Unit) -> LayerShape | None:
    return None if unit.is_head else mow.shapes[unit.layer]


def region_sram(
    mow: ModelOnWafer,
    p: Placement,
    region: Region,
    sequences: int,
    length: int,
    act_tokens: int,
    context: int,
    chunk: int = 0,
) -> dict[str, float]:
    """Bytes one PE of `region` holds: weights (with tile padding), KV cache, activations, code reserve."""
    whole = region_bytes(mow, p, region, sequences, length, act_tokens, context, chunk)
    per_pe = {key: value / region.pes for key, value in whole.items()}
    return per_pe | {"code": float(CODE_RESERVE_BYTES)}


def workspace_elems(
    mow: ModelOnWafer, region: Region, act_tokens: int, context: int, chunk: int = 0, imbalance: float = 1.0
) -> int:
    """Activation workspace per PE: the largest unit's decode pass of `act_tokens` tokens or, if `chunk`, its
    prefill chunk in the 2-D GEMM layout (units run one after another and reuse it)."""
    from wafersim.perf.wafer.prefill import prefill_act_elems

    d, r, c = mow.model.hidden_size, region.rows, region.cols
    best = 0
    for u in region.units:
        shape = _shape_of(mow, u)
        best = max(best, decode_act_elems(u, shape, d, r, c, act_tokens, context))
        if chunk:
            best = max(best, prefill_act_elems(u, shape, d, r, c, chunk, context, imbalance))
    return best


def _first_head(p: Placement) -> Region | None:
    return next((r for r in p.regions if any(u.is_head for u in r.units)), None)


def region_bytes(
    mow: ModelOnWafer,
    p: Placement,
    region: Region,
    sequences: int,
    length: int,
    act_tokens: int,
    context: int,
    chunk: int = 0,
) -> dict[str, float]:
    """Bytes a whole region holds, split into what the model needs and what the tiling adds.

    Every PE of a region allocates the same tile sizes (SPMD), so the region's bytes are the per-PE tile times
    the PEs; `*_padding` is that minus the exact figure (rounding of tiles, replicated norm weights)."""
    pes = region.rows * region.cols
    tiles, exact, kv_tiles, kv_exact = _static(mow, p, region, length)
    act = _memo(
        ("act", id(mow), id(region), act_tokens, context, chunk),
        (mow, region),
        lambda: workspace_elems(mow, region, act_tokens, context, chunk),
    )
    return {
        "weights": float(exact * mow.weight_bytes),
        "weight_padding": float((tiles * pes - exact) * mow.weight_bytes),
        "kv_cache": float(sequences * kv_exact * mow.kv_bytes),
        "kv_padding": float(sequences * (kv_tiles * pes - kv_exact) * mow.kv_bytes),
        "activations": float(act * ACT_BYTES * pes),
    }


_MEMO: dict = {}


def _memo(key: tuple, owners: tuple, compute):
    """Memoise on the identity of (model, region) objects, which the entry keeps alive: placements are
    re-measured at many batch sizes, and hashing them whole costs more than the sums."""
    found = _MEMO.get(key)
    if found is None or any(a is not b for a, b in zip(found[0], owners, strict=True)):
        if len(_MEMO) > 500_000:
            _MEMO.clear()
        found = _MEMO[key] = (owners, compute())
    return found[1]


def _static(mow: ModelOnWafer, p: Placement, region: Region, length: int) -> tuple[float, float, int, int]:
    """(weight tile elements per PE, exact weight elements, KV elements per PE and exact, per sequence)."""

    def compute() -> tuple[float, float, int, int]:
        r, c = region.rows, region.cols
        d = mow.model.hidden_size
        tiles = exact = 0.0
        kv_tiles = kv_exact = slack = 0
        for u in region.units:
            shape = _shape_of(mow, u)
            tiles += tile_elems(u, shape, d, r, c)
            slack = max(slack, stagger_slack(u, shape, d, r, c))
            exact += weight_elems(u, shape, d)
            kv_tiles += kv_elems(u, shape, r, c, 1, length)
            kv_exact += kv_exact_elems(u, shape, 1, length)
        if any(u.is_head for u in region.units) and region is _first_head(p):
            exact += d  # the final norm's weights, counted once (its copies on every row are padding)
        return math.ceil(tiles) + slack, exact, kv_tiles, kv_exact

    return _memo(("static", id(mow), id(p), id(region), length), (mow, p, region), compute)


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
    mow: ModelOnWafer,
    p: Placement,
    sequences: int,
    length: int,
    act_tokens: int,
    context: int,
    chunk: int = 0,
) -> list[float]:
    """Bytes per PE of every region, in pipeline order (code reserve included)."""
    return [
        sum(region_bytes(mow, p, r, sequences, length, act_tokens, context, chunk).values()) / r.pes
        + CODE_RESERVE_BYTES
        for r in p.regions
    ]


def sram_use(
    mow: ModelOnWafer,
    p: Placement,
    sequences: int,
    length: int,
    act_tokens: int,
    context: int,
    chunk: int = 0,
) -> Sram:
    peak: dict[str, float] = {}
    totals: dict[str, float] = {}
    for region in p.regions:
        pes = region.pes
        whole = region_bytes(mow, p, region, sequences, length, act_tokens, context, chunk)
        whole["code"] = float(CODE_RESERVE_BYTES * pes)
        for key, value in whole.items():
            totals[key] = totals.get(key, 0.0) + value
        if sum(whole.values()) / pes > sum(peak.values()):
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


_UNITS: dict = {}


def _unit(arch, unit, shape, d, rows, cols, tokens, context, new_per_sequence, dequant, imbalance, gemm):
    """Cycles of one unit, memoised on the arch's and shape's identity (hashing them costs more than this)."""
    key = (
        id(arch),
        unit,
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
    if found is None or found[0] is not arch or found[1] is not shape:
        if len(_UNITS) > 200_000:
            _UNITS.clear()
        cost = _unit_cost(
            arch, unit, shape, d, rows, cols, tokens, context, new_per_sequence, dequant, imbalance, gemm
        )
        found = _UNITS[key] = (arch, shape, cost)
    return found[2]


def _unit_cost(arch, unit, shape, d, rows, cols, tokens, context, new_per_sequence, dequant, imbalance, gemm):
    if gemm and not unit.is_head:
        from wafersim.perf.wafer.prefill import prefill_cost

        return prefill_cost(arch, unit, shape, d, rows, cols, tokens, context, dequant, imbalance)
    return decode_cost(
        arch, unit, shape, d, rows, cols, tokens, context, new_per_sequence, dequant, imbalance
    )


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
        for u in region.units:
            cost = _unit(
                arch,
                u,
                None if u.is_head else mow.shapes[u.layer],
                d,
                r,
                c,
                tokens,
                context,
                new_per_sequence,
                mow.dequant,
                imbalance,
                gemm,
            )
            for i in range(3):
                parts[i] += cost[i]
        if any(u.is_head for u in region.units):
            heads += 1
            # Argmax over the head regions: a stream across the wafer.
            parts[2] += cf.stream(arch, height + width, 2 * (1 if gemm else tokens))
        if n == len(p.regions) - 1:
            handoff = 0
        stage = (sum(parts) + handoff) / hz
        busiest = max(busiest, stage)
        compute += parts[0] / hz
        sram += parts[1] / hz
        fabric += (parts[2] + handoff) / hz
        if region.wafer != previous_wafer:
            before = p.regions[n - 1]
            carry = 1 if (not before.units or before.units[-1].ends_layer) else 2
            edge = cf.stream(arch, height + width, carry * ceil_div(tokens * d, r)) / hz
            # The accumulator travels in the same message as the activation: one latency, twice the bytes.
            io += link + (carry - 1) * link_bytes / mow.system.scale_out.bw_bytes_per_s + 2 * edge
            previous_wafer = region.wafer
    # Sampled token to the host, its embedding row back in to the first wafer's first region.
    first = p.regions[0]
    edge = cf.stream(arch, height + width, ceil_div(tokens * d, first.rows)) / hz
    io += 2 * mow.system.scale_out.latency_s + link_bytes / mow.system.scale_out.bw_bytes_per_s + 2 * edge
    busiest = max(busiest, link)
    path = compute + sram + fabric + io
    return StepTime(path, busiest, micro_batches, compute, sram, fabric, io)


def kv_slot_bytes_per_pe(mow: ModelOnWafer, p: Placement, region: Region) -> float:
    """Bytes one PE of a layer region spends per token slot of KV cache: every attention unit of the region
    keeps its ceil(cache / R) cached dimensions of each token it holds (tokens are spread over the C columns,
    so the region holds C tokens per slot). Sliding-window layers count as full ones: a pool of tokens shared
    by many sequences cannot rely on a window to free them."""
    shapes = [mow.shapes[u.layer] for u in region.units if u.attn]
    return float(sum(ceil_div(s.cache_elems, region.rows) for s in shapes) * mow.kv_bytes)


def kv_capacity_tokens(mow: ModelOnWafer, p: Placement, act_tokens: int, context: int, chunk: int = 0) -> int:
    """Tokens of KV cache (pooled over sequences) the placement holds in the SRAM left after the weights (with
    tile padding), the code reserve and the activation workspace of `act_tokens`-token passes.

    The fullest region with attention sets it (every region must hold every cached token of its layers). A
    region with no room for its own workspace leaves 0. Counted with `region_bytes`, the accounting `sram_use`
    reports."""
    capacity: int | None = None
    for region in p.regions:
        fixed = sum(region_bytes(mow, p, region, 0, 0, act_tokens, context, chunk).values()) / region.pes
        free = mow.sram_per_pe - CODE_RESERVE_BYTES - fixed
        if free < 0:
            return 0
        slot = kv_slot_bytes_per_pe(mow, p, region)
        if slot == 0:
            continue
        tokens = int(free // slot) * region.cols
        capacity = tokens if capacity is None else min(capacity, tokens)
    return capacity or 0


def kv_bytes_per_token_per_wafer(mow: ModelOnWafer, p: Placement) -> float:
    """KV bytes per cached token on the wafer that holds the most of it (what each wafer's I/O carries when a
    request's KV moves: every wafer sends its own layers' share at once)."""
    per_wafer: dict[int, float] = {}
    for region in p.regions:
        added = sum(mow.shapes[u.layer].cache_elems for u in region.units if u.attn) * mow.kv_bytes
        per_wafer[region.wafer] = per_wafer.get(region.wafer, 0.0) + added
    return max(per_wafer.values())


def sram_budget(mow: ModelOnWafer, p: Placement, sram: Sram) -> dict[str, float]:
    """Where the SRAM of the wafers a placement uses goes, as fractions of it (they sum to 1): the model's
    weights (`placement_efficiency`), their tile padding, KV cache and its padding, activation workspace, the
    code reserve, and what is left (free room in regions, PEs outside every region)."""
    height, width = mow.fabric_hw
    usable = p.wafers * height * width * mow.arch.memory.sram_bytes_per_pe
    parts = {k: v / usable for k, v in sram.total_bytes.items()}
    parts["free"] = max(0.0, 1.0 - sum(parts.values()))
    return {"usable_bytes": float(usable), "placement_efficiency": mow.model_bytes_on_wafer / usable} | parts
