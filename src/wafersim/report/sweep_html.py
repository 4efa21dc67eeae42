"""One self-contained HTML page for a sweep: the frontier of speed per user against tokens per MW and per
dollar, the best system per model, and the table of points."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from wafersim.errors import WafersimError
from wafersim.report.plan_html import _figure_png, _num, _table


def _metrics(row: dict[str, Any]) -> dict[str, Any] | None:
    """Speed per user, output tokens/s per MW and per $/h for one point (None: it failed or has no answer)."""
    if row.get("error") or row.get("fits") is False:
        return None
    per_user = row.get("output_tokens_per_s_per_user")
    if per_user is None and row.get("tpot_p50_s"):  # serving tasks: a user's speed is 1 / TPOT
        per_user = 1.0 / row["tpot_p50_s"]
    tokens, power = row.get("output_tokens_per_s"), row.get("power_w")
    if not per_user or not tokens or not power:
        return None
    usd = row.get("usd_per_million_tokens")
    label = f"{row.get('system') or row.get('param_system')}×{row.get('count', '')}"
    return {
        "model": row.get("model") or row.get("param_model"),
        "deployment": label,
        "system": row.get("system") or row.get("param_system"),
        "per_user": per_user,
        "per_mw": tokens / (power / 1e6),
        "per_usd": 1e6 / usd if usd else None,  # output tokens per dollar
        "usd_per_million_tokens": usd,
        "precision": row.get("precision") or row.get("param_precision"),
        "batch": row.get("batch"),
    }


def pareto(points: list[dict[str, Any]], x: str, y: str) -> list[dict[str, Any]]:
    """The points no other point beats on both x and y (higher is better), sorted by x."""
    usable = sorted(
        (p for p in points if p[x] is not None and p[y] is not None), key=lambda p: (-p[x], -p[y])
    )
    front, best_y = [], float("-inf")
    for point in usable:
        if point[y] > best_y:
            front.append(point)
            best_y = point[y]
    return sorted(front, key=lambda p: p[x])


def _frontier_figure(plt, points, y: str, y_label: str):
    figure, axis = plt.subplots(figsize=(7, 4.5))
    systems = sorted({p["system"] for p in points})
    for index, system in enumerate(systems):
        mine = [p for p in points if p["system"] == system and p[y] is not None]
        colour = plt.get_cmap("tab10")(index % 10)
        axis.scatter([p["per_user"] for p in mine], [p[y] for p in mine], s=14, alpha=0.5, color=colour)
        front = pareto(mine, "per_user", y)
        axis.plot(
            [p["per_user"] for p in front], [p[y] for p in front], marker="o", color=colour, label=system
        )
    overall = pareto(points, "per_user", y)
    axis.plot([p["per_user"] for p in overall], [p[y] for p in overall], color="black", linestyle="--",
              linewidth=1, label="frontier (all)")  # fmt: skip
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("output tokens/s per user (log)")
    axis.set_ylabel(y_label)
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    return figure


def _best_per_model(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for model in sorted({p["model"] for p in points}):
        mine = [p for p in points if p["model"] == model]
        by_mw = max(mine, key=lambda p: p["per_mw"])
        priced = [p for p in mine if p["usd_per_million_tokens"]]
        cheapest = min(priced, key=lambda p: p["usd_per_million_tokens"]) if priced else None
        fastest = max(mine, key=lambda p: p["per_user"])
        rows.append({
            "model": model,
            "most_per_mw": f"{by_mw['deployment']} ({_num(by_mw['per_mw'])} tok/s/MW)",
            "cheapest": f"{cheapest['deployment']} (${_num(cheapest['usd_per_million_tokens'])}/Mtok)"
            if cheapest else None,
            "fastest": f"{fastest['deployment']} ({_num(fastest['per_user'])} tok/s/user)",
        })  # fmt: skip
    return rows


def render(rows: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [m for m in map(_metrics, rows) if m is not None]
    figures = []
    for model in sorted({p["model"] for p in points}):  # a frontier compares deployments of one model
        mine = [p for p in points if p["model"] == model]
        figures.append(f"<h3>{html.escape(model)}</h3>")
        for name, y, label in (("per-mw", "per_mw", "output tokens/s per MW (log)"),
                               ("per-usd", "per_usd", "output tokens per $ (log)")):  # fmt: skip
            if not any(p[y] for p in mine):
                continue
            figure = _frontier_figure(plt, mine, y, label)
            figure.axes[0].set_title(model)
            png = _figure_png(figure)
            figures.append(f'<figure id="frontier-{name}-{html.escape(model)}"><img alt="{name}" '
                           f'src="data:image/png;base64,{png}"></figure>')  # fmt: skip
            plt.close(figure)
    failed = [r for r in rows if r.get("error")]
    table_columns = [("model", "model"), ("deployment", "deployment"), ("precision", "precision"),
                     ("batch", "batch"), ("per_user", "tok/s per user"), ("per_mw", "tok/s per MW"),
                     ("usd_per_million_tokens", "$/Mtok")]  # fmt: skip
    failed_columns = [("param_model", "model"), ("param_system", "system"), ("error", "error")]
    title = f"wafersim sweep: {summary.get('task', '?')}, {len(rows)} points"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 6px}}
th{{background:#f0f0f0}}figure{{display:inline-block;margin:0.5em}}img{{max-width:520px}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{len(points)} points with an answer, {len(failed)} failed, {len(rows) - len(points) - len(failed)} that do not
fit; code {html.escape(str(summary.get("code_hash")))}, wafersim {html.escape(str(summary.get("version")))},
seed {summary.get("seed")}. Lines join each system's Pareto points (no other point of it is both faster per user
and more productive); the dashed line is the frontier over all systems of that model.</p>
<h2>Frontier</h2>{"".join(figures) if points else "<p>no point has both a speed per user and a power figure</p>"}
<h2>Best system per model</h2>{_table(_best_per_model(points), [("model", "model"),
    ("most_per_mw", "most tokens/s per MW"), ("cheapest", "cheapest per token"),
    ("fastest", "fastest per user")], "best")}
<h2>Points</h2>{_table(sorted(points, key=lambda p: (p["model"], -p["per_mw"])), table_columns, "points")}
{"<h2>Failed points</h2>" + _table(failed, failed_columns, "failed") if failed else ""}
</body></html>
"""  # fmt: skip


def write_sweep_report(results_dir: Path, out: Path) -> Path:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise WafersimError("sweep reports read Parquet: pip install -e '.[parquet]'") from None
    path = results_dir / "results.parquet"
    if not path.is_file():
        raise WafersimError(f"{path}: no results here (run the sweep with this folder as its output)")
    rows = pq.read_table(path).to_pylist()
    summary_path = results_dir / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else {}
    if out.suffix.lower() not in (".html", ".htm"):
        raise WafersimError(f"report {out}: the report is HTML; name it .html", field="out")
    try:
        out.write_text(render(rows, summary), encoding="utf-8")
    except OSError as error:
        raise WafersimError(f"report {out}: cannot write ({error.strerror})") from None
    return out
