"""Observability: per-PE busy fraction and SRAM use, and the Chrome/Perfetto trace events of a kernel run.

The files (heatmap PNG, trace JSON) are written by `wafersim.report.fabric_files`.
"""

from __future__ import annotations

import numpy as np

from wafersim.errors import WafersimError
from wafersim.fabric.kernels.base import KernelResult
from wafersim.fabric.runtime import TRACE_MAX_PES


def busy_fraction(result: KernelResult) -> np.ndarray:
    return (
        result.busy_cycles / result.cycles
        if result.cycles
        else np.zeros_like(result.busy_cycles, dtype=float)
    )


def sram_use_bytes(result: KernelResult) -> np.ndarray:
    """Static SRAM allocation per PE (SPMD programs allocate the same symbols on every PE)."""
    return np.full(result.busy_cycles.shape, result.sram_peak_bytes_per_pe, dtype=np.int64)


def trace_json(result: KernelResult) -> dict:
    """Chrome trace-event JSON; one thread per PE, timestamps in cycles (shown by viewers as microseconds)."""
    rows, cols = result.grid
    if rows * cols > TRACE_MAX_PES:
        raise WafersimError(
            f"trace export is for grids up to {TRACE_MAX_PES} PEs; {rows}x{cols} is too large"
        )
    names = [
        {"name": "thread_name", "ph": "M", "pid": 0, "tid": y * cols + x, "args": {"name": f"PE x={x} y={y}"}}
        for y in range(rows)
        for x in range(cols)
    ]
    return {
        "traceEvents": names + result.stats.trace_events,
        "displayTimeUnit": "ns",
        "otherData": {
            "kernel": result.kernel,
            "engine": result.engine,
            "cycles": result.cycles,
            "time_unit": "1 trace microsecond = 1 fabric cycle",
        },
    }
