"""Matrix-vector products y = A x, A of M x N, tiled over an R x C grid.

PE (x=c, y=r) holds block A[r, c] of ceil(M/R) x ceil(N/C) (zero-padded), stored column-major so that the local
GEMV is one FMA over a column of A per element of x, as in the vendor's GEMV tutorials.

- `gemv` (the vendor SDK's baseline, GEMV tutorials / checkerboard example): x enters on the top row, is
  multicast down every column, each PE computes its partial y, and the partials are summed by a pipelined
  relay chain along every row toward the last column, which holds y.
- `meshgemv` (WaferLLM, He et al., OSDI 2025): x arrives split along the columns and replicated along the rows
  (as the previous layer's allreduce leaves it), each PE computes its partial y, and a two-level K-tree
  allreduce along every row leaves y on every PE of the row.
"""

from __future__ import annotations

import numpy as np

from wafersim.catalog.fabric_arch import FabricArch
from wafersim.fabric.costs import gemv_cycles
from wafersim.fabric.dtypes import DType
from wafersim.fabric.kernels.base import Arrays, Built, ceil_div, tile
from wafersim.fabric.kernels.collectives import allreduce_line_steps, reduce_steps
from wafersim.fabric.patterns import Multicast
from wafersim.fabric.program import Compute, Program, Step
from wafersim.fabric.runtime import Runtime


def local_gemv(program: Program, mb: int, nb: int, a: str, x: str, y: str) -> Compute:
    dtype = program.dtype

    def fn(memory, ys: slice, xs: slice) -> None:
        blocks = memory[a][ys, xs].reshape(*memory[a][ys, xs].shape[:2], nb, mb)
        vec = memory[x][ys, xs]
        acc = np.zeros(blocks.shape[:2] + (mb,), dtype=dtype.storage)
        term = np.empty(acc.shape, dtype=np.float64)
        for j in range(nb):  # column by column, the order the PE accumulates in
            # acc + a*x in float64, rounded once to the type: dtype.fma, written with fewer temporaries.
            np.multiply(blocks[:, :, j, :], vec[:, :, j : j + 1], out=term, dtype=np.float64)
            term += acc
            acc = dtype.round(term)
        memory[y][ys, xs] = acc

    return Compute("local_gemv", fn, gemv_cycles(program.arch, dtype, mb, nb), reads=(a, x), writes=(y,))


def _layout(arch: FabricArch, rows: int, cols: int, dtype: DType, m: int, n: int, name: str):
    program = Program(arch, rows, cols, dtype, name=name)
    mb, nb = ceil_div(m, rows), ceil_div(n, cols)
    program.symbol("A", mb * nb)
    program.symbol("x", nb)
    program.symbol("y", mb)
    return program, mb, nb


def _inputs(m: int, n: int):
    """Uniform(-1, 1) float32 draws: a whole-wafer matrix (16384^2) in float64 normals would cost 2 GB and
    several seconds before it is even rounded to the PE's type."""

    def make(rng: np.random.Generator) -> Arrays:
        matrix = rng.random((m, n), dtype=np.float32)
        matrix *= 2
        matrix -= 1
        return {"A": matrix, "x": rng.uniform(-1, 1, n)}

    return make


def _host_bytes(m: int, n: int) -> int:
    # float32 draw, its zero-padded copy, and the transposed fp16/fp32 rounding of it
    return m * n * (4 + 4 + 4)


def _load_a(runtime: Runtime, matrix: np.ndarray, rows: int, cols: int, mb: int, nb: int) -> None:
    blocks = tile(matrix, rows, cols, mb, nb)  # (rows, cols, mb, nb)
    column_major = runtime.program.dtype.round(blocks.swapaxes(2, 3))  # one pass: transpose and round
    runtime.memcpy_h2d("A", column_major.reshape(rows, cols, nb * mb), 0, 0, cols, rows)


def _x_blocks(x: np.ndarray, cols: int, nb: int) -> np.ndarray:
    padded = np.zeros(cols * nb)
    padded[: x.size] = x
    return padded.reshape(cols, nb)


def _reference(inputs: Arrays) -> Arrays:
    matrix, x = inputs["A"], np.asarray(inputs["x"], dtype=np.float64)
    # float64 in row panels, so a whole-wafer matrix is never copied to float64 at once.
    panel = 2048
    return {
        "y": np.concatenate(
            [
                np.asarray(matrix[i : i + panel], dtype=np.float64) @ x
                for i in range(0, matrix.shape[0], panel)
            ]
        )
    }


def build_gemv(arch: FabricArch, rows: int, cols: int, dtype: DType, m: int, n: int) -> Built:
    program, mb, nb = _layout(arch, rows, cols, dtype, m, n, "gemv")
    steps = []
    if rows > 1:
        steps.append(Step("bcast_x", patterns=(Multicast("x_down_columns", "y", 0, "x", "x", nb, 5, rows),)))
    steps.append(Step("local_gemv", computes=(local_gemv(program, mb, nb, "A", "x", "y"),)))
    reduce, result, root = reduce_steps(program, "x", "y", mb, "reduce_y", "pipeline")
    program.function("gemv", steps + reduce)

    def load(runtime: Runtime, inputs: Arrays) -> None:
        _load_a(runtime, inputs["A"], rows, cols, mb, nb)
        runtime.memcpy_h2d("x", _x_blocks(inputs["x"], cols, nb), 0, 0, cols, 1)

    def unload(runtime: Runtime) -> Arrays:
        return {"y": runtime.memcpy_d2h(result, root, 0, 1, rows).reshape(-1)[:m]}

    return Built(
        program, "gemv", _inputs(m, n), load, unload, _reference, {"m": m, "n": n}, _host_bytes(m, n)
    )


def build_meshgemv(arch: FabricArch, rows: int, cols: int, dtype: DType, m: int, n: int) -> Built:
    program, mb, nb = _layout(arch, rows, cols, dtype, m, n, "meshgemv")
    steps = [Step("local_gemv", computes=(local_gemv(program, mb, nb, "A", "x", "y"),))]
    allreduce, result = allreduce_line_steps(program, "x", "y", mb, "ktree_y", "ktree")
    program.function("meshgemv", steps + allreduce)

    def load(runtime: Runtime, inputs: Arrays) -> None:
        _load_a(runtime, inputs["A"], rows, cols, mb, nb)
        replicated = np.broadcast_to(_x_blocks(inputs["x"], cols, nb), (rows, cols, nb))
        runtime.memcpy_h2d("x", replicated, 0, 0, cols, rows)

    def unload(runtime: Runtime) -> Arrays:
        # Read y from column 0: the K-tree root is elsewhere, so this checks the multicast back as well.
        return {"y": runtime.memcpy_d2h(result, 0, 0, 1, rows).reshape(-1)[:m]}

    return Built(
        program, "meshgemv", _inputs(m, n), load, unload, _reference, {"m": m, "n": n}, _host_bytes(m, n)
    )
