"""Fabric schedules of kernels the prefill prices that the fabric library does not provide, for timing on the
fast engine (`fabric.kernels.base.program_cycles`: the engine's step timing, no data moved).

The transposed MeshGEMM (C = A B^T, WaferLLM section 4.1) keeps A in place; B's blocks turn along x on the
interleaved ring and the partial C blocks along y, after Cannon's alignment of B. `closed_form.meshgemm_transposed`
writes the same schedule down; `tests/perf/wafer/test_closed_form.py` holds the two within 5%. Only the timing is
built here (the products' data functions are not implemented), so this is a check of the closed form's timing,
not of the algorithm's numerics.
"""

from __future__ import annotations

import numpy as np

from wafersim.catalog.fabric_arch import FabricArch
from wafersim.fabric.costs import gemm_cycles, vector_cycles
from wafersim.fabric.dtypes import dtype_named
from wafersim.fabric.kernels.base import ceil_div, program_cycles
from wafersim.fabric.patterns import Shift
from wafersim.fabric.program import Compute, Program, Step
from wafersim.fabric.routing import interleaved_ring


def _timing_only(memory, ys, xs) -> None:
    """Timing schedules carry no data (program_cycles never calls this)."""


def meshgemm_transposed_cycles(arch: FabricArch, p: int, m: int, k: int, n: int) -> int:
    """Fast-engine cycles of the transposed MeshGEMM schedule on a p x p grid."""
    dtype = dtype_named("fp16")
    program = Program(arch, p, p, dtype, name="meshgemm-t")
    mb, kb, nb = ceil_div(m, p), ceil_div(k, p), ceil_div(n, p)
    for sym, size in (("A", mb * kb), ("B0", nb * kb), ("B1", nb * kb), ("C0", mb * nb), ("C1", mb * nb)):
        program.symbol(sym, size)
    order = interleaved_ring(p)
    dest = [0] * p
    for i, pos in enumerate(order):
        dest[pos] = order[(i - 1) % p]
    steps: list[Step] = []
    for j in range(1, p):  # Cannon's alignment of B: line i turns i places, one neighbour shift a step
        lines = tuple(order[i] for i in range(j, p))
        cur, nxt = f"B{(j - 1) % 2}", f"B{j % 2}"
        steps.append(
            Step(
                f"skew{j}",
                patterns=(
                    Shift(f"B_skew{j}", "x", tuple(dest), cur, nxt, nb * kb, (0, 1, 2, 3), lines=lines),
                ),
            )
        )
    if p > 1:
        odd = np.zeros(p, dtype=bool)
        odd[[order[i] for i in range(1, p, 2)]] = True
        cycles = np.where(
            odd[:, None] & np.ones((p, p), dtype=bool), vector_cycles(arch, "add", dtype, nb * kb), 0
        )
        steps.append(
            Step("skew_gather", computes=(Compute("B_gather", _timing_only, cycles, ("B1",), ("B0",)),))
        )
    for s in range(p):
        cur, nxt = s % 2, (s + 1) % 2
        product = Compute(
            f"product{s}", _timing_only, gemm_cycles(arch, dtype, mb, kb, nb), ("A", f"B{cur}"), (f"C{cur}",)
        )
        steps.append(Step(f"product{s}", computes=(product,)))
        if s < p - 1:
            steps.append(
                Step(
                    f"shift{s}",
                    patterns=(
                        Shift(f"B_shift{s}", "x", tuple(dest), f"B{cur}", f"B{nxt}", nb * kb, (0, 1, 2, 3)),
                        Shift(f"C_shift{s}", "y", tuple(dest), f"C{cur}", f"C{nxt}", mb * nb, (4, 5, 6, 7)),
                    ),
                )
            )
    program.function("gemm", steps)
    return program_cycles(program, "gemm")
