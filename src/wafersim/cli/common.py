"""Helpers shared by the command modules: catalog option, JSON output, number formatting."""

from __future__ import annotations

import json
import math
from typing import Any

import click

from wafersim.catalog import Catalog, load_catalog

catalog_option = click.option(
    "--catalog",
    "catalog_dirs",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Extra catalog directory of system/model TOML files (repeatable); its ids override built-in ones.",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object instead of a table."
)


def get_catalog(catalog_dirs: tuple[str, ...]) -> Catalog:
    return load_catalog(tuple(catalog_dirs))


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def echo_json(data: Any) -> None:
    click.echo(json.dumps(_clean(data), indent=2, sort_keys=False))


def fmt(value: float | None, unit: str = "", digits: int = 3) -> str:
    """Engineering-style short number: 12.3k, 4.56 ms."""
    if value is None:
        return "—"
    if unit == "s":
        if value < 1e-3:
            return f"{value * 1e6:.{digits}g} µs"
        if value < 1:
            return f"{value * 1e3:.{digits}g} ms"
        return f"{value:.{digits}g} s"
    rounded = float(f"{value:.{digits}g}")  # 999.99998e9 is shown as 1T, not 1e+03G
    for threshold, suffix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(rounded) >= threshold:
            return f"{value / threshold:.{digits}g}{suffix}{unit}"
    return f"{value:.{digits}g}{unit}"


def make_console(stderr: bool = False):
    """Rich console; piped output (files, tests, CI logs) gets a wide page instead of 80 wrapped columns,
    unless COLUMNS says how wide the page is."""
    import os
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    wide = stream.isatty() or os.environ.get("COLUMNS", "").isdigit()
    return Console(width=None if wide else 160, stderr=stderr)


def cost_options(function):
    """--life-years, --usd-per-kwh and --pue, the assumptions behind usd_per_million_tokens."""
    from wafersim.perf.economics import CostAssumptions

    defaults = CostAssumptions()
    for option in reversed(
        [
            click.option(
                "--life-years",
                type=float,
                default=defaults.life_years,
                show_default=True,
                help="Years the capex is amortised over.",
            ),
            click.option(
                "--usd-per-kwh",
                type=float,
                default=defaults.usd_per_kwh,
                show_default=True,
                help="Electricity price.",
            ),
            click.option(
                "--pue",
                type=float,
                default=defaults.pue,
                show_default=True,
                help="Power usage effectiveness of the site.",
            ),
        ]
    ):
        function = option(function)
    return function


# Work shorter than this shows no bar: it would only flash.
PROGRESS_AFTER_S = 2.0


class ProgressBar:
    """A rich progress bar on stderr for the core's `progress(done, total, what)` callback.

    Drawn only on a terminal, and only once the work has run PROGRESS_AFTER_S; piped output, --json and quick
    commands see nothing. Use as a context manager: `with ProgressBar("serving") as progress: ...`.
    """

    def __init__(self, label: str, enabled: bool = True) -> None:
        import sys
        import time

        self.label = label
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.perf_counter()
        self.bar = None
        self.task = None

    def __call__(self, done: float, total: float | None, what: str) -> None:
        if not self.enabled:
            return
        import time

        if self.bar is None:
            if time.perf_counter() - self.started < PROGRESS_AFTER_S:
                return
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[what]}"),
                TimeElapsedColumn(), console=make_console(stderr=True), transient=True,
            )  # fmt: skip
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=total, what=what)
        self.bar.update(self.task, completed=done, total=total, what=what)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
