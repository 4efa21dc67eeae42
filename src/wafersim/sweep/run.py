"""Run a sweep: compute the points the journal lacks (on the chosen engine), record each as it finishes, and
rebuild the results table. A point that fails is recorded with its one-line error; it never stops the sweep."""

from __future__ import annotations

import hashlib
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import wafersim
from wafersim.errors import WafersimError
from wafersim.parallel import Engine
from wafersim.sweep import store
from wafersim.sweep.spec import SweepSpec, point_id
from wafersim.sweep.tasks import TASKS

# The packages whose code and data decide each task's answers: a change there recomputes the task's points.
_INPUTS = {
    "estimate": ("catalog", "fabric", "perf"),
    "capacity": ("catalog", "fabric", "perf", "serving"),
    "serve": ("catalog", "fabric", "perf", "serving"),
}

Progress = Callable[[int, int, int], None]  # (finished, failed, total) after each point


@dataclass(frozen=True)
class SweepSummary:
    task: str
    points: int
    computed: int
    reused: int
    failed: int
    wall_s: float
    points_per_s: float | None  # computed points over the wall time (None when nothing was computed)
    engine: str
    workers: int | None
    code_hash: str
    version: str
    seed: int
    unused: tuple[str, ...]  # spec keys the task accepts but does not use
    out_dir: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"unused": list(self.unused)}


def code_hash(task: str) -> str:
    """A digest of the wafersim version and every file (code and data) of the packages the task depends on."""
    digest = hashlib.sha256(wafersim.__version__.encode())
    root = resources.files("wafersim")
    for package in (*_INPUTS.get(task, ()), "sweep"):
        base = Path(str(root / package))
        for path in sorted(base.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(base)).encode())
                digest.update(path.read_bytes())
    digest.update(Path(str(root / "errors.py")).read_bytes())
    return digest.hexdigest()[:16]


def run_point(job: tuple[str, dict[str, Any]]) -> tuple[dict[str, Any] | None, str | None, float]:
    """(outputs, error, seconds) for one point; runs in a worker."""
    task, params = job
    start = time.perf_counter()
    try:
        return TASKS[task].run(params), None, time.perf_counter() - start
    except WafersimError as error:
        return None, str(error), time.perf_counter() - start
    except Exception as error:  # recorded against its point: an internal error must not stop the sweep
        where = traceback.extract_tb(error.__traceback__)[-1]
        message = (
            f"internal error: {type(error).__name__}: {error} ({Path(where.filename).name}:{where.lineno})"
        )
        return None, message, time.perf_counter() - start


def _row(spec: SweepSpec, params: dict[str, Any], result, digest: str) -> dict[str, Any]:
    """A results row: the same whichever engine computed it (timings stay in the journal)."""
    outputs, error, _seconds = result
    row = {
        "point_id": point_id(spec.task, params),
        "task": spec.task,
        **{f"param_{key}": value for key, value in params.items() if key != "seed"},
        "seed": params["seed"],
        "error": error,
        "wafersim_version": wafersim.__version__,
        "code_hash": digest,
    }
    return row | (outputs or {})


def run_sweep(
    spec: SweepSpec, out_dir: str | Path, engine: Engine | None = None, progress: Progress | None = None
) -> SweepSummary:
    engine = engine or Engine()
    out = store.prepare(Path(out_dir))
    digest = code_hash(spec.task)
    points = spec.points()
    ids = [point_id(spec.task, params) for params in points]
    done = {
        pid: record["row"]
        for pid, record in store.read_journal(out).items()
        if record.get("code_hash") == digest
    }
    todo = [index for index, pid in enumerate(ids) if pid not in done]
    reused = len(points) - len(todo)
    failed = sum(1 for pid in set(ids) if pid in done and done[pid].get("error"))
    start = time.perf_counter()
    if progress:
        progress(reused, failed, len(points))
    journal = store.Journal(out)
    try:
        jobs = [(spec.task, points[index]) for index in todo]
        for finished, (position, result) in enumerate(engine.imap(run_point, jobs), start=1):
            index = todo[position]
            row = _row(spec, points[index], result, digest)
            journal.append(ids[index], digest, row, seconds=result[2])
            done[ids[index]] = row
            failed += row["error"] is not None
            if progress:
                progress(reused + finished, failed, len(points))
    finally:
        journal.close()
        # Whatever finished is in the table, even when the run was interrupted.
        store.write_results(out, [done[pid] for pid in dict.fromkeys(ids) if pid in done])
    wall_s = time.perf_counter() - start
    summary = SweepSummary(
        task=spec.task,
        points=len(points),
        computed=len(todo),
        reused=reused,
        failed=failed,
        wall_s=wall_s,
        points_per_s=len(todo) / wall_s if todo and wall_s > 0 else None,
        engine=engine.kind,
        workers=engine.workers,
        code_hash=digest,
        version=wafersim.__version__,
        seed=spec.seed,
        unused=tuple(sorted(TASKS[spec.task].unused & (set(spec.grid) | set(spec.fixed)))),
        out_dir=str(out),
    )
    store.write_summary(out, summary.to_dict())
    return summary
