"""Observability: per-PE busy/idle and SRAM heatmaps (PNG) and a Chrome/Perfetto trace (JSON) of a kernel run.

matplotlib is imported here only, and only when a PNG is written, so the engines never pay for it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from wafersim.errors import WafersimError
from wafersim.fabric.kernels.base import KernelResult
from wafersim.fabric.runtime import TRACE_MAX_PES
from wafersim.files import PICTURE_SUFFIXES, output_path


def busy_fraction(result: KernelResult) -> np.ndarray:
    return (
        result.busy_cycles / result.cycles
        if result.cycles
        else np.zeros_like(result.busy_cycles, dtype=float)
    )


def sram_use_bytes(result: KernelResult) -> np.ndarray:
    """Static SRAM allocation per PE (SPMD programs allocate the same symbols on every PE)."""
    return np.full(result.busy_cycles.shape, result.sram_peak_bytes_per_pe, dtype=np.int64)


def write_heatmaps(result: KernelResult, path: str | Path, sram_bytes_per_pe: int | None = None) -> Path:
    """Three panels per PE: fraction of cycles busy, SRAM use (of the per-PE capacity), and utilisation of its
    busiest outgoing link."""
    output_path(path, "heatmap", PICTURE_SUFFIXES)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is in the plot/test extras
        raise WafersimError("writing a heatmap needs matplotlib: pip install matplotlib (a wafersim dependency)") from None
    path = Path(path)
    figure, (busy_ax, sram_ax, link_ax) = plt.subplots(1, 3, figsize=(15, 4), constrained_layout=True)
    image = busy_ax.imshow(busy_fraction(result), vmin=0, vmax=1, cmap="viridis", interpolation="nearest")
    busy_ax.set_title(f"{result.kernel} busy fraction ({result.cycles} cycles)")
    figure.colorbar(image, ax=busy_ax)
    capacity = sram_bytes_per_pe or int(sram_use_bytes(result).max()) or 1
    image = sram_ax.imshow(
        sram_use_bytes(result) / capacity, vmin=0, vmax=1, cmap="magma", interpolation="nearest"
    )
    sram_ax.set_title(f"SRAM use ({result.sram_peak_bytes_per_pe} B of {capacity} B)")
    figure.colorbar(image, ax=sram_ax)
    image = link_ax.imshow(
        result.stats.link_utilisation_per_pe(), vmin=0, vmax=1, cmap="cividis", interpolation="nearest"
    )
    link_ax.set_title("busiest outgoing link utilisation")
    figure.colorbar(image, ax=link_ax)
    for axis in (busy_ax, sram_ax, link_ax):
        axis.set_xlabel("x (column)")
        axis.set_ylabel("y (row)")
    try:
        figure.savefig(path, dpi=100)
    except OSError as error:
        raise WafersimError(f"cannot write heatmap {path}: {error.strerror or error}") from None
    finally:
        plt.close(figure)
    return path


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


def write_trace(result: KernelResult, path: str | Path) -> Path:
    path = Path(path)
    try:
        path.write_text(json.dumps(trace_json(result)))
    except OSError as error:
        raise WafersimError(f"cannot write trace {path}: {error.strerror or error}") from None
    return path
