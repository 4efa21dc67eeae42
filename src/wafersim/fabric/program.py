"""The SPMD program representation both engines execute.

A Program covers a rectangle of `rows` x `cols` PEs. It declares per-PE memory symbols (SRAM is accounted and the
per-PE limit enforced at declaration) and named functions; a function is a list of Steps. A Step holds local
vector computations (`Compute`, vectorized over a region and parameterised by PE coordinates) and communication
patterns (`patterns.py`) that run concurrently within the step; the next step starts when every PE has finished
the current one and the fabric is drained (bulk-synchronous steps; see docs/fabric.md for what that implies).

Coordinates follow the vendor SDK: x is the column (grows East), y the row (grows South). Memory arrays are
indexed [y, x, element].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from wafersim.catalog.fabric_arch import FabricArch
from wafersim.errors import WafersimError
from wafersim.fabric.dtypes import DType

# fn(memory, ys, xs) updates memory over the PE rows `ys` and columns `xs` (slices), vectorized over PEs.
ComputeFn = Callable[["Memory", slice, slice], None]


@dataclass(frozen=True)
class Symbol:
    name: str
    elems_per_pe: int
    dtype: DType

    @property
    def bytes_per_pe(self) -> int:
        return self.elems_per_pe * self.dtype.itemsize_bytes


class Memory:
    """The SRAM contents of every PE, one array per symbol with shape (rows, cols, elems)."""

    def __init__(self, rows: int, cols: int, symbols: dict[str, Symbol]):
        self.rows, self.cols = rows, cols
        self.arrays = {
            s.name: np.zeros((rows, cols, s.elems_per_pe), dtype=s.dtype.storage) for s in symbols.values()
        }

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.arrays[name]
        except KeyError:
            raise WafersimError(f"no symbol '{name}' in program memory") from None


@dataclass(frozen=True)
class Compute:
    """A local vector operation: `fn` does the arithmetic, `cycles` (scalar or (rows, cols)) its cost.

    `region` = (x0, y0, w, h) restricts it to a rectangular code region, as the SDK's code regions do; by default
    it runs on every PE of the program. Either way the code is SPMD: one fn, parameterised by coordinates.
    """

    name: str
    fn: ComputeFn
    cycles: int | np.ndarray
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    region: tuple[int, int, int, int] | None = None

    def slices(self, rows: int, cols: int) -> tuple[slice, slice]:
        """(ys, xs) of the PEs this computation runs on."""
        if self.region is None:
            return slice(0, rows), slice(0, cols)
        x0, y0, w, h = self.region
        return slice(y0, y0 + h), slice(x0, x0 + w)

    def cycles_grid(self, rows: int, cols: int) -> np.ndarray:
        """Cycles per PE of the program (zero outside the region)."""
        grid = np.broadcast_to(np.asarray(self.cycles, dtype=np.int64), (rows, cols))
        if self.region is None:
            return grid
        inside = np.zeros((rows, cols), dtype=np.int64)
        ys, xs = self.slices(rows, cols)
        inside[ys, xs] = grid[ys, xs]
        return inside


@dataclass(frozen=True)
class Step:
    name: str
    computes: tuple[Compute, ...] = ()
    patterns: tuple = ()  # tuple[patterns.Pattern, ...]


@dataclass
class Program:
    arch: FabricArch
    rows: int
    cols: int
    dtype: DType
    name: str = "program"
    symbols: dict[str, Symbol] = field(default_factory=dict)
    functions: dict[str, list[Step]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        max_rows = self.arch.fabric.program_height_pes
        max_cols = self.arch.fabric.program_width_pes
        if not (1 <= self.rows <= max_rows and 1 <= self.cols <= max_cols):
            raise WafersimError(
                f"grid {self.rows}x{self.cols} does not fit the {self.arch.name} program rectangle "
                f"{max_rows}x{max_cols} (rows x cols)"
            )

    @property
    def sram_bytes_per_pe(self) -> int:
        return sum(s.bytes_per_pe for s in self.symbols.values())

    def symbol(self, name: str, elems_per_pe: int, dtype: DType | None = None) -> Symbol:
        """Declare a per-PE array; raises when the PE's SRAM would overflow."""
        if name in self.symbols:
            raise WafersimError(f"symbol '{name}' declared twice")
        if elems_per_pe < 1:
            raise WafersimError(f"symbol '{name}': elems_per_pe must be >= 1, got {elems_per_pe}")
        sym = Symbol(name, int(elems_per_pe), dtype or self.dtype)
        limit = self.arch.memory.sram_bytes_per_pe
        total = self.sram_bytes_per_pe + sym.bytes_per_pe
        if total > limit:
            raise WafersimError(
                f"PE (x=0, y=0) (and every PE of the {self.rows}x{self.cols} program): symbol '{name}' needs "
                f"{sym.bytes_per_pe} B, bringing SRAM use to {total} B > {limit} B per PE on {self.arch.name}"
            )
        self.symbols[name] = sym
        return sym

    def function(self, name: str, steps: Sequence[Step]) -> None:
        self.functions[name] = list(steps)

    def new_memory(self) -> Memory:
        return Memory(self.rows, self.cols, self.symbols)

    def colors_used(self) -> list[int]:
        colors: set[int] = set()
        for steps in self.functions.values():
            for step in steps:
                for pattern in step.patterns:
                    colors.update(pattern.colors)
        return sorted(colors)

    def validate(self) -> None:
        """Static checks shared by both engines: symbols, colors, and route conflicts between patterns."""
        from wafersim.fabric.routing import check_step_routes

        limit = self.arch.kernel_colors
        routable = self.arch.router.routable_colors
        colors = self.colors_used()
        for color in colors:
            if not 0 <= color < routable:
                raise WafersimError(f"color {color} is not a routable color id (0..{routable - 1})")
        if len(colors) > limit:
            raise WafersimError(
                f"program uses {len(colors)} colors ({colors}); {self.arch.name} routes {routable} colors of which "
                f"{self.arch.router.memcpy_reserved_colors} are reserved by memcpy, leaving {limit}; "
                f"color {colors[limit]} is one too many"
            )
        for fname, steps in self.functions.items():
            for step in steps:
                where = f"function '{fname}' step '{step.name}'"
                reads: set[str] = set()
                writes: set[str] = set()
                for item in (*step.computes, *step.patterns):
                    for sym in (*item.reads, *item.writes):
                        if sym not in self.symbols:
                            raise WafersimError(f"{where}: '{item.name}' uses undeclared symbol '{sym}'")
                    clash = (set(item.writes) & (reads | writes)) | (set(item.reads) & writes)
                    if clash:
                        raise WafersimError(
                            f"{where}: '{item.name}' touches symbol(s) {sorted(clash)} that another operation of "
                            "the same step writes or reads; they run concurrently, so split them into two steps"
                        )
                    reads.update(item.reads)
                    writes.update(item.writes)
                for compute in step.computes:
                    if compute.region is not None:
                        x0, y0, w, h = compute.region
                        if w < 1 or h < 1 or x0 < 0 or y0 < 0 or x0 + w > self.cols or y0 + h > self.rows:
                            raise WafersimError(
                                f"{where}: '{compute.name}' code region x0={x0} y0={y0} w={w} h={h} is outside "
                                f"the {self.rows}x{self.cols} program (rows x cols)"
                            )
                for pattern in step.patterns:
                    pattern.check(self)
                check_step_routes(self, step, where)


def pe_coords(ys: slice, xs: slice) -> tuple[np.ndarray, np.ndarray]:
    """Row and column index grids (shape (h, w, 1)) of a region, for SPMD code parameterised by coordinates."""
    yy, xx = np.meshgrid(np.arange(ys.start, ys.stop), np.arange(xs.start, xs.stop), indexing="ij")
    return yy[..., None], xx[..., None]
