"""Sweeps: every combination of a grid of inputs, run on local cores or Ray, stored as a resumable table."""

from wafersim.sweep.run import SweepSummary, code_hash, run_sweep
from wafersim.sweep.spec import SweepSpec, load_spec, parse_spec, point_id
from wafersim.sweep.store import query
from wafersim.sweep.tasks import TASKS

__all__ = [
    "TASKS",
    "SweepSpec",
    "SweepSummary",
    "code_hash",
    "load_spec",
    "parse_spec",
    "point_id",
    "query",
    "run_sweep",
]
