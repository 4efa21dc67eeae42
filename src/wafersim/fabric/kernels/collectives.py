"""Collectives along rows and columns: K-tree, pipeline and ring allreduce, row/column broadcast.

- K-tree allreduce (WaferLLM, He et al., OSDI 2025, section on MeshGEMV; K = 2 as in its implementation):
  a line of L PEs is cut into ~sqrt(L) groups; each group reduces toward its root by pipelined chains, the group
  roots reduce by chains whose stages are a group apart (wavelets pass through routers, no core relays in
  between), and the result is multicast back along the line. As in WaferLLM's kernels
  (github.com/MeshInfra/WaferLLM, Decode/WSE-2/run_wse2.sh lines 45-47: root_1st_phase = group size / 2,
  root_2nd_phase = (group_num / 2) * group size + root_1st_phase; comm_pe.csl lines 229-270: the group root adds
  the chains arriving from both sides, the top half sending down and the bottom half up) both levels are rooted
  in the middle: each group's two halves reduce toward its middle PE at once, on two directions' colors (the
  root's ramp takes both halves' wavelets, then one local add joins them), and the roots reduce toward the
  middle of the line from both ends (two chains, then one hop-group to join them), so the root chain and the
  multicast each span half the line: critical path ~ 5n + L + 3.5*sqrt(L) (hop = ramp = 1 cycle), where
  roots at the ends of groups and line cost ~ 3n + 2L + 3*sqrt(L). A group is centred only when that saves more
  relay stages than its root's second n wavelets and the add cost (`centre_groups`: always for decode's short
  vectors; a long vector keeps the end root), and lines of fewer than four groups reduce their roots toward
  the last one.
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
from wafersim.fabric.costs import vector_cycles
from wafersim.fabric.dtypes import DType
from wafersim.fabric.kernels.base import Arrays, Built, ceil_div
from wafersim.fabric.lines import combine
from wafersim.fabric.patterns import ChainReduce, Multicast, Shift
from wafersim.fabric.program import Compute, Program, Step
from wafersim.fabric.routing import interleaved_ring
from wafersim.fabric.runtime import Runtime


def ktree_groups(length: int) -> list[tuple[int, ...]]:
    """~sqrt(length) contiguous groups of at least 2 PEs (sizes differ by at most one)."""
    groups = max(1, round(math.sqrt(length)))
    while groups > 1 and length // groups < 2:
        groups -= 1
    bounds = np.linspace(0, length, groups + 1).round().astype(int)
    return [tuple(range(a, b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


# Colors of the chains that reduce a group's far half backward to its middle PE: the forward chains hold 0 and 1
# on the same root, the roots' level 2 and 3, the multicast back 4.
BACKWARD_PALETTE = (5, 6)


def first_phase_cycles(arch: FabricArch, size: int, n: int, dtype: DType, centred: bool) -> int:
    """Cycles of one group's reduction of n elements to its root (fast engine's model): a chain of size - 1
    stages to the last PE, or, centred, two chains toward the middle PE whose ramp takes both halves' n
    wavelets in turns (the second half's last wavelet arrives 2n after the shorter chain's latency, or n after
    the longer one's), then a local add of the two partial sums."""
    stage = arch.router.hop_latency_cycles + 2 * arch.router.ramp_latency_cycles
    if not centred or size < 3:
        return (size - 1) * stage + n
    forward = size // 2
    backward = size - 1 - forward
    return max(forward * stage + n, backward * stage + 2 * n) + vector_cycles(arch, "add", dtype, n)


def centre_groups(arch: FabricArch, length: int, n: int, dtype: DType) -> bool:
    """Whether a K-tree on this line roots its groups in their middles: when that is cheaper for its largest
    group (always for the short vectors of decode; a long vector pays its root's second n wavelets)."""
    size = max(len(group) for group in ktree_groups(length))
    return first_phase_cycles(arch, size, n, dtype, True) < first_phase_cycles(arch, size, n, dtype, False)


def ktree_roots(length: int, centred: bool) -> tuple[int, ...]:
    """The group roots of a K-tree on a line: each group's middle PE (WaferLLM's root_1st_phase) or its last."""
    return tuple(g[len(g) // 2] if centred else g[-1] for g in ktree_groups(length))


def _group_steps(
    program: Program, axis: str, src: str, n: int, prefix: str, op: str, off: int, centred: bool
) -> list[Step]:
    """Each group reduces src[off:off+n] into {prefix}_l1 at its root (ktree_roots). A centred group's backward
    half lands in {prefix}_l2 first, which the root chains write only after the halves are joined (so a CSL
    program would hold both in one buffer)."""
    first, part = f"{prefix}_l1", f"{prefix}_l2"
    groups = ktree_groups(program.cols if axis == "x" else program.rows)
    if not centred:
        chain = ChainReduce(f"{prefix}_chain", axis, tuple(groups), src, first, n, (0, 1), op, src_off=off)
        return [Step(f"{prefix}:chain", patterns=(chain,))]
    halves = [(g[: len(g) // 2 + 1], tuple(reversed(g[len(g) // 2 :]))) for g in groups]
    forward = tuple(head for head, _ in halves)
    backward = tuple(tail for _, tail in halves if len(tail) > 1)
    program.symbol(part, n, program.symbols[src].dtype)
    patterns = (
        ChainReduce(f"{prefix}_chain", axis, forward, src, first, n, (0, 1), op, src_off=off),
        ChainReduce(f"{prefix}_chainb", axis, backward, src, part, n, BACKWARD_PALETTE, op, off, 0, False),
    )
    return [
        Step(f"{prefix}:chain", patterns=patterns),
        _join_halves(program, axis, first, part, n, op, backward),
    ]


def _join_halves(program: Program, axis: str, first: str, part: str, n: int, op: str, backward) -> Step:
    """The roots that took a backward half add it in (one vector op over n elements)."""
    dtype = program.symbols[first].dtype
    mask = np.zeros((program.rows, program.cols), dtype=bool)
    roots = [chain[-1] for chain in backward]
    if axis == "x":
        mask[:, roots] = True
    else:
        mask[roots, :] = True

    def add(memory, ys, xs) -> None:
        here = mask[ys, xs]
        target = memory[first][ys, xs]
        target[here] = combine(dtype, op, target[here], memory[part][ys, xs][here])
        memory[first][ys, xs] = target

    cycles = mask * vector_cycles(program.arch, "add", dtype, n)
    compute = Compute(f"{first}_halves", add, cycles, reads=(first, part), writes=(first,))
    return Step(f"{first}:halves", computes=(compute,))


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
        chain = ChainReduce(f"{prefix}_chain", axis, (tuple(range(length)),), src, first, n, (0, 1), op, off)
        return [Step(f"{prefix}:chain", patterns=(chain,))], first, length - 1
    if method != "ktree":
        raise WafersimError(f"unknown reduce method '{method}' (ktree, pipeline)")
    centred = centre_groups(program.arch, length, n, dtype)
    steps = _group_steps(program, axis, src, n, prefix, op, off, centred)
    roots = ktree_roots(length, centred)
    if len(roots) == 1:
        return steps, first, roots[0]
    second = f"{prefix}_l2"
    if second not in program.symbols:
        program.symbol(second, n, dtype)
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
