"""Matrix products C = A B (A: M x K, B: K x N), one block of each matrix per PE (zero-padded).

Cannon and MeshGEMM need a square P x P grid (blocks ceil(M/P) x ceil(K/P), ...); SUMMA runs on any R x C grid.
The local block product is one column FMA of length mb per (k, n) pair.

- `gemm-summa` (van de Geijn & Watts, "SUMMA", 1997; the SDK's gemm-collectives_2d): K is cut into lcm(R, C)
  panels; in step s the column owning panel s multicasts its A panel along the rows and the row owning it its B
  panel down the columns, then every PE accumulates (broadcast, wait, compute, as the SDK example does). Each
  step pays a multicast across the whole line, and the root moves: every root position needs its own route
  configuration at each PE, a router holds `route_positions_per_color` per color, so the roots are spread over
  ceil(roots / positions) colors per axis; when the kernel's colors cannot hold that, the broadcast of that axis
  is relayed through every core (`RelayCast`: each hop pays two ramp crossings, each core streams the block in
  and out) - WaferLLM's limited-routing argument against SUMMA on a wafer.
- `gemm-cannon` (Cannon, 1969): the initial alignment (row i of A turned i places, column j of B j places) runs
  on the fabric as neighbour shifts (or, with skew='host', comes from the host placement), then P rounds of local
  product and a cyclic shift of A one PE west and B one PE north, the shift streaming while the core computes; the
  wrap-around stream crosses the whole line.
- `meshgemm` (WaferLLM, He et al., OSDI 2025): Cannon's algorithm on logical rings laid out interleaved (even
  positions ascending, odd descending), so every logical neighbour is at most 2 hops away and the shift's
  critical path is constant instead of growing with P.
"""

from __future__ import annotations

import math

import numpy as np

from wafersim.catalog.fabric_arch import FabricArch
from wafersim.errors import WafersimError
from wafersim.fabric.costs import gemm_cycles, vector_cycles
from wafersim.fabric.dtypes import DType
from wafersim.fabric.kernels.base import Arrays, Built, ceil_div, tile
from wafersim.fabric.patterns import Multicast, Shift
from wafersim.fabric.program import Compute, Program, Step, pe_coords
from wafersim.fabric.relays import RelayCast
from wafersim.fabric.routing import interleaved_ring
from wafersim.fabric.runtime import Runtime


def block_product(program: Program, mb: int, kb: int, nb: int, a: str, b: str, c: str, name: str) -> Compute:
    """C += A B on every PE (Cannon, MeshGEMM)."""
    dtype = program.dtype

    def fn(memory, ys: slice, xs: slice) -> None:
        a_blocks, b_blocks = memory[a][ys, xs], memory[b][ys, xs]
        h, w = a_blocks.shape[:2]
        a_cols = a_blocks.reshape(h, w, kb, mb)  # column-major A: column kk is contiguous
        b_rows = b_blocks.reshape(h, w, kb, nb)  # row-major B: B[kk, j]
        acc = memory[c][ys, xs].reshape(h, w, nb, mb)  # column-major C
        for kk in range(kb):
            acc = dtype.fma(acc, a_cols[:, :, None, kk, :], b_rows[:, :, kk, :, None])
        memory[c][ys, xs] = acc.reshape(h, w, nb * mb)

    return Compute(name, fn, gemm_cycles(program.arch, dtype, mb, kb, nb), reads=(a, b), writes=(c,))


def _setup(arch: FabricArch, rows: int, cols: int, dtype: DType, m: int, k: int, n: int, name: str):
    if rows != cols:
        raise WafersimError(f"{name} needs a square grid (P x P); got {rows}x{cols}")
    program = Program(arch, rows, cols, dtype, name=name)
    mb, kb, nb = ceil_div(m, rows), ceil_div(k, rows), ceil_div(n, rows)
    return program, rows, mb, kb, nb


def _a_layout(blocks: np.ndarray) -> np.ndarray:  # (P, P, mb, kb) -> column-major per PE
    p = blocks.shape[0]
    return blocks.swapaxes(2, 3).reshape(p, p, -1)


def _b_layout(blocks: np.ndarray) -> np.ndarray:  # (P, P, kb, nb) -> row-major per PE
    p = blocks.shape[0]
    return blocks.reshape(p, p, -1)


def _inputs(m: int, k: int, n: int):
    return lambda rng: {"A": rng.standard_normal((m, k)), "B": rng.standard_normal((k, n))}


def _reference(inputs: Arrays) -> Arrays:
    return {"C": np.asarray(inputs["A"], dtype=np.float64) @ np.asarray(inputs["B"], dtype=np.float64)}


def _read_c(
    runtime: Runtime,
    rows: int,
    cols: int,
    mb: int,
    nb: int,
    m: int,
    n: int,
    row_order: list[int],
    col_order: list[int],
) -> np.ndarray:
    """C from the PEs; logical block (i, j) lives at physical (y=row_order[i], x=col_order[j])."""
    raw = (
        runtime.memcpy_d2h("C", 0, 0, cols, rows).reshape(rows, cols, nb, mb).swapaxes(2, 3)
    )  # (y, x, mb, nb)
    logical = raw[np.ix_(row_order, col_order)]
    return logical.swapaxes(1, 2).reshape(rows * mb, cols * nb)[:m, :n]


SUMMA_MAX_PANELS = 4096


def _panel_product(
    program: Program, mb: int, kp: int, nb: int, s: int, a_root: int, a_off: int, b_root: int, b_off: int
) -> Compute:
    """C += A_panel B_panel; the owner column (row) reads its own A (B) panel, the others the multicast copy."""
    dtype = program.dtype

    def fn(memory, ys: slice, xs: slice) -> None:
        yy, xx = pe_coords(ys, xs)
        a_panel = np.where(xx == a_root, memory["A"][ys, xs, a_off : a_off + mb * kp], memory["Abuf"][ys, xs])
        b_panel = np.where(yy == b_root, memory["B"][ys, xs, b_off : b_off + kp * nb], memory["Bbuf"][ys, xs])
        h, w = a_panel.shape[:2]
        a_cols = a_panel.reshape(h, w, kp, mb)
        b_rows = b_panel.reshape(h, w, kp, nb)
        acc = memory["C"][ys, xs].reshape(h, w, nb, mb)
        for kk in range(kp):
            acc = dtype.fma(acc, a_cols[:, :, None, kk, :], b_rows[:, :, kk, :, None])
        memory["C"][ys, xs] = acc.reshape(h, w, nb * mb)

    return Compute(
        f"panel_product{s}",
        fn,
        gemm_cycles(program.arch, dtype, mb, kp, nb),
        reads=("A", "B", "Abuf", "Bbuf"),
        writes=("C",),
    )


def summa_broadcast_plan(arch: FabricArch, rows: int, cols: int) -> dict[str, tuple[str, tuple[int, ...]]]:
    """How SUMMA broadcasts along each axis: ("multicast", colors the roots rotate over: statically routed, each
    color's routers switching among at most `route_positions_per_color` roots) or ("relay", 4 colors: relayed
    through every core). Relays replace the axis with more roots first, until the kernel's colors suffice."""
    positions = arch.router.route_positions_per_color
    roots = {"x": cols, "y": rows}  # A is broadcast along rows from one of `cols` roots, B down columns
    relayed: set[str] = set()

    def needed(axis: str) -> int:
        if roots[axis] == 1:
            return 0
        return 4 if axis in relayed else math.ceil(roots[axis] / positions)

    while needed("x") + needed("y") > arch.kernel_colors:
        left = [a for a in ("x", "y") if a not in relayed and roots[a] > 1]
        if not left:
            raise WafersimError(
                f"gemm-summa on {rows}x{cols}: its relayed broadcasts need {needed('x') + needed('y')} colors and "
                f"{arch.name} leaves {arch.kernel_colors} to kernels"
            )
        relayed.add(max(left, key=lambda a: roots[a]))
    plan = {}
    first = 0
    for axis in ("x", "y"):
        colors = tuple(range(first, first + needed(axis)))
        plan[axis] = ("relay" if axis in relayed else "multicast", colors)
        first += len(colors)
    return plan


def _summa_broadcast(
    plan: dict, axis: str, root: int, name: str, src: str, n: int, length: int, src_off: int
) -> Multicast | RelayCast:
    kind, colors = plan[axis]
    dst = "Abuf" if axis == "x" else "Bbuf"
    if kind == "relay":
        return RelayCast(name, axis, root, src, dst, n, colors, length, src_off=src_off)
    return Multicast(name, axis, root, src, dst, n, colors[root % len(colors)], length, src_off=src_off)


def build_summa(arch: FabricArch, rows: int, cols: int, dtype: DType, m: int, k: int, n: int) -> Built:
    """SUMMA on any R x C grid: K is cut into lcm(R, C) panels, so each panel lies in one column's A blocks and
    one row's B blocks; step s multicasts panel s of A along the rows and of B down the columns (routes and relays:
    see `summa_broadcast_plan`)."""
    panels = math.lcm(rows, cols)
    if panels > SUMMA_MAX_PANELS:
        raise WafersimError(
            f"gemm-summa on {rows}x{cols} needs lcm({rows}, {cols}) = {panels} panel steps (limit "
            f"{SUMMA_MAX_PANELS}); use a grid whose dimensions share more factors"
        )
    program = Program(arch, rows, cols, dtype, name="gemm-summa")
    mb, nb, kp = ceil_div(m, rows), ceil_div(n, cols), ceil_div(k, panels)
    a_panels, b_panels = panels // cols, panels // rows  # panels in one PE's A block / B block
    for sym, size in (
        ("A", mb * kp * a_panels),
        ("B", kp * nb * b_panels),
        ("Abuf", mb * kp),
        ("Bbuf", kp * nb),
        ("C", mb * nb),
    ):
        program.symbol(sym, size)
    plan = summa_broadcast_plan(arch, rows, cols)
    steps = []
    for s in range(panels):
        a_root, a_off = s // a_panels, (s % a_panels) * mb * kp
        b_root, b_off = s // b_panels, (s % b_panels) * kp * nb
        patterns = []
        if cols > 1:
            patterns.append(_summa_broadcast(plan, "x", a_root, f"A_row_bcast{s}", "A", mb * kp, cols, a_off))
        if rows > 1:
            patterns.append(_summa_broadcast(plan, "y", b_root, f"B_col_bcast{s}", "B", kp * nb, rows, b_off))
        if patterns:
            steps.append(Step(f"bcast{s}", patterns=tuple(patterns)))
        steps.append(
            Step(
                f"product{s}",
                computes=(_panel_product(program, mb, kp, nb, s, a_root, a_off, b_root, b_off),),
            )
        )
    program.function("gemm", steps)

    def load(runtime: Runtime, inputs: Arrays) -> None:
        a_blocks = tile(inputs["A"], rows, cols, mb, a_panels * kp)
        b_blocks = tile(inputs["B"], rows, cols, b_panels * kp, nb)
        runtime.memcpy_h2d("A", a_blocks.swapaxes(2, 3).reshape(rows, cols, -1), 0, 0, cols, rows)
        runtime.memcpy_h2d("B", b_blocks.reshape(rows, cols, -1), 0, 0, cols, rows)

    def unload(runtime: Runtime) -> Arrays:
        return {"C": _read_c(runtime, rows, cols, mb, nb, m, n, list(range(rows)), list(range(cols)))}

    return Built(
        program,
        "gemm",
        _inputs(m, k, n),
        load,
        unload,
        _reference,
        {"m": m, "k": k, "n": n},
        (m * k + k * n) * 8 * 3,
    )  # float64 draws, padded tiles, per-PE layouts


def _skew_steps(
    program: Program, p: int, order: list[int], dest: tuple[int, ...], mb: int, kb: int, nb: int
) -> list[Step]:
    """Cannon's initial alignment on the fabric: logical row i of A turns i places left and logical column j of
    B i places up, one neighbour shift per step on the lines still turning. A line that turned i times holds its
    block in buffer i % 2, so a final local copy brings the odd ones back to buffer 0."""
    steps = []
    for j in range(1, p):
        cur, nxt = (j - 1) % 2, j % 2
        lines = tuple(order[i] for i in range(j, p))
        steps.append(
            Step(
                f"skew{j}",
                patterns=(
                    Shift(f"A_skew{j}", "x", dest, f"A{cur}", f"A{nxt}", mb * kb, (0, 1, 2, 3), lines=lines),
                    Shift(f"B_skew{j}", "y", dest, f"B{cur}", f"B{nxt}", kb * nb, (4, 5, 6, 7), lines=lines),
                ),
            )
        )
    odd = np.zeros(p, dtype=bool)
    odd[[order[i] for i in range(1, p, 2)]] = True  # physical lines with an odd logical index
    if not odd.any():
        return steps

    def copy(name: str, size: int, by_row: bool) -> Compute:
        mask = odd[:, None] if by_row else odd[None, :]  # (rows, cols) after broadcasting

        def fn(memory, ys: slice, xs: slice) -> None:
            where = np.broadcast_to(mask, (p, p))[ys, xs][..., None]
            memory[f"{name}0"][ys, xs] = np.where(
                where, memory[f"{name}1"][ys, xs], memory[f"{name}0"][ys, xs]
            )

        # A copy issues at the add width of the type (no published width for moves).
        cycles = np.where(
            np.broadcast_to(mask, (p, p)), vector_cycles(program.arch, "add", program.dtype, size), 0
        )
        return Compute(f"{name}_skew_gather", fn, cycles, reads=(f"{name}1",), writes=(f"{name}0",))

    steps.append(Step("skew_gather", computes=(copy("A", mb * kb, True), copy("B", kb * nb, False))))
    return steps


def build_cannon(
    arch: FabricArch,
    rows: int,
    cols: int,
    dtype: DType,
    m: int,
    k: int,
    n: int,
    interleaved: bool = False,
    skew: str = "fabric",
) -> Built:
    """skew='fabric': the initial alignment runs on the fabric (activations arriving unskewed); skew='host': the
    host places the blocks already aligned (weights resident in SRAM), and the alignment is free."""
    name = "meshgemm" if interleaved else "gemm-cannon"
    if skew not in ("fabric", "host"):
        raise WafersimError(f"{name}: skew must be 'fabric' or 'host', got {skew!r}")
    program, p, mb, kb, nb = _setup(arch, rows, cols, dtype, m, k, n, name)
    for sym, size in (("A0", mb * kb), ("A1", mb * kb), ("B0", kb * nb), ("B1", kb * nb), ("C", mb * nb)):
        program.symbol(sym, size)
    # order[i] = physical position of logical index i; a shift sends logical i to logical i-1.
    order = interleaved_ring(p) if interleaved else list(range(p))
    dest = [0] * p
    for i, pos in enumerate(order):
        dest[pos] = order[(i - 1) % p]
    steps = _skew_steps(program, p, order, tuple(dest), mb, kb, nb) if skew == "fabric" else []
    for s in range(p):
        cur, nxt = s % 2, (s + 1) % 2
        # The shift of the blocks in use streams while the core multiplies them (WaferLLM's MeshGEMM issues its
        # two-hop sends before the block product; the fabric moves them on the core's data-movement threads),
        # so a round costs the larger of the two.
        shifts = ()
        if s < p - 1:
            shifts = (
                Shift(f"A_shift{s}", "x", tuple(dest), f"A{cur}", f"A{nxt}", mb * kb, (0, 1, 2, 3)),
                Shift(f"B_shift{s}", "y", tuple(dest), f"B{cur}", f"B{nxt}", kb * nb, (4, 5, 6, 7)),
            )
        steps.append(
            Step(
                f"round{s}",
                computes=(
                    block_product(program, mb, kb, nb, f"A{cur}", f"B{cur}", "C", f"block_product{s}"),
                ),
                patterns=shifts,
            )
        )
    program.function("gemm", steps)

    def load(runtime: Runtime, inputs: Arrays) -> None:
        a_blocks = tile(inputs["A"], p, p, mb, kb)
        b_blocks = tile(inputs["B"], p, p, kb, nb)
        logical = np.arange(p)
        if skew == "host":
            # Logical PE (i, j) starts with A[i, i+j] and B[i+j, j] (Cannon's initial alignment).
            aligned = (logical[:, None] + logical[None, :]) % p
            a_blocks = a_blocks[logical[:, None], aligned]
            b_blocks = b_blocks[aligned, logical[None, :]]
        a_phys = np.empty_like(a_blocks)
        b_phys = np.empty_like(b_blocks)
        a_phys[np.ix_(order, order)] = a_blocks
        b_phys[np.ix_(order, order)] = b_blocks
        runtime.memcpy_h2d("A0", _a_layout(a_phys), 0, 0, p, p)
        runtime.memcpy_h2d("B0", _b_layout(b_phys), 0, 0, p, p)

    def unload(runtime: Runtime) -> Arrays:
        return {"C": _read_c(runtime, p, p, mb, nb, m, n, order, order)}

    return Built(
        program,
        "gemm",
        _inputs(m, k, n),
        load,
        unload,
        _reference,
        {"m": m, "k": k, "n": n},
        (m * k + k * n) * 8 * 3,
    )  # float64 draws, tiled copies, aligned copies
