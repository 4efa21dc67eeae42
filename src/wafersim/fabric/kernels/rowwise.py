"""Row-wise LLM kernels and elementwise ops: RMSNorm, softmax, y = a (op) b.

Layout for RMSNorm and softmax: grid row r handles row r of X (one token), whose n elements are split over the
grid's columns (ceil(n/C) per PE, padded). Partial reductions are combined with the K-tree allreduce along the
row (collectives.py), so every PE gets the row's statistic without a second pass over the fabric.

Costs of the software math routines (no such instructions exist), counted in instructions from the algorithm:
- rsqrt: bit-trick initial guess (1) + 3 Newton steps of 4 fp32 ops = 13 scalar ops;
- reciprocal: initial guess (1) + 3 Newton steps of 2 FMAs = 7 scalar ops;
- exp: range reduction (multiply, round, FMA = 3) + degree-6 Horner polynomial (6 FMAs) + exponent insert (1)
  = 10 vector passes.
Numerically these are evaluated with NumPy in float64 and rounded to the type (documented approximation).
"""

from __future__ import annotations

import numpy as np

from wafersim.catalog.fabric_arch import FabricArch
from wafersim.errors import WafersimError
from wafersim.fabric.costs import vector_cycles
from wafersim.fabric.dtypes import FP32, DType
from wafersim.fabric.kernels.base import Arrays, Built, ceil_div
from wafersim.fabric.kernels.collectives import allreduce_line_steps
from wafersim.fabric.program import Compute, Program, Step
from wafersim.fabric.runtime import Runtime

RSQRT_SCALAR_OPS = 13
RECIPROCAL_SCALAR_OPS = 7
EXP_VECTOR_PASSES = 10
RMSNORM_EPS = 1e-6


def _row_layout(x: np.ndarray, rows: int, cols: int, nb: int, pad: float) -> np.ndarray:
    padded = np.full((rows, cols * nb), pad, dtype=np.float64)
    padded[:, : x.shape[1]] = x
    return padded.reshape(rows, cols, nb)


def _accumulate_op(dtype: DType) -> str:
    # Reductions accumulate in fp32; from fp16 data that is the mixed-precision FMA (@fmachs).
    return "mixed_fma" if dtype.name == "fp16" else "fma"


def build_rmsnorm(arch: FabricArch, rows: int, cols: int, dtype: DType, n: int) -> Built:
    """y = x / sqrt(mean(x^2) + eps) * w for each of `rows` tokens of hidden size n."""
    program = Program(arch, rows, cols, dtype, name="rmsnorm")
    nb = ceil_div(n, cols)
    for sym in ("x", "w", "y"):
        program.symbol(sym, nb)
    program.symbol("ss", 1, FP32)

    def sumsq(memory, ys, xs):
        x = memory["x"][ys, xs]
        acc = np.zeros(x.shape[:2] + (1,), dtype=np.float32)
        for i in range(nb):
            acc = FP32.fma(acc, x[:, :, i : i + 1], x[:, :, i : i + 1])
        memory["ss"][ys, xs] = acc

    steps = [
        Step(
            "sumsq",
            computes=(
                Compute(
                    "sumsq",
                    sumsq,
                    vector_cycles(arch, _accumulate_op(dtype), dtype, nb),
                    reads=("x",),
                    writes=("ss",),
                ),
            ),
        )
    ]
    allreduce, total = allreduce_line_steps(program, "x", "ss", 1, "ss_ktree", "ktree")

    def scale(memory, ys, xs):
        inv = FP32.round(1.0 / np.sqrt(memory[total][ys, xs].astype(np.float64) / n + RMSNORM_EPS))
        memory["y"][ys, xs] = dtype.mul(dtype.mul(memory["x"][ys, xs], inv), memory["w"][ys, xs])

    scale_cycles = RSQRT_SCALAR_OPS + 2 * vector_cycles(arch, "mul", dtype, nb)
    steps += allreduce + [
        Step(
            "scale", computes=(Compute("scale", scale, scale_cycles, reads=("x", "w", total), writes=("y",)),)
        )
    ]
    program.function("rmsnorm", steps)

    def load(runtime: Runtime, inputs: Arrays) -> None:
        runtime.memcpy_h2d("x", _row_layout(inputs["x"], rows, cols, nb, 0.0), 0, 0, cols, rows)
        w = np.broadcast_to(_row_layout(inputs["w"][None, :], 1, cols, nb, 0.0), (rows, cols, nb))
        runtime.memcpy_h2d("w", w, 0, 0, cols, rows)

    def unload(runtime: Runtime) -> Arrays:
        return {"y": runtime.memcpy_d2h("y", 0, 0, cols, rows).reshape(rows, -1)[:, :n]}

    def reference(inputs: Arrays) -> Arrays:
        x = np.asarray(inputs["x"], dtype=np.float64)
        return {"y": x / np.sqrt((x * x).mean(axis=1, keepdims=True) + RMSNORM_EPS) * inputs["w"]}

    def make(rng):
        return {"x": rng.standard_normal((rows, n)), "w": rng.uniform(0.5, 1.5, n)}

    return Built(program, "rmsnorm", make, load, unload, reference, {"n": n})


def build_softmax(arch: FabricArch, rows: int, cols: int, dtype: DType, n: int) -> Built:
    """Row-wise softmax of a rows x n matrix (max-subtracted, as LLM attention does it)."""
    program = Program(arch, rows, cols, dtype, name="softmax")
    nb = ceil_div(n, cols)
    for sym in ("x", "e", "y"):
        program.symbol(sym, nb)
    program.symbol("mx", 1, FP32)
    program.symbol("sm", 1, FP32)

    def local_max(memory, ys, xs):
        memory["mx"][ys, xs] = memory["x"][ys, xs].max(axis=2, keepdims=True).astype(np.float32)

    steps = [
        Step(
            "max",
            computes=(
                Compute(
                    "local_max",
                    local_max,
                    vector_cycles(arch, "add", dtype, nb),
                    reads=("x",),
                    writes=("mx",),
                ),
            ),
        )
    ]
    allmax, row_max = allreduce_line_steps(program, "x", "mx", 1, "max_ktree", "ktree", op="max")

    def exp_sum(memory, ys, xs):
        shifted = memory["x"][ys, xs].astype(np.float64) - memory[row_max][ys, xs]
        e = dtype.round(np.exp(shifted))
        memory["e"][ys, xs] = e
        acc = np.zeros(e.shape[:2] + (1,), dtype=np.float32)
        for i in range(nb):
            acc = FP32.add(acc, e[:, :, i : i + 1])
        memory["sm"][ys, xs] = acc

    exp_cycles = (1 + EXP_VECTOR_PASSES) * vector_cycles(arch, "fma", dtype, nb) + vector_cycles(
        arch, _accumulate_op(dtype), dtype, nb
    )
    steps += allmax + [
        Step(
            "exp_sum",
            computes=(Compute("exp_sum", exp_sum, exp_cycles, reads=("x", row_max), writes=("e", "sm")),),
        )
    ]
    allsum, row_sum = allreduce_line_steps(program, "x", "sm", 1, "sum_ktree", "ktree")

    def normalise(memory, ys, xs):
        inv = FP32.round(1.0 / memory[row_sum][ys, xs].astype(np.float64))
        memory["y"][ys, xs] = dtype.mul(memory["e"][ys, xs], inv)

    norm_cycles = RECIPROCAL_SCALAR_OPS + vector_cycles(arch, "mul", dtype, nb)
    steps += allsum + [
        Step(
            "normalise",
            computes=(Compute("normalise", normalise, norm_cycles, reads=("e", row_sum), writes=("y",)),),
        )
    ]
    program.function("softmax", steps)

    def load(runtime: Runtime, inputs: Arrays) -> None:
        runtime.memcpy_h2d("x", _row_layout(inputs["x"], rows, cols, nb, -np.inf), 0, 0, cols, rows)

    def unload(runtime: Runtime) -> Arrays:
        return {"y": runtime.memcpy_d2h("y", 0, 0, cols, rows).reshape(rows, -1)[:, :n]}

    def reference(inputs: Arrays) -> Arrays:
        x = np.asarray(inputs["x"], dtype=np.float64)
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return {"y": e / e.sum(axis=1, keepdims=True)}

    return Built(
        program,
        "softmax",
        lambda rng: {"x": rng.standard_normal((rows, n)) * 3},
        load,
        unload,
        reference,
        {"n": n},
    )


def build_elementwise(arch: FabricArch, rows: int, cols: int, dtype: DType, n: int, op: str = "add") -> Built:
    """y = a + b or a * b for vectors of n elements spread over every PE (no communication)."""
    if op not in ("add", "mul"):
        raise WafersimError(f"elementwise op '{op}' unknown (add, mul)")
    program = Program(arch, rows, cols, dtype, name=f"elementwise-{op}")
    nb = ceil_div(n, rows * cols)
    for sym in ("a", "b", "y"):
        program.symbol(sym, nb)

    def fn(memory, ys, xs):
        arith = dtype.add if op == "add" else dtype.mul
        memory["y"][ys, xs] = arith(memory["a"][ys, xs], memory["b"][ys, xs])

    cycles = vector_cycles(arch, "add" if op == "add" else "mul", dtype, nb)
    program.function(
        "elementwise", [Step(op, computes=(Compute(op, fn, cycles, reads=("a", "b"), writes=("y",)),))]
    )

    def spread(v: np.ndarray) -> np.ndarray:
        padded = np.zeros(rows * cols * nb)
        padded[:n] = v
        return padded.reshape(rows, cols, nb)

    def load(runtime: Runtime, inputs: Arrays) -> None:
        runtime.memcpy_h2d("a", spread(inputs["a"]), 0, 0, cols, rows)
        runtime.memcpy_h2d("b", spread(inputs["b"]), 0, 0, cols, rows)

    def unload(runtime: Runtime) -> Arrays:
        return {"y": runtime.memcpy_d2h("y", 0, 0, cols, rows).reshape(-1)[:n]}

    def reference(inputs: Arrays) -> Arrays:
        a, b = (np.asarray(inputs[k], dtype=np.float64) for k in "ab")
        return {"y": a + b if op == "add" else a * b}

    return Built(
        program,
        "elementwise",
        lambda rng: {"a": rng.standard_normal(n), "b": rng.standard_normal(n)},
        load,
        unload,
        reference,
        {"n": n},
    )
