"""Cycle costs of local vector work, from the architecture's SIMD widths, SRAM ports and stride rules (no other
constants).

A DSD vector instruction over `length` elements issues ceil(length / width) cycles, where width is the SIMD width
of the operation and data type, capped by what the SRAM read and write ports deliver per cycle and by the stride
rule of the access. Matrix kernels are written as the vendor's
examples write them: a GEMV is one FMA over a column of A per element of x (`@fmach(y, y, A_col, x_j)`), a GEMM
block one such column FMA per (k, n) pair.
"""

from __future__ import annotations

import math

from wafersim.catalog.fabric_arch import FabricArch
from wafersim.fabric.dtypes import DType


def width(arch: FabricArch, op: str, dtype: DType, stride: int = 1) -> int:
    # The SIMD width, unless the SRAM ports cannot feed it (WSE-3 doubled the fp16 SIMD width over WSE-2 but
    # not the memory bandwidth per PE: 21 PB/s / 900k PEs / 1.1 GHz = 21 B/cycle, facts.md s.1).
    simd = min(arch.simd_width(op, dtype.name), arch.port_width(op, dtype.name))
    cap = arch.stride_width(stride)
    return min(simd, cap) if cap else simd


def vector_cycles(arch: FabricArch, op: str, dtype: DType, length: int, stride: int = 1) -> int:
    return math.ceil(length / width(arch, op, dtype, stride)) if length > 0 else 0


def gemv_cycles(arch: FabricArch, dtype: DType, rows: int, cols: int) -> int:
    """y[rows] += A[rows, cols] @ x[cols], column by column."""
    return cols * vector_cycles(arch, "fma", dtype, rows)


def gemm_cycles(arch: FabricArch, dtype: DType, m: int, k: int, n: int) -> int:
    """C[m, n] += A[m, k] @ B[k, n], one column FMA of length m per (k, n)."""
    return n * k * vector_cycles(arch, "fma", dtype, m)
