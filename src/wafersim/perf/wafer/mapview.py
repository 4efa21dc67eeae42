"""The placement as data and as a picture: which layers sit where on which wafer, and SRAM use per PE."""

from __future__ import annotations

from typing import Any

from wafersim.errors import WafersimError
from wafersim.perf.wafer.pipeline import ModelOnWafer, region_sram
from wafersim.perf.wafer.search import Phases, Workload, workspace


def placement_map(mow: ModelOnWafer, work: Workload, phases: Phases) -> dict[str, Any]:
    p = phases.placement
    # The prefill chunk's workspace lives here only when prefill runs on this placement.
    tokens, chunk = workspace(mow, work, phases)
    height, width = mow.fabric_hw
    regions = []
    for region in p.regions:
        y, x = p.origin(region)
        use = region_sram(mow, p, region, phases.batch, work.length, tokens, work.decode_context, chunk)
        entry = {
            "wafer": region.wafer,
            "index": region.index,
            "kind": region.kind,
            "y": y,
            "x": x,
            "rows": region.rows,
            "cols": region.cols,
            "sram_bytes_per_pe": use,
            "sram_fill": sum(use.values()) / mow.sram_per_pe,
        }
        if region.kind == "layers":
            entry["layers"] = [region.first_layer, region.last_layer - 1]
        else:
            entry["vocab_rows"] = region.table_share
        regions.append(entry)
    used_per_wafer = [sum(r.pes for r in p.regions if r.wafer == w) for w in range(p.wafers)]
    return {
        "model": mow.model.id,
        "system": mow.system.id,
        "arch": mow.arch.name,
        "fabric_rows": height,
        "fabric_cols": width,
        "sram_bytes_per_pe": mow.sram_per_pe,
        "wafers_used": p.wafers,
        "region_rows": p.rows,
        "region_cols": p.cols,
        "regions_per_wafer": p.regions_per_wafer,
        "layers_per_region": p.layers_per_region,
        "batch": phases.batch,
        "pes_used_per_wafer": used_per_wafer,
        "regions": regions,
    }


def write_plot(data: dict[str, Any], path: str) -> None:
    """One panel per wafer: regions coloured by SRAM fill, labelled with their layers (matplotlib, lazily)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle
    except ImportError:
        raise WafersimError("--plot needs matplotlib: pip install 'wafersim[plot]'") from None

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
