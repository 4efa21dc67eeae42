"""`wafersim plan SCENARIO`: the fleet that meets a demand within a power budget (see docs/planning.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wafersim.errors import WafersimError

# The world's population (8.2 G, UN World Population Prospects 2024): a "users served" above it is a capacity.
WORLD_POPULATION = 8.2e9


def _table(result: dict) -> None:
    from rich import box
    from rich.table import Table

    from wafersim.cli.common import fmt, make_console

    console = make_console()
    table = Table(
        title=f"plan {result['scenario']} ({result['objective']}, final period)", box=box.SIMPLE_HEAD
    )
    columns = ("fleet", "ok", "systems", "IT power", "tok/s", "users", "$/Mtok", "capex")
    for column in columns:
        table.add_column(column, justify="left" if column == "fleet" else "right", no_wrap=True)
    rows = [(o["id"], o) for o in result["options"]] + [("mixed", result["chosen"])]
    notes: list[str] = []
    above_world = False
    for name, row in rows:
        feasible = "yes" if row["feasible"] else "no"
        if not row["feasible"] and row.get("reason"):
            notes.append(f"{name}: {row['reason']}")
            feasible = f"no ({len(notes)})"
        users = row.get("users_served")
        above_world = above_world or (users or 0) > WORLD_POPULATION
        usd = row.get("usd_per_million_tokens")
        table.add_row(
            name,
            feasible,
            fmt(row.get("systems")),
            fmt(row["power_mw"] * 1e6, "W") if row.get("power_mw") is not None else "—",
            fmt(row.get("output_tokens_per_s")),
            fmt(users) + ("*" if (users or 0) > WORLD_POPULATION else ""),
            f"{usd:.3g}" if usd else "—",
            f"${fmt(row['capex_usd'])}" if row.get("capex_usd") else "—",
        )
    console.print(table)
    console.print(
        "ok: the fleet meets the plan; tok/s: output tokens per second; users: weekly users served; "
        "$/Mtok: dollars per million output tokens; — : not available. Final period's budget."
    )
    if above_world:
        console.print(
            "* weekly users the fleet could serve: a capacity, not a demand; it exceeds the world's population "
            "(8.2 G), so the budget buys far more than the scenario's demand needs."
        )
    for number, note in enumerate(notes, start=1):
        console.print(f"({number}) why not: {note}")
    for row in result["capacity"]:
        if "replica_sizing" in row:
            console.print(f"{row['option']} / {row['model']} replica: {row['replica_sizing']['why']}")
    shortfall = result["chosen"].get("shortfall")
    if shortfall:
        for period in shortfall["periods"]:
            if "close_by" in period:
                console.print(f"{period['period']}: {period['close_by']}")
        if shortfall.get("note"):
            console.print(shortfall["note"])


@click.command()
@click.argument("scenario")
@click.option("--json", "as_json", is_flag=True, help="Print the whole plan as one JSON object.")
@click.option("--report", type=click.Path(dir_okay=False), default=None, help="Write an HTML report here.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Capacity cache (default $WAFERSIM_CACHE_DIR or ~/.cache/wafersim/fleet).")  # fmt: skip
@click.option("--no-cache", is_flag=True, help="Simulate every capacity again (and do not store it).")
@click.option("--workers", type=int, default=None, help="Processes for capacity searches (default ≤ 2).")
@click.option("--ray", default=None, help="Capacity searches on Ray: 'local' or a cluster address.")
def plan(scenario, as_json, report, cache_dir, no_cache, workers, ray):
    """Plan a fleet for SCENARIO (a YAML path or a shipped name such as openai-cerebras-750mw)."""
    try:
        from wafersim.fleet.plan import plan as make_plan
    except ImportError as error:  # SciPy and PyYAML are the fleet extra's
        raise WafersimError(
            f"wafersim plan needs SciPy and PyYAML ({error.name} is missing): pip install scipy pyyaml (wafersim dependencies)"
        ) from None
    from wafersim.parallel import Engine

    if report:  # checked before the capacity searches, not after them
        from wafersim.files import output_path

        output_path(report, "report", (".html", ".htm"))
    from wafersim.cli.common import ProgressBar

    engine = None if ray is None else Engine("ray", workers=workers, address=None if ray == "local" else ray)
    with ProgressBar("planning", enabled=not as_json) as progress:
        answer = make_plan(scenario, cache_dir=Path(cache_dir) if cache_dir else None, use_cache=not no_cache,
                           workers=workers, engine=engine, progress=progress)  # fmt: skip
    result = answer.to_dict()
    if report:
        from wafersim.report.plan_html import write_report

        write_report(result, Path(report))
        result["report"] = str(report)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        _table(result)
        if report:
            click.echo(f"report: {report}")
