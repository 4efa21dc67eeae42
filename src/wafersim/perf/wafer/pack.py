"""Packing a model into the regions of one or more wafers, in pipeline order, as tightly as the SRAM allows.

The wafer is carved into the decode grid's regions plus the strips they leave (`pipeline.carve`); regions are
filled in order with the model's units — each layer's attention unit, then its FFN pieces, then the LM head's
vocabulary rows — up to a per-PE budget. A unit that does not fit whole is split where it can be (routed or
shared experts by groups, a dense MLP by intermediate columns, the head by vocabulary rows), so layers span
regions and wafers and no region is left half empty for want of a whole layer. The budget spreads the weights
evenly over the wafers asked for, leaving the rest of each PE to the KV cache. Everything here is a loop over
units and regions with a bounded count: a model that cannot be placed stops at the first unit that fits no
empty region, or when the wafers run out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wafersim.perf.wafer.closed_form import ceil_div
from wafersim.perf.wafer.layer import ACT_BYTES, FfnPiece
from wafersim.perf.wafer.pipeline import CODE_RESERVE_BYTES, ModelOnWafer, Placement, Region, carve
from wafersim.perf.wafer.units import (
    Unit,
    decode_act_elems,
    kv_elems,
    piece_size,
    split_piece,
    stagger_slack,
    tile_elems,
)


@dataclass
class _Open:
    """The region being filled: its shape and what it holds so far (bytes per PE)."""

    wafer: int
    index: int
    spot: tuple[int, int, int, int]
    units: list[Unit] = field(default_factory=list)
    fixed: float = 0.0  # weights and KV per PE
    act: float = 0.0  # the largest workspace per PE
    slack: float = 0.0  # the tiles' stagger slack per PE (one extra row and column of the largest tile)


class Packer:
    def __init__(
        self,
        mow: ModelOnWafer,
        rows: int,
        cols: int,
        length: int,
        context: int,
        budget: float,
        square: bool = False,
    ):
        self.mow, self.length, self.context = mow, length, context
        height, width = mow.fabric_hw
        self.rows, self.cols = rows, cols
        self.spots = carve(height, width, rows, cols, square=square)
        self.free = mow.sram_per_pe - CODE_RESERVE_BYTES
        self.budget = min(budget, self.free)  # weights + KV per PE, at most
        self._needs: dict[tuple[Unit, int, int], tuple[float, float, float]] = {}
        self._kinds: dict[tuple, tuple[float, float]] = {}

    def _need(self, region: _Open, unit: Unit) -> tuple[float, float, float]:
        key = (unit, region.spot[2], region.spot[3])
        found = self._needs.get(key)
        if found is None:
            found = self._needs[key] = self._measure(region, unit)
        return found

    def _measure(self, region: _Open, unit: Unit) -> tuple[float, float, float]:
        mow, (_, _, r, c) = self.mow, region.spot
        shape = None if unit.is_head else mow.shapes[unit.layer]
        d = mow.model.hidden_size
        fixed = tile_elems(unit, shape, d, r, c) * mow.weight_bytes
        fixed += kv_elems(unit, shape, r, c, 1, self.length) * mow.kv_bytes
        # Room for one decode token (a prefill chunk's GEMM buffers are checked per chunk size by the search;
        # prefill falls back to the decode kernels where they do not fit). Workspace and slack depend on the widths held, not on how many experts: shared by every split.
        kind = (
            unit.layer if shape is None else id(shape),
            unit.attn,
            unit.head_rows,
            tuple((p.width, p.experts > 1) for p in unit.pieces),
            r,
            c,
        )
        found = self._kinds.get(kind)
        if found is None:
            act = decode_act_elems(unit, shape, d, r, c, 1, self.context)
            slack = stagger_slack(unit, shape, d, r, c) * mow.weight_bytes
            found = self._kinds[kind] = (act * ACT_BYTES, slack)
        return fixed, found[0], found[1]

    def _fits(self, region: _Open, unit: Unit) -> bool:
        fixed, act, slack = self._need(region, unit)
        total = region.fixed + fixed + max(region.slack, slack)
        return total <= self.budget and total + max(region.act, act) <= self.free

    def _add(self, region: _Open, unit: Unit) -> None:
        fixed, act, slack = self._need(region, unit)
        region.fixed += fixed
        region.act = max(region.act, act)
        region.slack = max(region.slack, slack)
        last = region.units[-1] if region.units else None
        if last is not None and last.layer == unit.layer and not last.is_head and not unit.is_head:
            # The same layer continues on the same PEs: one unit (its kernels run back to back).
            merged = Unit(unit.layer, last.attn or unit.attn, last.pieces + unit.pieces, 0, unit.ends_layer)
            region.units[-1] = merged
        else:
            region.units.append(unit)

    def _largest_part(self, region: _Open, unit: Unit) -> tuple[Unit, Unit] | None:
        """The biggest leading part of a splittable unit that fits the region, and the rest."""
        if unit.is_head:
            rows = unit.head_rows
            step = max(1, rows // 256)
            size = ceil_div(rows, step)

            def part(k: int) -> tuple[Unit, Unit]:
                return Unit(-1, False, (), k * step), Unit(-1, False, (), rows - k * step)
        elif not unit.attn and len(unit.pieces) == 1:
            piece: FfnPiece = unit.pieces[0]
            # A single MLP splits by intermediate columns in 1/64 steps (enough to fill a region closely).
            step = 1 if piece.experts > 1 else max(1, piece.width // 64)
            size = ceil_div(piece_size(piece), step)

            def part(k: int) -> tuple[Unit, Unit]:
                a, b = split_piece(piece, k * step)
                return Unit(unit.layer, False, (a,), 0, False), Unit(
                    unit.layer, False, (b,), 0, unit.ends_layer
                )
        else:
            return None
        if size < 2 or not self._fits(region, part(1)[0]):
            return None
        # The need grows linearly with the parts kept (weights per PE); estimate from one part, then step down
        # to one that fits (the workspace and stagger slack barely change with k).
        one = self._need(region, part(1)[0])
        two = self._need(region, part(2)[0]) if size > 2 else one
        per = max(two[0] - one[0], 1e-9)
        room = (
            min(self.budget, self.free - max(region.act, one[1])) - region.fixed - max(region.slack, one[2])
        )
        k = max(1, min(size - 1, int((room - one[0]) / per) + 1))
        while k > 1 and not self._fits(region, part(k)[0]):
            k = max(1, k - max(1, k // 64))
        return part(k)

    def atoms(self) -> list[Unit]:
        out: list[Unit] = []
        for i, shape in enumerate(self.mow.shapes):
            out.append(Unit(i, True, (), 0, not shape.pieces))
            out += [
                Unit(i, False, (piece,), 0, j == len(shape.pieces) - 1)
                for j, piece in enumerate(shape.pieces)
            ]
        out.append(Unit(-1, False, (), self.mow.model.vocab_size))
        return out

    def pack(self, max_wafers: int) -> Placement | None:
        """Fill regions in order; None if the model needs more than `max_wafers` wafers or a unit fits no
        empty region of this carving."""
        per_wafer = len(self.spots)
        done: list[_Open] = []
        n = 0
        region = _Open(0, 0, self.spots[0])
        for atom in self.atoms():
            pending: Unit | None = atom
            idle = 0
            while pending is not None:
                if self._fits(region, pending):
                    self._add(region, pending)
                    pending = None
                    continue
                split = self._largest_part(region, pending)
                if split is not None:
                    self._add(region, split[0])
                    pending = split[1]
                if not region.units:
                    idle += 1
                    if idle > per_wafer:
                        return None  # this unit fits no region of the carving, even empty
                else:
                    done.append(region)
                n += 1
                if n // per_wafer >= max_wafers:
                    return None
                region = _Open(n // per_wafer, n % per_wafer, self.spots[n % per_wafer])
        if region.units:
            done.append(region)
        return self._placement(done)

    def _placement(self, opened: list[_Open]) -> Placement:
        regions = []
        for o in opened:
            y, x, r, c = o.spot
            layers = [u.layer for u in o.units if not u.is_head]
            head_rows = sum(u.head_rows for u in o.units)
            kind = "layers" if layers else "head"
            first, last = (min(layers), max(layers) + 1) if layers else (0, 0)
            regions.append(Region(o.wafer, o.index, kind, first, last, head_rows, tuple(o.units), y, x, r, c))
        height, width = self.mow.fabric_hw
        grid = (height // self.rows, width // self.cols)
        most = max(len({u.layer for u in r.units if not u.is_head}) for r in regions)
        heads = sum(1 for r in regions if any(u.is_head for u in r.units))
        return Placement(self.rows, self.cols, grid, most, regions[-1].wafer + 1, heads, tuple(regions))


def even_budget(
    mow: ModelOnWafer, rows: int, cols: int, wafers: int, slack: float, square: bool = False
) -> float:
    """Weights per PE if the model were spread evenly over `wafers` wafers of this carving, times `slack`
    (tile padding and whole-unit granularity), plus one sequence's KV cache share."""
    height, width = mow.fabric_hw
    pes = sum(r * c for _, _, r, c in carve(height, width, rows, cols, square=square)) * wafers
    return mow.model_bytes_on_wafer / pes * slack + ceil_div(mow.sram_per_pe, 64)
