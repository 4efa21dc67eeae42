"""One self-contained HTML page for a fleet plan: three figures (base64 PNG) and the tables behind them."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from wafersim.errors import WafersimError
from wafersim.files import output_path, write_text
from wafersim.fleet.result import Plan


def _figure_png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        for threshold, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= threshold:
                return f"{value / threshold:.{digits}g}{suffix}"
        return f"{value:.{digits}g}"
    return html.escape(str(value))


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_num(row.get(key))}</td>" for key, _ in columns) + "</tr>" for row in rows
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _colours(result) -> dict[str, Any]:
    """One colour per option in every figure."""
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return {option["id"]: palette(i % 10) for i, option in enumerate(result["options"])}


def _capacity_vs_power(plt, result):
    """Users each option serves as its IT power grows (per-MW rate for the scenario's model mix)."""
    figure, axis = plt.subplots(figsize=(7, 4))
    budget = max(p["power_mw"] for p in result["periods"])
    for option in result["options"]:
        plan = option["plans"].get("max_users", {})
        periods = plan.get("periods") or []
        colour = _colours(result)[option["id"]]
        if not plan.get("feasible"):
            axis.plot([], [], color=colour, label=f"{option['id']} (not available)")
            continue
        power = [0.0] + [p["power_mw"] for p in periods]
        users = [0.0] + [p["users_served"] / 1e9 for p in periods]
        axis.plot(power, users, marker="o", color=colour, label=option["id"])
    mixed = result["mixed"].get("max_users", {})
    if mixed.get("feasible"):
        power = [0.0] + [p["power_mw"] for p in mixed["periods"]]
        users = [0.0] + [p["users_served"] / 1e9 for p in mixed["periods"]]
        axis.plot(power, users, marker="s", linestyle="--", color="black", label="mixed")
    demand = [p["weekly_active_users"] / 1e9 for p in result["periods"]]
    axis.scatter([p["power_mw"] for p in result["periods"]], demand, marker="x", color="red", zorder=5,
                 label="weekly users (demand)")  # fmt: skip
    axis.set_xlim(0, budget * 1.05)
    axis.set_xlabel("IT power (MW)")
    axis.set_ylabel("weekly users served within SLO (billions)")
    axis.set_title("Capacity vs power (each period's budget filled)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return figure


def _cost_by_option(plt, result):
    figure, axis = plt.subplots(figsize=(7, 4))
    rows = [r for r in result["capacity"] if r["usd_per_million_tokens"] is not None]
    labels = [f"{r['option']}\n{r['model']}" for r in rows]
    values = [r["usd_per_million_tokens"] for r in rows]
    colours = _colours(result)
    axis.bar(range(len(rows)), values, color=[colours[r["option"]] for r in rows])
    axis.set_xticks(range(len(rows)), labels, fontsize=7)
    missing = [
        f"{r['option']}/{r['model']}" for r in result["capacity"] if r["usd_per_million_tokens"] is None
    ]
    if missing:
        axis.set_xlabel("not shown (no capacity or no price): " + ", ".join(missing), fontsize=7)
    axis.set_yscale("log")  # models differ by ~50× in cost per token; a linear axis hides the cheap ones
    axis.set_ylabel("$ per million output tokens (log)")
    axis.set_title("Cost per token by option (capex + energy, at SLO capacity)")
    axis.grid(axis="y", alpha=0.3)
    return figure


def _mix_over_time(plt, result):
    chosen = result["chosen"]
    figure, axis = plt.subplots(figsize=(7, 4))
    if not chosen.get("feasible") or not chosen.get("periods"):
        axis.text(0.5, 0.5, "no feasible fleet", ha="center", va="center")
        return figure
    names = [p["period"] for p in chosen["periods"]]
    power = {o["id"]: o["it_power_w_per_system"] for o in result["options"]}
    bottom = [0.0] * len(names)
    for option_id in power:
        heights = [p["systems"][option_id] * power[option_id] / 1e6 for p in chosen["periods"]]
        if any(heights):
            axis.bar(names, heights, bottom=bottom, label=option_id, color=_colours(result)[option_id])
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    axis.plot(names, [p["power_mw"] for p in result["periods"]], "k_", markersize=30, label="budget")
    axis.set_ylabel("IT power of the fleet (MW)")
    axis.set_title(f"Fleet mix over time ({result['objective']})")
    axis.legend(fontsize=8)
    return figure


def _vendors(row: dict[str, Any]) -> set[str]:
    return {option for option, count in (row.get("mix") or {}).items() if count}


def _tornado(plt, result):
    """How far each ±change moves the headline: users served (max_users) or 3-year cost (min_cost)."""
    objective = result["objective"]
    key, label = (("users_served", "users served") if objective == "max_users"
                  else ("total_cost_usd", "total cost"))  # fmt: skip
    rows = [r for r in result["sensitivity"] if r["objective"] == objective]
    base = next((r[key] for r in rows if r["parameter"] == "baseline"), None)
    figure, axis = plt.subplots(figsize=(7, 0.35 * len(rows) / 2 + 1.5))
    if not base:
        axis.text(0.5, 0.5, "no feasible baseline", ha="center", va="center")
        return figure
    baseline = next(r for r in rows if r["parameter"] == "baseline")
    names = [r["parameter"] for r in rows if r["parameter"] != "baseline"]
    names = list(dict.fromkeys(names))
    for y, name in enumerate(names):
        for row in (r for r in rows if r["parameter"] == name):
            change = (row[key] / base - 1.0) * 100 if row[key] is not None else float("nan")
            colour = "tab:red" if row["factor"] < 1 else "tab:green"
            axis.barh(y, change, color=colour, alpha=0.8)
            if row["feasible"] and _vendors(row) != _vendors(baseline):
                axis.text(change, y, "  vendors change", va="center", fontsize=7)
    axis.set_yticks(range(len(names)), names, fontsize=8)
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_xlabel(f"change in {label} (%)  — red: input −, green: input +")
    axis.set_title(f"Sensitivity of the {objective} answer (one input at a time)")
    axis.invert_yaxis()
    axis.grid(axis="x", alpha=0.3)
    return figure


def render(result: dict[str, Any]) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise WafersimError(
            "the HTML report needs matplotlib: pip install matplotlib (a wafersim dependency)"
        ) from None
    figures = []
    for title, make in (("capacity-vs-power", _capacity_vs_power), ("cost-by-option", _cost_by_option),
                        ("fleet-mix", _mix_over_time), ("sensitivity-tornado", _tornado)):  # fmt: skip
        figure = make(plt, result)
        figures.append(f'<figure id="{title}"><img alt="{title}" src="data:image/png;base64,{_figure_png(figure)}">'
                       f"</figure>")  # fmt: skip
        plt.close(figure)
    fleets = [{"fleet": o["id"], **o} for o in result["options"]]
    fleets.append({"fleet": "mixed", **result["chosen"]})
    fleet_columns = [("fleet", "fleet"), ("feasible", "feasible"), ("systems", "systems"),
                     ("power_mw", "IT MW"), ("output_tokens_per_s", "output tokens/s"),
                     ("users_served", "users served"), ("usd_per_million_tokens", "$/Mtok"),
                     ("capex_usd", "capex $"), ("reason", "why not")]  # fmt: skip
    capacity_columns = [("option", "option"), ("model", "model"), ("available", "available"),
                        ("layout", "layout"), ("requests_per_s_per_system", "req/s per system"),
                        ("tokens_per_s_per_mw", "tokens/s per MW"), ("joules_per_token", "J/token"),
                        ("usd_per_million_tokens", "$/Mtok"), ("users_per_system", "users per system"),
                        ("span_limited", "span-limited")]  # fmt: skip
    sensitivity_columns = [("objective", "objective"), ("parameter", "input"), ("factor", "×"),
                           ("feasible", "feasible"), ("mix_text", "final-period mix"),
                           ("systems", "systems"), ("users_served", "users"),
                           ("usd_per_million_tokens", "$/Mtok"), ("total_cost_usd", "total cost $")]  # fmt: skip
    shortfall = ""
    if result["chosen"].get("shortfall"):
        rows = result["chosen"]["shortfall"]["periods"]
        shortfall = "<h2>Shortfall</h2>" + _table(
            rows, [("period", "period"), ("served_share", "served share"), ("users_short", "users short"),
                   ("power_needed_it_mw", "IT MW needed"), ("close_by", "what would close it")], "shortfall"
        )  # fmt: skip
    periods = ", ".join(f"{p['name']}: {p['power_mw']:g} MW, {_num(p['weekly_active_users'])} users"
                        for p in result["periods"])  # fmt: skip
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>wafersim plan: {html.escape(result["scenario"])}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 6px}}
th{{background:#f0f0f0}}figure{{display:inline-block;margin:0.5em}}img{{max-width:520px}}</style></head>
<body><h1>Fleet plan: {html.escape(result["scenario"])}</h1>
<p>Objective <b>{result["objective"]}</b>; power basis {result["power_basis"]} (PUE {result["pue"]});
SLO p90 TTFT {result["slo"]["ttft_p90_s"]} s, p90 TPOT {result["slo"]["tpot_p90_s"]} s; periods {periods};
seed {result["seed"]}. Figures are for the final period unless a period is named.</p>
<p id="headline">Mixed fleet: <b>{"feasible" if result["feasible"] else "NOT feasible"}</b>,
{_num(result["chosen"].get("systems"))} systems, {_num(result["chosen"].get("power_mw"))} MW IT,
{_num(result["chosen"].get("output_tokens_per_s"))} output tokens/s,
{_num(result["chosen"].get("users_served"))} weekly users, ${_num(result["chosen"].get("usd_per_million_tokens"))}
per million tokens.</p>
<p id="min-cost">Cheapest mixed fleet for the stated demand (min_cost):
<b>{"feasible" if result["mixed"]["min_cost"].get("feasible") else "NOT feasible"}</b>,
{_num(result["mixed"]["min_cost"].get("systems"))} systems, {_num(result["mixed"]["min_cost"].get("power_mw"))} MW IT,
${_num(result["mixed"]["min_cost"].get("total_cost_usd"))} over the horizon.</p>
<h2>Figures</h2>{"".join(figures)}
<h2>Fleets (single vendor and mixed)</h2>{_table(fleets, fleet_columns, "fleets")}
{shortfall}
<h2>Capacity per system at the SLO</h2>{_table(result["capacity"], capacity_columns, "capacity")}
<h2>Sensitivity (one input at a time)</h2>{_table(result["sensitivity"], sensitivity_columns, "sensitivity")}
</body></html>
"""


def write_report(result: Plan | dict[str, Any], path: Path | str) -> None:
    """The one-file HTML report of a plan (a `Plan`, or its `to_dict()`)."""
    output_path(path, "report", (".html", ".htm"))
    data = result.to_dict() if isinstance(result, Plan) else result
    write_text(Path(path), render(data), "report")
