"""`wafersim sweep`: run a grid of points (resumable), query its results with SQL, or draw its report."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from wafersim.cli.common import echo_json, json_option
from wafersim.errors import WafersimError


def _engine(workers: int | None, ray: str | None):
    from wafersim.parallel import Engine

    if ray is None:
        return Engine("local", workers=workers)
    return Engine("ray", workers=workers, address=None if ray == "local" else ray)


def _progress_bar(total_hint: str):
    """A rich bar on a terminal; plain lines (every 10 %) when the output is piped."""
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(
            TextColumn(total_hint),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("failed {task.fields[failed]}"),
            TimeRemainingColumn(),
            transient=True,
        )
        task = bar.add_task(total_hint, total=None, failed=0)

        def update(finished: int, failed: int, total: int) -> None:
            bar.update(task, completed=finished, total=total, failed=failed)

        return bar, update
    last = [-1]

    def lines(finished: int, failed: int, total: int) -> None:
        step = max(total // 10, 1)
        if finished == total or finished // step != last[0]:
            last[0] = finished // step
            click.echo(f"{total_hint}: {finished}/{total} points, {failed} failed", err=True)

    return None, lines


def _print_summary(summary) -> None:
    data = summary.to_dict()
    rate = f", {data['points_per_s']:.3g} points/s" if data["points_per_s"] else ""
    click.echo(
        f"{data['task']} sweep: {data['points']} points — {data['computed']} computed, {data['reused']} reused, "
        f"{data['failed']} failed, in {data['wall_s']:.1f} s on {data['engine']}{rate}"
    )
    click.echo(f"results: {Path(data['out_dir']) / 'results.parquet'}")
    if data["unused"]:
        click.echo(f"not used by task {data['task']}: {', '.join(data['unused'])}")


def _print_rows(columns: list[str], rows: list[tuple]) -> None:
    from rich.table import Table

    from wafersim.cli.common import make_console

    table = Table()
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("—" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
                        for value in row))  # fmt: skip
    make_console().print(table)


@click.command()
@click.argument("spec", required=False)
@click.argument("sql", required=False)
@click.option(
    "--out", "out", type=click.Path(), default=None, help="Results folder (with --report: the HTML)."
)
@click.option("--workers", type=int, default=None, help="Local processes (default: every core).")
@click.option(
    "--ray", default=None, help="Run on Ray: 'local' starts a runtime here, else a cluster address."
)
@click.option("--yes", "allow_large", is_flag=True, help="Run a grid of more than 10^6 points.")
@click.option(
    "--query", "query_dir", type=click.Path(file_okay=False), default=None, help="Results folder to query."
)
@click.option(
    "--report", "report_dir", type=click.Path(file_okay=False), default=None, help="Results folder to draw."
)
@json_option
def sweep(spec, sql, out, workers, ray, allow_large, query_dir, report_dir, as_json):
    """Run SPEC.yaml's grid into --out DIR; or `--query DIR "SQL"`; or `--report DIR --out report.html`."""
    from wafersim.sweep import store

    if query_dir is not None:
        query = sql or spec
        if not query or (sql and spec):
            raise WafersimError('give one SQL statement after --query DIR, e.g. "SELECT * FROM results"')
        columns, rows = store.query(Path(query_dir), query)
        if as_json:
            echo_json([dict(zip(columns, row, strict=True)) for row in rows])
        else:
            _print_rows(columns, rows)
        return
    if report_dir is not None:
        from wafersim.report.sweep_html import write_sweep_report

        if out is None or spec is not None:
            raise WafersimError("--report DIR takes --out FILE.html and no spec")
        path = write_sweep_report(Path(report_dir), Path(out))
        click.echo(f"report: {path}")
        return
    if spec is None or sql is not None or out is None:
        raise WafersimError("usage: wafersim sweep SPEC.yaml --out DIR (or --query DIR SQL, --report DIR)")
    if workers is not None and workers < 1:
        raise WafersimError(f"--workers must be ≥ 1, got {workers}")
    from wafersim.sweep import load_spec, run_sweep

    parsed = load_spec(spec, allow_large=allow_large)
    engine = _engine(workers, ray)
    bar, update = (None, None) if as_json else _progress_bar(f"{parsed.task} sweep")
    if bar is not None:
        with bar:
            summary = run_sweep(parsed, out, engine, update)
    else:
        summary = run_sweep(parsed, out, engine, update)
    if as_json:
        echo_json(summary.to_dict())
    else:
        _print_summary(summary)
