"""Collectives along rows and columns: K-tree, pipeline and ring allreduce, row/column broadcast.

- K-tree allreduce (WaferLLM, He et al., OSDI 2025, section on MeshGEMV; K = 2 as in its implementation):
  a line of L PEs is cut into ~sqrt(L) groups; each group reduces toward its root by a pipelined chain, the group
  roots reduce by chains whose stages are a group apart (wavelets pass through routers, no core relays in
  between), and the result is multicast back along the line. The roots reduce toward the middle of the line from
  both ends at once (two chains, then one hop-group to join them), so the root chain and the multicast each span
  half the line: critical path ~ 4n + L + 3*sqrt(L), where a root at one end costs ~ 3n + 2L (the multicast
  back would cross the whole line). Lines of fewer than four groups keep the root at the end. WaferLLM's own
  kernels root the second phase in the middle of the line the same way (github.com/MeshInfra/WaferLLM,
  Decode/WSE-2/run_wse2.sh: root_2nd_phase = (group_num / 2) * group size + group size / 2, comm_pe.csl's
  up/down reduce colors); they also root each group in its middle, where these chains still end at the
  group's last PE (at most ~sqrt(L) stages, a small term).
- Pipeline allreduce: one relay chain over the whole line (the vendor's pipelined reduce), then multicast.
- Ring allreduce: reduce-scatter then all-gather over a ring laid out with WaferLLM's interleaving, so every ring
  neighbour is at most 2 hops away (a plain ring's wrap-around would cross the whole line every step).
Each 2-D allreduce runs along rows (axis 'x') and then along columns (axis 'y').
"""

from __future__ import annotations

import math

import numpy as np

from wafersim.catalog.fabric_arch import FabricArch
from wafersim.errors import WafersimError
from wafersim.fabric.dtypes import DType
from wafersim.fabric.kernels.base import Arrays, Built, ceil_div
from wafersim.fabric.patterns import ChainReduce, Multicast, Shift
from wafersim.fabric.program import Program, Step
from wafersim.fabric.routing import interleaved_ring
from wafersim.fabric.runtime import Runtime


def ktree_groups(length: int) -> list[tuple[int, ...]]:
    """~sqrt(length) contiguous groups of at least 2 PEs (sizes differ by at most one)."""
    groups = max(1, round(math.sqrt(length)))
    while groups > 1 and length // groups < 2:
        groups -= 1
    bounds = np.linspace(0, length, groups + 1).round().astype(int)
    return [tuple(range(a, b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def reduce_steps(
    program: Program, axis: str, src: str, n: int, prefix: str, method: str, op: str = "add", off: int = 0
) -> tuple[list[Step], str, int]:
    """Steps that reduce src[off:off+n] along every line to one root; returns (steps, result symbol, root)."""
    length = program.cols if axis == "x" else program.rows
    dtype = program.symbols[src].dtype
    if length == 1:
        return [], src, 0
    first = f"{prefix}_l1"
    program.symbol(first, n, dtype)
    if method == "pipeline":
        groups = [tuple(range(length))]
    elif method == "ktree":
        groups = ktree_groups(length)
    else:
        raise WafersimError(f"unknown reduce method '{method}' (ktree, pipeline)")
    steps = [
        Step(
            f"{prefix}:chain",
            patterns=(
                ChainReduce(f"{prefix}_chain", axis, tuple(groups), src, first, n, (0, 1), op, src_off=off),
            ),
        )
    ]
    if len(groups) == 1:
        return steps, first, length - 1
    second = f"{prefix}_l2"
    program.symbol(second, n, dtype)
    roots = tuple(group[-1] for group in groups)
    if len(roots) < 4:
        steps.append(
            Step(
                f"{prefix}:roots",
                patterns=(ChainReduce(f"{prefix}_roots", axis, (roots,), first, second, n, (2, 3), op),),
            )
        )
        return steps, second, roots[-1]
    # Both halves of the roots reduce toward the middle at once, then the two halves join over one group gap.
    middle = (len(roots) - 1) // 2  # the east half keeps at least two roots
    west, east = roots[: middle + 1], tuple(reversed(roots[middle + 1 :]))
    third = f"{prefix}_l3"
    program.symbol(third, n, dtype)
    steps.append(
        Step(
            f"{prefix}:roots",
            patterns=(ChainReduce(f"{prefix}_roots", axis, (west, east), first, second, n, (2, 3), op),),
        )
    )
    steps.append(
        Step(
            f"{prefix}:join",
            patterns=(
                ChainReduce(f"{prefix}_join", axis, ((east[-1], west[-1]),), second, third, n, (2,), op),
            ),
        )
    )
    return steps, third, west[-1]


def allreduce_line_steps(
    program: Program, axis: str, src: str, n: int, prefix: str, method: str, op: str = "add", off: int = 0
) -> tuple[list[Step], str]:
    """Reduce along every line then multicast the result back; every PE ends with it in the returned symbol."""
    steps, result, root = reduce_steps(program, axis, src, n, prefix, method, op, off)
    length = program.cols if axis == "x" else program.rows
    if length > 1:
        steps.append(
            Step(
                f"{prefix}:bcast",
                patterns=(Multicast(f"{prefix}_bcast", axis, root, result, result, n, 4, length),),
            )
        )
    return steps, result


def ring_line_steps(program: Program, axis: str, buf: str, chunk: int, prefix: str) -> list[Step]:
    """Ring allreduce of buf[0 : L*chunk] along every line (in place, chunk by chunk)."""
    length = program.cols if axis == "x" else program.rows
    if length == 1:
        return []
    ring = interleaved_ring(length)
    logical = np.empty(length, dtype=np.int64)
    logical[ring] = np.arange(length)
    dest = tuple(ring[(logical[pos] + 1) % length] for pos in range(length))

    def grid(chunks: np.ndarray) -> np.ndarray:
        per_pos = chunks * chunk
        return np.broadcast_to(
            per_pos[None, :] if axis == "x" else per_pos[:, None], (program.rows, program.cols)
        )

    palette = (0, 1, 2, 3) if axis == "x" else (4, 5, 6, 7)
    steps = []
    for s in range(length - 1):
        steps.append(
            Step(
                f"{prefix}:rs{s}",
                patterns=(
                    Shift(
                        f"{prefix}_rs{s}",
                        axis,
                        dest,
                        buf,
                        buf,
                        chunk,
                        palette,
                        src_off=grid((logical - s) % length),
                        dst_off=grid((logical - 1 - s) % length),
                        op="add",
                    ),
                ),
            )
        )
    for s in range(length - 1):
        steps.append(
            Step(
                f"{prefix}:ag{s}",
                patterns=(
                    Shift(
                        f"{prefix}_ag{s}",
                        axis,
                        dest,
                        buf,
                        buf,
                        chunk,
                        palette,
                        src_off=grid((logical + 1 - s) % length),
                        dst_off=grid((logical - s) % length),
                    ),
                ),
            )
        )
    return steps


def _grid_io(program: Program, sym: str, n: int):
    def load(runtime: Runtime, inputs: Arrays) -> None:
        runtime.memcpy_h2d(sym, inputs["v"], 0, 0, program.cols, program.rows, n)

    return load


def build_allreduce(arch: FabricArch, rows: int, cols: int, dtype: DType, n: int, method: str) -> Built:
    """Sum of every PE's n-vector, left on every PE. method: ktree | pipeline | ring."""
    program = Program(arch, rows, cols, dtype, name=f"allreduce-{method}")
    if method == "ring":
        size = ceil_div(ceil_div(n, cols) * cols, rows) * rows
        program.symbol("v", size)
        steps = ring_line_steps(program, "x", "v", ceil_div(n, cols), "row")
        steps += ring_line_steps(program, "y", "v", size // rows, "col")
        result = "v"
    else:
        program.symbol("v", n)
        steps, row_result = allreduce_line_steps(program, "x", "v", n, "row", method)
        more, result = allreduce_line_steps(program, "y", row_result, n, "col", method)
        steps += more
    program.function("allreduce", steps)

    def unload(runtime: Runtime) -> Arrays:
        return {"v": runtime.memcpy_d2h(result, 0, 0, cols, rows, n)}

    def reference(inputs: Arrays) -> Arrays:
        total = np.asarray(inputs["v"], dtype=np.float64).sum(axis=(0, 1))
        return {"v": np.broadcast_to(total, (rows, cols, n))}

    return Built(
        program,
        "allreduce",
        lambda rng: {"v": rng.standard_normal((rows, cols, n))},
        _grid_io(program, "v", n),
        unload,
        reference,
        {"n": n},
    )


def build_broadcast(arch: FabricArch, rows: int, cols: int, dtype: DType, n: int) -> Built:
    """PE (0, 0)'s n-vector to every PE: multicast along the rows, then down every column."""
    program = Program(arch, rows, cols, dtype, name="broadcast")
    program.symbol("v", n)
    steps = []
    if cols > 1:
        steps.append(Step("row", patterns=(Multicast("row_bcast", "x", 0, "v", "v", n, 0, cols),)))
    if rows > 1:
        steps.append(Step("col", patterns=(Multicast("col_bcast", "y", 0, "v", "v", n, 1, rows),)))
    program.function("broadcast", steps)

    def load(runtime: Runtime, inputs: Arrays) -> None:
        runtime.memcpy_h2d("v", inputs["v"], 0, 0, 1, 1, n)

    def unload(runtime: Runtime) -> Arrays:
        return {"v": runtime.memcpy_d2h("v", 0, 0, cols, rows, n)}

    def reference(inputs: Arrays) -> Arrays:
        return {"v": np.broadcast_to(np.asarray(inputs["v"], dtype=np.float64), (rows, cols, n))}

    return Built(
        program, "broadcast", lambda rng: {"v": rng.standard_normal(n)}, load, unload, reference, {"n": n}
    )
