"""Files a fabric kernel run writes: per-PE heatmaps (PNG, matplotlib imported only here and only when one is
written) and a Chrome/Perfetto trace (JSON)."""

from __future__ import annotations

import json
from pathlib import Path

from wafersim.errors import WafersimError
from wafersim.fabric.kernels.base import KernelResult
from wafersim.fabric.observe import busy_fraction, sram_use_bytes, trace_json
from wafersim.files import PICTURE_SUFFIXES, output_path


def write_heatmaps(result: KernelResult, path: str | Path, sram_bytes_per_pe: int | None = None) -> Path:
    """Three panels per PE: fraction of cycles busy, SRAM use (of the per-PE capacity), and utilisation of its
    busiest outgoing link."""
    output_path(path, "heatmap", PICTURE_SUFFIXES)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is in the plot/test extras
        raise WafersimError(
            "writing a heatmap needs matplotlib: pip install matplotlib (a wafersim dependency)"
        ) from None
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


def write_trace(result: KernelResult, path: str | Path) -> Path:
    path = Path(path)
    try:
        path.write_text(json.dumps(trace_json(result)))
    except OSError as error:
        raise WafersimError(f"cannot write trace {path}: {error.strerror or error}") from None
    return path
