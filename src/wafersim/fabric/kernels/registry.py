"""Kernel registry: names, shape parameters and defaults, and the two entry points a caller needs.

- `run_kernel(name, arch, rows, cols, ...)` runs a kernel on an engine with random (seeded) or given inputs and
  returns a KernelResult (cycles, outputs, error vs NumPy, SRAM, per-PE busy cycles).
- `kernel_cycles(name, arch, rows, cols, ...)` returns only the cycle count, from the fast engine's timing without
  moving data: cheap enough for a mapping layer to call for every candidate shape and grid.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from wafersim.catalog.fabric_arch import FabricArch, load_arch
from wafersim.errors import WafersimError
from wafersim.fabric.dtypes import dtype_named
from wafersim.fabric.kernels.base import Arrays, Built, KernelResult, program_cycles, run_built
from wafersim.fabric.kernels.collectives import build_allreduce, build_broadcast
from wafersim.fabric.kernels.gemm import build_cannon, build_summa
from wafersim.fabric.kernels.gemv import build_gemv, build_meshgemv
from wafersim.fabric.kernels.rowwise import build_elementwise, build_rmsnorm, build_softmax


@dataclass(frozen=True)
class KernelInfo:
    name: str
    summary: str
    shape_params: tuple[str, ...]
    build: Callable[..., Built]
    # Default sizes per PE-grid dimension, so the defaults fit every grid (tiles of 16 x 16 elements).
    default: Callable[[int, int], dict[str, int]]


def _mat(rows: int, cols: int) -> dict[str, int]:
    return {"m": 16 * rows, "n": 16 * cols}


def _cube(rows: int, cols: int) -> dict[str, int]:
    return {"m": 16 * rows, "k": 16 * rows, "n": 16 * cols}


KERNELS: dict[str, KernelInfo] = {
    info.name: info
    for info in (
        KernelInfo(
            "gemv",
            "y = A x, vendor baseline: x multicast down columns, pipelined reduce along rows",
            ("m", "n"),
            build_gemv,
            _mat,
        ),
        KernelInfo(
            "meshgemv",
            "y = A x, WaferLLM MeshGEMV: local GEMV + two-level K-tree allreduce",
            ("m", "n"),
            build_meshgemv,
            _mat,
        ),
        KernelInfo(
            "gemm-summa",
            "C = A B by SUMMA (any grid): per step, row and column multicasts of one K panel",
            ("m", "k", "n"),
            build_summa,
            _cube,
        ),
        KernelInfo(
            "gemm-cannon",
            "C = A B by Cannon: cyclic shifts with a wrap-around across the line",
            ("m", "k", "n"),
            build_cannon,
            _cube,
        ),
        KernelInfo(
            "meshgemm",
            "C = A B, WaferLLM MeshGEMM: Cannon on interleaved rings (neighbours <= 2 hops)",
            ("m", "k", "n"),
            lambda *a, **k: build_cannon(*a, **k, interleaved=True),
            _cube,
        ),
        KernelInfo(
            "allreduce-ring",
            "sum of every PE's vector to all: interleaved-ring allreduce, rows then cols",
            ("n",),
            lambda *a, **k: build_allreduce(*a, **k, method="ring"),
            lambda r, c: {"n": 256},
        ),
        KernelInfo(
            "allreduce-ktree",
            "sum of every PE's vector to all: two-level K-tree, rows then columns",
            ("n",),
            lambda *a, **k: build_allreduce(*a, **k, method="ktree"),
            lambda r, c: {"n": 256},
        ),
        KernelInfo(
            "allreduce-pipeline",
            "sum of every PE's vector to all: one relay chain per line + multicast",
            ("n",),
            lambda *a, **k: build_allreduce(*a, **k, method="pipeline"),
            lambda r, c: {"n": 256},
        ),
        KernelInfo(
            "broadcast",
            "PE (0,0)'s vector to every PE: row multicast then column multicasts",
            ("n",),
            build_broadcast,
            lambda r, c: {"n": 256},
        ),
        KernelInfo(
            "rmsnorm",
            "RMSNorm of one token per grid row, hidden size n split over the columns",
            ("n",),
            build_rmsnorm,
            lambda r, c: {"n": 64 * c},
        ),
        KernelInfo(
            "softmax",
            "row-wise softmax, one row per grid row, n split over the columns",
            ("n",),
            build_softmax,
            lambda r, c: {"n": 64 * c},
        ),
        KernelInfo(
            "elementwise",
            "y = a + b over n elements spread over all PEs",
            ("n",),
            build_elementwise,
            lambda r, c: {"n": 64 * r * c},
        ),
    )
}
CLI_KERNELS = (
    "gemv",
    "meshgemv",
    "gemm-summa",
    "gemm-cannon",
    "meshgemm",
    "allreduce-ring",
    "allreduce-ktree",
    "broadcast",
)


def kernel_info(name: str) -> KernelInfo:
    try:
        return KERNELS[name]
    except KeyError:
        raise WafersimError(f"unknown kernel '{name}'; choose one of {sorted(KERNELS)}") from None


def parse_grid(text: str, arch: FabricArch) -> tuple[int, int]:
    """'RxC' (rows x columns) or 'full' (the architecture's whole program rectangle)."""
    if text == "full":
        return arch.fabric.program_height_pes, arch.fabric.program_width_pes
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise WafersimError(
            f"grid '{text}': expected RxC with positive integers (e.g. 8x8) or 'full'", field="grid"
        )
    return int(parts[0]), int(parts[1])


def build_kernel(
    name: str, arch: FabricArch | str, rows: int, cols: int, dtype: str = "fp16", **shape: int | None
) -> Built:
    info = kernel_info(name)
    if isinstance(arch, str):
        arch = load_arch(arch)
    unknown = [k for k, v in shape.items() if v is not None and k not in info.shape_params]
    if unknown:
        raise WafersimError(
            f"kernel '{name}' takes shape parameters {list(info.shape_params)}, not {unknown}"
        )
    sizes = info.default(rows, cols)
    sizes.update({k: v for k, v in shape.items() if v is not None})
    for key, value in sizes.items():
        if value < 1:
            raise WafersimError(f"kernel '{name}': {key} must be >= 1, got {value}", field=key)
    return info.build(arch, rows, cols, dtype_named(dtype), **sizes)


def run_kernel(
    name: str,
    arch: FabricArch | str,
    rows: int,
    cols: int,
    dtype: str = "fp16",
    engine: str = "fast",
    seed: int | None = 0,
    inputs: Arrays | None = None,
    trace: bool = False,
    **shape: int | None,
) -> KernelResult:
    """Build and run a kernel; random inputs come from numpy.random.default_rng(seed)."""
    if seed is not None and seed < 0:
        raise WafersimError(f"seed must be a non-negative integer, got {seed}")
    built = build_kernel(name, arch, rows, cols, dtype, **shape)
    return run_built(built, name, engine, seed, inputs, trace)


def kernel_cycles(
    name: str, arch: FabricArch | str, rows: int, cols: int, dtype: str = "fp16", **shape: int | None
) -> int:
    """Cycles of one kernel invocation for a shape and grid (fast-engine timing, no data moved). Cached: a
    mapping layer asks for the same shapes again and again."""
    if isinstance(arch, str):
        arch = load_arch(arch)
    return _kernel_cycles(name, arch, rows, cols, dtype, tuple(sorted(shape.items())))


@functools.lru_cache(maxsize=1024)
def _kernel_cycles(
    name: str, arch: FabricArch, rows: int, cols: int, dtype: str, shape: tuple[tuple[str, int | None], ...]
) -> int:
    built = build_kernel(name, arch, rows, cols, dtype, **dict(shape))
    return program_cycles(built.program, built.function)
