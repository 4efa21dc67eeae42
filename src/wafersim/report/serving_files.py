"""Files a serving run writes: per-request results (CSV or Parquet), KV/queue series (CSV), Chrome trace (JSON)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from wafersim.errors import WafersimError
from wafersim.serving.metrics import per_request
from wafersim.serving.simulator import SimResult

REQUEST_COLUMNS = (
    "id",
    "arrival_s",
    "prompt_tokens",
    "output_tokens",
    "engine",
    "status",
    "first_token_s",
    "finish_s",
    "ttft_s",
    "tpot_s",
    "e2e_s",
    "queued_s",
    "preemptions",
    "reason",
)


def write_requests(result: SimResult, path: Path) -> None:
    """Per-request results: CSV, or Parquet when the name ends in .parquet and pyarrow is installed."""
    r = result.requests
    metrics = per_request(result)
    status = np.array(["pending", "completed", "rejected"])[r.status]
    reason = [r.reason[i][1] if i in r.reason else "" for i in range(r.n)]
    columns = {
        "id": np.arange(r.n),
        "arrival_s": r.arrival_s,
        "prompt_tokens": r.prompt,
        "output_tokens": r.output,
        "engine": r.engine,
        "status": status,
        "first_token_s": r.first_token_s,
        "finish_s": r.finish_s,
        "ttft_s": metrics["ttft_s"],
        "tpot_s": metrics["tpot_s"],
        "e2e_s": metrics["e2e_s"],
        "queued_s": r.queued_s,
        "preemptions": r.preemptions,
        "reason": reason,
    }
    path = Path(path)
    if path.suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise WafersimError(
                f"{path}: Parquet output needs pyarrow (pip install 'wafersim[parquet]')"
            ) from None
        pq.write_table(pa.table({k: list(v) if k == "reason" else v for k, v in columns.items()}), path)
        return
    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(REQUEST_COLUMNS)
            writer.writerows(zip(*(columns[name] for name in REQUEST_COLUMNS), strict=True))
    except OSError as error:
        raise WafersimError(f"{path}: cannot write ({error.strerror})") from None


def write_series(result: SimResult, path: Path) -> int:
    """KV use and queue length over time, long format: time_s, engine, series, value (rows in time order).

    kv_tokens and running are sampled when an engine starts a segment; queue_len at every change.
    """
    s = result.series
    columns = []
    for name, times, engines, values in (
        ("kv_tokens", s.kv_t, s.kv_engine, s.kv_tokens),
        ("running", s.kv_t, s.kv_engine, s.kv_running),
        ("queue_len", s.queue_t, s.queue_engine, s.queue_len),
    ):
        t = np.frombuffer(times, dtype=np.float64)
        columns.append(
            (t, np.frombuffer(engines, dtype=np.int64), np.frombuffer(values, dtype=np.int64), name)
        )
    times = np.concatenate([c[0] for c in columns])
    order = np.argsort(times, kind="stable")
    engines = np.concatenate([c[1] for c in columns])[order]
    values = np.concatenate([c[2] for c in columns])[order]
    names = np.concatenate([np.full(len(c[0]), c[3]) for c in columns])[order]
    try:
        with Path(path).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(("time_s", "engine", "series", "value"))
            writer.writerows(
                zip(times[order].tolist(), engines.tolist(), names.tolist(), values.tolist(), strict=True)
            )
    except OSError as error:
        raise WafersimError(f"{path}: cannot write ({error.strerror})") from None
    return len(order)


def write_chrome_trace(result: SimResult, path: Path, start_s: float, end_s: float) -> int:
    """Segments overlapping [start_s, end_s] as Chrome trace events (chrome://tracing, Perfetto)."""
    if result.segments is None:
        raise RuntimeError("the run did not record segments")
    events = []
    for engine, kind, begin, finish, batch, iterations in result.segments:
        if finish < start_s or begin > end_s:
            continue
        events.append(
            {
                "name": f"{kind} ×{iterations}" if iterations > 1 else kind,
                "cat": kind,
                "ph": "X",
                "ts": begin * 1e6,
                "dur": (finish - begin) * 1e6,
                "pid": 0,
                "tid": engine,
                "args": {"sequences": batch, "iterations": iterations},
            }
        )
    try:
        Path(path).write_text(json.dumps({"traceEvents": events, "displayTimeUnit": "ms"}), encoding="utf-8")
    except OSError as error:
        raise WafersimError(f"{path}: cannot write ({error.strerror})") from None
    return len(events)
