"""`wafersim validate` and `wafersim calibrate`: the model against published measurements."""

from __future__ import annotations

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
    type=click.Choice([*GROUPS, "wafer"]),
    default="all",
    show_default=True,
    help="'wafer': the wafer-scale group (its own data file, calibration and test points, the service path).",
)
@catalog_option
@json_option
def validate(points_path, group, catalog_dirs, as_json):
    """Predict every published measurement and report the errors (APE as fractions: 0.1 = 10%)."""
    if group == "wafer":
        _validate_wafer(points_path, catalog_dirs, as_json)
        return
    with ProgressBar("validating", enabled=not as_json) as progress:
        report = run_validate(points_path, group, get_catalog(catalog_dirs), progress=progress)
    if as_json:
        echo_json(report)
        return
    table = Table(title="validation against published measurements")
    for column in ("id", "group", "family", "metric", "measured", "predicted", "APE"):
        table.add_column(column, justify="right" if column in {"measured", "predicted", "APE"} else "left")
    for p in report["points"]:
        ape = f"{p['ape']:.1%}" if p["ape"] is not None else f"skipped: {p['skipped']}"
        table.add_row(
            p["id"], p["group"], p["family"], p["metric"], fmt(p["measured"]), fmt(p["predicted"]), ape
        )
    console = make_console()
    console.print(table)
    for name, stats in report["groups"].items():
        if stats["points"]:
            console.print(
                f"{name}: {stats['points']} points, median APE {stats['median_ape']:.1%}, "
                f"p90 APE {stats['p90_ape']:.1%}, worst {stats['worst_ape']:.1%}"
            )
    for name, stats in report["families"].items():
        console.print(
            f"  test / {name}: {stats['points']} points, median APE {stats['median_ape']:.1%}, "
            f"worst {stats['worst_ape']:.1%}"
        )
    console.print(f"skipped (not predictable from what the source publishes): {report['skipped']}")


def _validate_wafer(points_path, catalog_dirs, as_json) -> None:
    from pathlib import Path

    from wafersim.perf.wafer.validation import WAFER_POINTS, load_wafer_points, run_wafer_validation

    points = load_wafer_points(Path(points_path) if points_path else WAFER_POINTS)
    report = run_wafer_validation(get_catalog(catalog_dirs), points)
    if as_json:
        echo_json(report)
        return
    table = Table(title="wafer-scale systems against published measurements")
    for column in ("id", "group", "metric", "systems", "measured", "predicted", "APE"):
        table.add_column(column, justify="left" if column in {"id", "group", "metric"} else "right")
    for p in report["points"]:
        ape = f"{p['ape']:.1%}" if p["ape"] is not None else "not expressed"
        systems = str(p["count_predicted_on"] or "—") + ("" if p["count"] else " (fewest)")
        table.add_row(p["id"], p["group"], p["metric"], systems, fmt(p["measured"]), fmt(p["predicted"]), ape)
    console = make_console()
    console.print(table)
    for name, stats in report["groups"].items():
        if stats["points"]:
            console.print(
                f"{name}: {stats['points']} points, median APE {stats['median_ape']:.1%}, worst APE "
                f"{stats['max_ape']:.1%} (worst ratio {stats['worst_ratio']:.2f}x)"
            )
        for item in stats["not_expressed"]:
            console.print(f"  {name} point not expressed: {item['id']}: {item['reason']}")


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
