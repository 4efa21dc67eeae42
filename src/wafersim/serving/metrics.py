"""What a run measured: latency percentiles, throughput, goodput under SLOs, KV and queue series.

The files a run can be written to (per-request CSV/Parquet, series CSV, Chrome trace) are in
`wafersim.report.serving_files`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from wafersim.serving.simulator import SimResult
from wafersim.serving.state import COMPLETED, REJECTED


@dataclass(frozen=True)
class SLO:
    ttft_s: float | None = None
    tpot_s: float | None = None


def _percentiles(values: np.ndarray, name: str) -> dict[str, float | None]:
    if not len(values):
        return {f"{name}_p{q}_s": None for q in (50, 90, 99)} | {f"{name}_mean_s": None}
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {
        f"{name}_p50_s": float(p50),
        f"{name}_p90_s": float(p90),
        f"{name}_p99_s": float(p99),
        f"{name}_mean_s": float(np.mean(values)),
    }


def per_request(result: SimResult) -> dict[str, np.ndarray]:
    r = result.requests
    ttft = r.first_token_s - r.arrival_s
    decode_tokens = r.output - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(decode_tokens > 0, (r.finish_s - r.first_token_s) / decode_tokens, np.nan)
    return {
        "ttft_s": ttft,
        "tpot_s": tpot,
        "e2e_s": r.finish_s - r.arrival_s,
    }


def time_average(times: np.ndarray, values: np.ndarray, end_s: float) -> float:
    """Time-weighted mean of a step function that takes values[i] from times[i] until times[i + 1]."""
    if not len(times) or end_s <= times[0]:
        return 0.0
    spans = np.diff(np.append(times, end_s))
    return float(np.sum(values * spans) / (end_s - times[0]))


def engine_series(times, engines, values, engine: int) -> tuple[np.ndarray, np.ndarray]:
    times, engines, values = (np.frombuffer(a, dtype=a.typecode) for a in (times, engines, values))
    mask = engines == engine
    return times[mask], values[mask]


def summarize(result: SimResult, slo: SLO | None = None) -> dict[str, Any]:
    r = result.requests
    done = r.status == COMPLETED
    rejected = r.status == REJECTED
    if int(done.sum() + rejected.sum()) != r.n:
        raise RuntimeError("requests neither completed nor rejected (a simulator bug)")
    metrics = per_request(result)
    tpot = metrics["tpot_s"][done]
    tpot = tpot[~np.isnan(tpot)]
    start = float(r.arrival_s[0])
    end = float(np.nanmax(r.finish_s)) if done.any() else start
    span = max(end - start, 1e-12)
    output_tokens = int(r.output[done].sum())
    summary: dict[str, Any] = {
        "requests": r.n,
        "completed": int(done.sum()),
        "engines": result.engines,
        "workload": result.workload_source,
        "scheduler": result.config.scheduler.policy,
        "router": result.config.router,
        **_percentiles(metrics["ttft_s"][done], "ttft"),
        **_percentiles(tpot, "tpot"),
        **_percentiles(metrics["e2e_s"][done], "e2e"),
        "makespan_s": span,
        "output_tokens": output_tokens,
        "output_tokens_per_s": output_tokens / span,
        "requests_per_s": int(done.sum()) / span,
        "offered_rate_rps": (r.n - 1) / float(r.arrival_s[-1] - r.arrival_s[0]) if r.n > 1 else None,
        "preemptions": int(r.preemptions.sum()),
        "kv_capacity_tokens_per_engine": result.kv_capacity_tokens,
        "sim_wall_s": result.wall_s,
        "events": result.events,
    }
    summary.update(_series_summary(result, end))
    if rejected.any():
        ids = np.flatnonzero(rejected)
        counts = Counter(r.reason[int(i)][0] for i in ids)
        examples: dict[str, str] = {}
        for i in ids:
            code, message = r.reason[int(i)]
            examples.setdefault(code, f"request {int(i)}: {message}")
        summary["rejected"] = {
            "count": int(rejected.sum()),
            "reasons": {code: {"count": counts[code], "example": examples[code]} for code in counts},
            "request_ids": [int(i) for i in np.flatnonzero(rejected)[:100]],
        }
    if slo is not None and (slo.ttft_s is not None or slo.tpot_s is not None):
        ok = done.copy()
        if slo.ttft_s is not None:
            ok &= metrics["ttft_s"] <= slo.ttft_s
        if slo.tpot_s is not None:
            ok &= np.nan_to_num(metrics["tpot_s"], nan=0.0) <= slo.tpot_s
        summary["slo"] = {"ttft_s": slo.ttft_s, "tpot_s": slo.tpot_s}
        summary["goodput_rps"] = int(ok.sum()) / span
        summary["slo_attainment"] = int(ok.sum()) / r.n
    return summary


def _series_summary(result: SimResult, end_s: float) -> dict[str, Any]:
    s = result.series
    kv_mean, kv_peak, queue_mean, queue_peak = [], [], [], []
    for engine in range(result.engines):
        t, tokens = engine_series(s.kv_t, s.kv_engine, s.kv_tokens, engine)
        capacity = result.engine_capacity_tokens[engine]
        if len(t) and result.engine_roles[engine] != "prefill":  # KV use of the engines that hold it
            kv_mean.append(time_average(t, tokens, end_s) / capacity)
            kv_peak.append(float(tokens.max()) / capacity)
        t, length = engine_series(s.queue_t, s.queue_engine, s.queue_len, engine)
        if len(t):
            queue_mean.append(time_average(t, length, end_s))
            queue_peak.append(int(length.max()))
    return {
        "kv_use_mean": float(np.mean(kv_mean)) if kv_mean else 0.0,
        "kv_use_peak": float(np.max(kv_peak)) if kv_peak else 0.0,
        "queue_len_mean": float(np.sum(queue_mean)) if queue_mean else 0.0,
        "queue_len_peak": int(np.max(queue_peak)) if queue_peak else 0,
    }
