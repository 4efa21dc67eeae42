"""What a placement holds in SRAM: per region and per PE, the weights (with their tile padding), the KV cache,
the activation workspace and the code reserve; whether a batch fits; how many KV tokens the SRAM left holds.

Every PE of a region allocates the same tile sizes (SPMD), so a region's bytes are the per-PE tile times its
PEs. A placement is measured at many batch sizes and workspaces while it is searched, so the parts that do not
depend on them are computed once per placement (memoised on the objects' identity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

from wafersim.perf.wafer.closed_form import ceil_div
from wafersim.perf.wafer.layer import ACT_BYTES, LayerShape
from wafersim.perf.wafer.placement import CODE_RESERVE_BYTES, ModelOnWafer, Placement, Region, unit_kind
from wafersim.perf.wafer.units import (
    Unit,
    decode_act_elems,
    kv_elems,
    kv_exact_elems,
    stagger_slack,
    tile_elems,
    weight_elems,
)


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
        shape, kind = _shape_of(mow, u), unit_kind(u)
        owners = (kind, shape)
        key = ("decode_act", id(kind), id(shape), d, r, c, act_tokens, context)
        act = partial(decode_act_elems, kind, shape, d, r, c, act_tokens, context)
        best = max(best, _memo(key, owners, act))
        if chunk:
            key = ("prefill_act", id(kind), id(shape), d, r, c, chunk, context, imbalance)
            act = partial(prefill_act_elems, kind, shape, d, r, c, chunk, context, imbalance)
            best = max(best, _memo(key, owners, act))
    return best


def _first_head(p: Placement) -> Region | None:
    def compute() -> Region | None:
        return next((r for r in p.regions if any(u.is_head for u in r.units)), None)

    return _memo(("first_head", id(p)), (p,), compute)


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
    act = _act(mow, region, act_tokens, context, chunk)
    whole = _whole(mow, _static(mow, p, region, length), act, pes, sequences)
    return dict(zip(_KEYS[:-1], whole[:-1], strict=True))  # the code reserve is not the model's


# The parts of a region's bytes, in the order every total sums them (the same order gives the same floats).
_KEYS = ("weights", "weight_padding", "kv_cache", "kv_padding", "activations", "code")


def _whole(mow: ModelOnWafer, static: tuple, act: int, pes: int, sequences: int) -> tuple[float, ...]:
    """A region's bytes by part (`_KEYS`): its static weight and KV figures, workspace, PEs and sequences."""
    tiles, exact, kv_tiles, kv_exact = static
    return (
        float(exact * mow.weight_bytes),
        float((tiles * pes - exact) * mow.weight_bytes),
        float(sequences * kv_exact * mow.kv_bytes),
        float(sequences * (kv_tiles * pes - kv_exact) * mow.kv_bytes),
        float(act * ACT_BYTES * pes),
        float(CODE_RESERVE_BYTES * pes),
    )


def _act(mow: ModelOnWafer, region: Region, act_tokens: int, context: int, chunk: int) -> int:
    return _memo(
        ("act", id(mow), id(region), act_tokens, context, chunk),
        (mow, region),
        lambda: workspace_elems(mow, region, act_tokens, context, chunk),
    )


def _kinds(mow: ModelOnWafer, p: Placement) -> tuple[list[Region], list[int]]:
    """Regions of one shape holding the same units (by kind and layer shape) hold the same bytes: one region
    per such kind, and each region's kind in pipeline order (a dense model's regions come in a few kinds)."""

    def compute() -> tuple[list[Region], list[int]]:
        first_head = _first_head(p)
        index: dict[tuple, int] = {}
        kinds: list[Region] = []
        of: list[int] = []
        for region in p.regions:
            units = tuple((id(unit_kind(u)), id(_shape_of(mow, u))) for u in region.units)
            key = (region.rows, region.cols, region is first_head, units)
            if key not in index:
                index[key] = len(kinds)
                kinds.append(region)
            of.append(index[key])
        return kinds, of

    return _memo(("kinds", id(mow), id(p)), (mow, p), compute)


def _region_parts(
    mow: ModelOnWafer, p: Placement, sequences: int, length: int, act_tokens: int, context: int, chunk: int
) -> tuple[list[tuple[int, tuple[float, ...]]], list[int]]:
    """(PEs, bytes by part) of each kind of region (`_kinds`), and each region's kind in pipeline order: what
    every placement-wide total sums. Static figures and workspaces are looked up once per placement (a
    search measures each placement at dozens of batches)."""
    kinds, of = _kinds(mow, p)
    statics = _memo(
        ("statics", id(mow), id(p), length), (mow, p), lambda: [_static(mow, p, r, length) for r in kinds]
    )
    acts = _memo(
        ("acts", id(mow), id(p), act_tokens, context, chunk),
        (mow, p),
        lambda: [_act(mow, r, act_tokens, context, chunk) for r in kinds],
    )
    parts = [
        (r.pes, _whole(mow, static, act, r.pes, sequences))
        for r, static, act in zip(kinds, statics, acts, strict=True)
    ]
    return parts, of


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
            tile, unit_slack, unit_exact, unit_kv_tiles, unit_kv_exact = _unit_static(mow, u, r, c, length)
            tiles += tile
            slack = max(slack, unit_slack)
            exact += unit_exact
            kv_tiles += unit_kv_tiles
            kv_exact += unit_kv_exact
        if any(u.is_head for u in region.units) and region is _first_head(p):
            exact += d  # the final norm's weights, counted once (its copies on every row are padding)
        return math.ceil(tiles) + slack, exact, kv_tiles, kv_exact

    return _memo(("static", id(mow), id(p), id(region), length), (mow, p, region), compute)


def _unit_static(mow: ModelOnWafer, u: Unit, r: int, c: int, length: int) -> tuple:
    """(weight tile elements per PE, stagger slack, exact weight elements, KV elements per PE and exact, per
    sequence) of one unit on an r x c region: one entry per unit kind (`unit_kind`), shared by the layers."""
    shape = _shape_of(mow, u)
    kind = unit_kind(u)
    d = mow.model.hidden_size

    def compute() -> tuple:
        return (
            tile_elems(kind, shape, d, r, c),
            stagger_slack(kind, shape, d, r, c),
            weight_elems(kind, shape, d),
            kv_elems(kind, shape, r, c, 1, length),
            kv_exact_elems(kind, shape, 1, length),
        )

    return _memo(("unit", id(kind), id(shape), d, r, c, length), (kind, shape), compute)


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
    parts, of = _region_parts(mow, p, sequences, length, act_tokens, context, chunk)
    per_pe = [sum(whole[:-1]) / pes + CODE_RESERVE_BYTES for pes, whole in parts]
    return [per_pe[k] for k in of]


def sram_use(
    mow: ModelOnWafer,
    p: Placement,
    sequences: int,
    length: int,
    act_tokens: int,
    context: int,
    chunk: int = 0,
) -> Sram:
    parts, of = _region_parts(mow, p, sequences, length, act_tokens, context, chunk)
    peak: dict[str, float] = {}
    totals: dict[str, float] = {}
    for k in of:
        pes, whole = parts[k]
        for key, value in zip(_KEYS, whole, strict=True):
            totals[key] = totals.get(key, 0.0) + value
        if sum(whole) / pes > sum(peak.values()):
            peak = {key: value / pes for key, value in zip(_KEYS, whole, strict=True)}
    return Sram(peak, totals)


def peak_per_pe(
    mow: ModelOnWafer,
    p: Placement,
    sequences: int,
    length: int,
    act_tokens: int,
    context: int,
    chunk: int = 0,
) -> float:
    """`sram_use(...).peak_per_pe` (the same sums in the same order) without building its breakdowns."""
    parts, of = _region_parts(mow, p, sequences, length, act_tokens, context, chunk)
    totals = [sum(whole) / pes for pes, whole in parts]
    per_pe = [sum(value / pes for value in whole) for pes, whole in parts]
    peak = 0.0
    for k in of:
        if totals[k] > peak:
            peak = per_pe[k]
    return peak


def fits(
    mow: ModelOnWafer,
    p: Placement,
    sequences: int,
    length: int,
    act_tokens: int,
    context: int,
    chunk: int = 0,
) -> bool:
    """Whether `sequences` sequences of `length` tokens (KV cache) and the workspace of an `act_tokens`-token
    pass at `context` (with a `chunk`-token prefill chunk in the GEMM layout) fit every PE beside the
    weights."""
    return peak_per_pe(mow, p, sequences, length, act_tokens, context, chunk) <= mow.sram_per_pe


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
