"""The wafer placement map as a picture (PNG): one panel per wafer, regions coloured by SRAM fill."""

from __future__ import annotations

from typing import Any

from wafersim.errors import WafersimError
from wafersim.files import PICTURE_SUFFIXES, output_path


def write_plot(data: dict[str, Any], path: str) -> None:
    """One panel per wafer: regions coloured by SRAM fill, labelled with their layers (matplotlib, lazily)."""
    output_path(path, "plot", PICTURE_SUFFIXES)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle
    except ImportError:
        raise WafersimError(
            "the placement picture needs matplotlib: pip install matplotlib (a wafersim dependency)"
        ) from None

    wafers = data["wafers_used"]
    fig, axes = plt.subplots(
        1, wafers, figsize=(3.1 * wafers + 1.6, 5.6), squeeze=False, layout="constrained"
    )
    cmap = plt.get_cmap("viridis")
    # Labels scale with the region's width on the page (a wafer panel is ~3 inches wide).
    inches = 3.0 * data["region_cols"] / data["fabric_cols"]
    label_size = max(4.0, min(9.0, inches * 20))
    for w, ax in enumerate(axes[0]):
        ax.add_patch(Rectangle((0, 0), data["fabric_cols"], data["fabric_rows"], color="#dddddd"))
        for region in (r for r in data["regions"] if r["wafer"] == w):
            colour = cmap(min(1.0, region["sram_fill"]))
            ax.add_patch(
                Rectangle(
                    (region["x"], region["y"]),
                    region["cols"],
                    region["rows"],
                    facecolor=colour,
                    edgecolor="white",
                )
            )
            if region["kind"] == "layers":
                first, last = region["layers"]
                text = f"L{first}" if first == last else f"L{first}-{last}"
            else:
                text = "head"
            ax.text(
                region["x"] + region["cols"] / 2,
                region["y"] + region["rows"] / 2,
                f"{text}\n{sum(region['sram_bytes_per_pe'].values()) / 1024:.1f}",
                ha="center",
                va="center",
                fontsize=label_size,
                color="white" if region["sram_fill"] < 0.6 else "black",
            )
        ax.set_xlim(0, data["fabric_cols"])
        ax.set_ylim(data["fabric_rows"], 0)
        ax.set_aspect("equal")
        ax.set_title(f"wafer {w}")
        ax.set_xlabel("PE x")
        if w == 0:
            ax.set_ylabel("PE y")
    mappable = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, data["sram_bytes_per_pe"] / 1024))
    fig.colorbar(
        mappable, ax=axes[0].tolist(), label="SRAM used per PE (KB, also printed); grey = unused", shrink=0.8
    )
    fig.suptitle(
        f"{data['model']} on {wafers} × {data['system']}\n{data['region_rows']}×{data['region_cols']}-PE regions, "
        f"{data['layers_per_region']} layer(s) each, batch {data['batch']}"
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)
