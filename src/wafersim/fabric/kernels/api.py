"""One function per library kernel, each returning a KernelResult (cycles, outputs, max_rel_err,
sram_peak_bytes_per_pe, busy_cycles per PE, ...). Thin, typed wrappers over registry.run_kernel; for the cycle
count alone use registry.kernel_cycles."""

from __future__ import annotations

from wafersim.catalog.fabric_arch import FabricArch
from wafersim.fabric.kernels.base import Arrays, KernelResult
from wafersim.fabric.kernels.registry import run_kernel

Arch = FabricArch | str


def _run(
    name: str,
    arch: Arch,
    rows: int,
    cols: int,
    dtype: str,
    engine: str,
    seed: int | None,
    inputs: Arrays | None,
    **shape: int | None,
) -> KernelResult:
    return run_kernel(name, arch, rows, cols, dtype, engine, seed, inputs, **shape)


def gemv(
    arch: Arch,
    rows: int,
    cols: int,
    m: int | None = None,
    n: int | None = None,
    dtype: str = "fp16",
    engine: str = "fast",
    seed: int | None = 0,
    inputs: Arrays | None = None,
) -> KernelResult:
    """y = A x (A: m x n), vendor baseline. inputs: {'A': (m, n), 'x': (n,)}; outputs: {'y'}."""
    return _run("gemv", arch, rows, cols, dtype, engine, seed, inputs, m=m, n=n)


def meshgemv(
    arch: Arch,
    rows: int,
    cols: int,
    m: int | None = None,
    n: int | None = None,
    dtype: str = "fp16",
    engine: str = "fast",
    seed: int | None = 0,
    inputs: Arrays | None = None,
) -> KernelResult:
    """y = A x (A: m x n), WaferLLM MeshGEMV. inputs: {'A': (m, n), 'x': (n,)}; outputs: {'y'}."""
    return _run("meshgemv", arch, rows, cols, dtype, engine, seed, inputs, m=m, n=n)


def _gemm(name: str):
    def run(
        arch: Arch,
        rows: int,
        cols: int,
        m: int | None = None,
        k: int | None = None,
        n: int | None = None,
        dtype: str = "fp16",
        engine: str = "fast",
        seed: int | None = 0,
        inputs: Arrays | None = None,
    ) -> KernelResult:
        return _run(name, arch, rows, cols, dtype, engine, seed, inputs, m=m, k=k, n=n)

    run.__name__ = name.replace("-", "_")
    run.__doc__ = f"C = A B (A: m x k, B: k x n) by {name}. inputs: {{'A', 'B'}}; outputs: {{'C'}}."
    return run


def _vector(name: str, what: str):
    def run(
        arch: Arch,
        rows: int,
        cols: int,
        n: int | None = None,
        dtype: str = "fp16",
        engine: str = "fast",
        seed: int | None = 0,
        inputs: Arrays | None = None,
    ) -> KernelResult:
        return _run(name, arch, rows, cols, dtype, engine, seed, inputs, n=n)

    run.__name__ = name.replace("-", "_")
    run.__doc__ = what
    return run


gemm_summa = _gemm("gemm-summa")
gemm_cannon = _gemm("gemm-cannon")
meshgemm = _gemm("meshgemm")
allreduce_ring = _vector(
    "allreduce-ring", "Sum of every PE's n-vector to all PEs (inputs {'v': (rows, cols, n)})."
)
allreduce_ktree = _vector(
    "allreduce-ktree", "Sum of every PE's n-vector to all PEs (inputs {'v': (rows, cols, n)})."
)
allreduce_pipeline = _vector(
    "allreduce-pipeline", "Sum of every PE's n-vector to all PEs (pipelined chains)."
)
broadcast = _vector("broadcast", "PE (0, 0)'s n-vector to every PE (inputs {'v': (n,)}).")
rmsnorm = _vector("rmsnorm", "RMSNorm of rows tokens of hidden size n (inputs {'x': (rows, n), 'w': (n,)}).")
softmax = _vector("softmax", "Row-wise softmax of a rows x n matrix (inputs {'x': (rows, n)}).")
elementwise = _vector("elementwise", "y = a + b over n elements (inputs {'a': (n,), 'b': (n,)}).")
