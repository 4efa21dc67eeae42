"""`wafersim plan SCENARIO`: the fleet that meets a demand within a power budget (see docs/planning.md)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import click

from wafersim.errors import WafersimError


def _scenario_path(name: str) -> Path:
    """A path, or the name of a shipped scenario (with or without .yaml)."""
    path = Path(name)
    if path.exists():
        return path
    stem = name.removesuffix(".yaml")
    shipped = resources.files("wafersim.fleet") / "data" / f"{stem}.yaml"
    if shipped.is_file():
        return Path(str(shipped))
    return path  # load_scenario names the missing file


def _table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from wafersim.cli.common import fmt

    table = Table(title=f"plan {result['scenario']} ({result['objective']}, final period)")
    for column in (
        "fleet",
        "feasible",
        "systems",
        "IT MW",
        "output tok/s",
        "users",
        "$/Mtok",
        "capex $",
        "why not",
    ):
        table.add_column(column)
    rows = [(o["id"], o) for o in result["options"]] + [("mixed", result["chosen"])]
    for name, row in rows:
        table.add_row(
            name,
            "yes" if row["feasible"] else "no",
            fmt(row.get("systems")),
            fmt(row.get("power_mw")),
            fmt(row.get("output_tokens_per_s")),
            fmt(row.get("users_served")),
            fmt(row.get("usd_per_million_tokens")),
            fmt(row.get("capex_usd")),
            (row.get("reason") or "")[:80],
        )
    Console(width=200).print(table)
    for row in result["capacity"]:
        if "replica_sizing" in row:
            click.echo(f"{row['option']} / {row['model']} replica: {row['replica_sizing']['why']}")
    shortfall = result["chosen"].get("shortfall")
    if shortfall:
        for period in shortfall["periods"]:
            if "close_by" in period:
                click.echo(f"{period['period']}: {period['close_by']}")
        if shortfall.get("note"):
            click.echo(shortfall["note"])


@click.command()
@click.argument("scenario")
@click.option("--json", "as_json", is_flag=True, help="Print the whole plan as one JSON object.")
@click.option("--report", type=click.Path(dir_okay=False), default=None, help="Write an HTML report here.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Capacity cache (default $WAFERSIM_CACHE_DIR or ~/.cache/wafersim/fleet).")  # fmt: skip
@click.option("--no-cache", is_flag=True, help="Simulate every capacity again (and do not store it).")
@click.option("--workers", type=int, default=None, help="Processes for capacity searches (default ≤ 2).")
def plan(scenario, as_json, report, cache_dir, no_cache, workers):
    """Plan a fleet for SCENARIO (a YAML path or a shipped name such as openai-cerebras-750mw)."""
    try:
        from wafersim.fleet.plan import plan as make_plan
    except ImportError as error:  # SciPy and PyYAML are the fleet extra's
        raise WafersimError(
            f"wafersim plan needs SciPy and PyYAML ({error.name} is missing): pip install 'wafersim[fleet]'"
        ) from None
    from wafersim.fleet.scenario import load_scenario

    if workers is not None and workers < 1:
        raise WafersimError(f"--workers must be ≥ 1, got {workers}")
    spec = load_scenario(_scenario_path(scenario))
    result = make_plan(spec, cache_dir=Path(cache_dir) if cache_dir else None, use_cache=not no_cache,
                       workers=workers)  # fmt: skip
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
