"""The frontier picture: output tokens/s per user against output tokens/s per MW, each system's frontier
marked (aggregated and disaggregated deployments alike, labelled by their prefill → decode systems)."""

from __future__ import annotations

from pathlib import Path

from wafersim.errors import WafersimError


def _label(point) -> str:
    if point.mode == "aggregated":
        return point.decode_system
    return f"{point.prefill_system} → {point.decode_system} (disagg)"


def write_frontier_plot(result, path: Path) -> Path:
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise WafersimError(f"plot {path}: name it .png, .svg or .pdf", field="plot")
    if not path.parent.is_dir():
        raise WafersimError(f"plot {path}: folder {path.parent} does not exist", field="plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wafersim.perf.frontier import mark_pareto

    figure, axis = plt.subplots(figsize=(8, 5))
    groups: dict[str, list] = {}
    for point in result.points:
        if point.meets_slo:
            groups.setdefault(_label(point), []).append(point)
    for index, (label, points) in enumerate(sorted(groups.items())):
        colour = plt.get_cmap("tab10")(index % 10)
        axis.scatter([p.output_tokens_per_s_per_user for p in points], [p.output_tokens_per_s_per_mw for p in points],
                     s=10, alpha=0.35, color=colour)  # fmt: skip
        own = sorted(
            (p for p in mark_pareto(points) if p.pareto), key=lambda p: p.output_tokens_per_s_per_user
        )
        axis.plot([p.output_tokens_per_s_per_user for p in own], [p.output_tokens_per_s_per_mw for p in own],
                  marker="o", markersize=4, color=colour, label=label)  # fmt: skip
    overall = result.pareto
    axis.plot([p.output_tokens_per_s_per_user for p in overall], [p.output_tokens_per_s_per_mw for p in overall],
              color="black", linestyle="--", linewidth=1, label="frontier (all)")  # fmt: skip
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("output tokens/s per user (log)")
    axis.set_ylabel("output tokens/s per MW (log)")
    slo = ", ".join(f"{name} ≤ {value:g} s" for name, value in (("TTFT", result.slo_ttft_s),
                                                                 ("TPOT", result.slo_tpot_s)) if value)  # fmt: skip
    axis.set_title(
        f"{result.model}, {result.input_len} in / {result.output_len} out" + (f" ({slo})" if slo else "")
    )
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    try:
        figure.savefig(path, dpi=110, bbox_inches="tight")
    except OSError as error:
        raise WafersimError(f"plot {path}: cannot write ({error.strerror})", field="plot") from None
    finally:
        plt.close(figure)
    return path
