"""A placement of a whole model on one or more wafers: the model's per-layer shapes and storage widths, and the
regions of the wafers that hold its layers, in pipeline order.

A wafer's program rectangle is cut into a grid of equal R x C regions. Region by region (snake order, so that
consecutive regions are neighbours) the pipeline holds the decoder layers, k consecutive layers per region, then
the LM head (vocabulary rows split over as many regions as its SRAM needs). A token's activation walks the
regions in order, crossing to the next wafer over the system's I/O (12 x 100 GbE, `scale_out` in the catalog)
where a wafer is full. The token-embedding table stays on the host: a lookup is one row (hidden x 2 bytes)
with no arithmetic, so streaming it in over the I/O each step costs ~0.1 us of bandwidth plus the link latency,
while holding the table would take 1-4 GB of SRAM. The sampled token goes back to the host for that lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from wafersim.catalog import ModelSpec, SystemSpec
from wafersim.catalog.fabric_arch import FabricArch
from wafersim.perf.wafer.closed_form import ceil_div
from wafersim.perf.wafer.layer import ACT_BYTES, LayerShape, layer_shape
from wafersim.perf.wafer.units import Unit, whole_layer

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


_KINDS: dict[int, tuple[Unit, Unit]] = {}  # id(unit) -> (unit, its kind)
_CANONICAL: dict[Unit, Unit] = {}  # one object per kind, so that memos may key kinds by identity


def unit_kind(unit: Unit) -> Unit:
    """The unit without its layer index (the head keeps its -1), one object per kind: what a unit costs and
    stores depends on its layer only through the layer's shape, so memos keyed on this are shared by every
    layer of one shape. Memoised on the unit's identity (the entry keeps it alive): placements hand the same
    units to every measurement."""
    found = _KINDS.get(id(unit))
    if found is None or found[0] is not unit:
        if len(_KINDS) > 200_000:
            _KINDS.clear()
            _CANONICAL.clear()  # memos check their kinds by identity: a new object for a kind only misses
        kind = unit if unit.layer <= 0 else replace(unit, layer=0)
        found = _KINDS[id(unit)] = (unit, _CANONICAL.setdefault(kind, kind))
    return found[1]
