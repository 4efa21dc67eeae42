"""`wafersim validate` and `wafersim calibrate`: the model against published measurements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import click
from rich.table import Table

from wafersim.cli.common import (
    ProgressBar,
    catalog_option,
    echo_json,
    fmt,
    get_catalog,
    json_option,
    make_console,
)
from wafersim.perf.api import GROUPS
from wafersim.perf.api import validate as run_validate


@click.command()
@click.option(
    "--points",
    "points_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Validation data file (default: the shipped one).",
)
@click.option(
    "--group",
    type=click.Choice(GROUPS),
    default="all",
    show_default=True,
    help="'wafer': the wafer-scale group (its own data file, calibration and test points, the service path).",
)
@click.option("--point", "ids", multiple=True, help="Only this point id (repeatable).")
@catalog_option
@json_option
def validate(points_path, group, ids, catalog_dirs, as_json):
    """Predict every published measurement and report the errors (APE as fractions: 0.1 = 10%)."""
    with ProgressBar("validating", enabled=not as_json) as progress:
        report = run_validate(
            points_path, group, get_catalog(catalog_dirs), progress=progress, ids=ids or None
        )
    if as_json:
        echo_json(report)
        return
    _print_report(report, WAFER_VIEW if group == "wafer" else GPU_VIEW)


@dataclass(frozen=True)
class _View:
    """How one validation group's report is printed: its title, the columns between `group` and `measured`
    (names and a point's cells), what a point not predicted shows, and the summary lines under the table."""

    title: str
    columns: tuple[str, ...]
    cells: Callable[[dict], tuple[str, ...]]
    skipped: Callable[[dict], str]
    summary: Callable[[dict], list[str]]


def _print_report(report: dict, view: _View) -> None:
    table = Table(title=view.title)
    for column in ("id", "group", *view.columns, "measured", "predicted", "APE"):
        table.add_column(column, justify="left" if column in {"id", "group", "family", "metric"} else "right")
    for p in report["points"]:
        ape = f"{p['ape']:.1%}" if p["ape"] is not None else view.skipped(p)
        table.add_row(p["id"], p["group"], *view.cells(p), fmt(p["measured"]), fmt(p["predicted"]), ape)
    console = make_console()
    console.print(table)
    for line in view.summary(report):
        console.print(line)


def _gpu_summary(report: dict) -> list[str]:
    lines = [
        f"{name}: {stats['points']} points, median APE {stats['median_ape']:.1%}, "
        f"p90 APE {stats['p90_ape']:.1%}, worst {stats['worst_ape']:.1%}"
        for name, stats in report["groups"].items()
        if stats["points"]
    ]
    lines += [
        f"  test / {name}: {stats['points']} points, median APE {stats['median_ape']:.1%}, "
        f"worst {stats['worst_ape']:.1%}"
        for name, stats in report["families"].items()
    ]
    return [*lines, f"skipped (not predictable from what the source publishes): {report['skipped']}"]


def _wafer_summary(report: dict) -> list[str]:
    lines = []
    for name, stats in report["groups"].items():
        if stats["points"]:
            lines.append(
                f"{name}: {stats['points']} points, median APE {stats['median_ape']:.1%}, worst APE "
                f"{stats['max_ape']:.1%} (worst ratio {stats['worst_ratio']:.2f}x)"
            )
        lines += [f"  {name} point not expressed: {x['id']}: {x['reason']}" for x in stats["not_expressed"]]
    return lines


GPU_VIEW = _View(
    "validation against published measurements",
    ("family", "metric"),
    lambda p: (p["family"], p["metric"]),
    lambda p: f"skipped: {p['skipped']}",
    _gpu_summary,
)
WAFER_VIEW = _View(
    "wafer-scale systems against published measurements",
    ("metric", "systems"),
    lambda p: (p["metric"], str(p["count_predicted_on"] or "—") + ("" if p["count"] else " (fewest)")),
    lambda p: "not expressed",
    _wafer_summary,
)


@click.command()
@click.option("--write", is_flag=True, help="Write the fitted factors into the catalog and validation data.")
@catalog_option
@json_option
def calibrate(write, catalog_dirs, as_json):
    """Fit the efficiency factors on the calibration points only (takes about two minutes)."""
    from wafersim.perf.calibration import calibrate as fit
    from wafersim.report.calibration_toml import write_calibration

    with ProgressBar("calibrating", enabled=not as_json) as progress:
        result = fit(get_catalog(catalog_dirs), progress=progress)
    data = {
        "factors": result.factors,
        "dataset_input_len": result.dataset_input_len,
        "other_dataset_input_lens": result.other_input_lens,
        "loss": result.loss,
        "points": result.points,
    }
    if write:
        data["written"] = [str(p) for p in write_calibration(result)]
    if as_json:
        echo_json(data)
    else:
        for family, factors in result.factors.items():
            click.echo(f"{family}: " + ", ".join(f"{k}={v}" for k, v in factors.items()))
        click.echo(
            f"MLPerf OpenOrca mean input length: {result.dataset_input_len}; loss {result.loss:.3f} "
            f"over {result.points} calibration points" + (" (written)" if write else "")
        )
        for name, length in result.other_input_lens.items():
            click.echo(f"{name} mean input length: {length}")
