"""Replay a workload against identical engines behind a router; returns per-request results and series.

Events: "arrival" (the next request; each arrival schedules the one after it, so the heap stays small) and
"segment" (an engine finished what it planned). An arrival that an engine would admit at its next step cuts
that engine's decode stretch at the first step boundary after the arrival.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from wafersim.errors import WafersimError
from wafersim.serving.engine import Engine, SchedulerConfig
from wafersim.serving.events import Event, EventLoop
from wafersim.serving.pricing import IterationPricer
from wafersim.serving.replica import ReplicaModel
from wafersim.serving.state import REJECTED, Requests, Series
from wafersim.serving.workload import Workload

RouterPolicy = Literal["round-robin", "least-outstanding", "least-kv"]
ROUTERS = ("round-robin", "least-outstanding", "least-kv")


@dataclass(frozen=True)
class ServeConfig:
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    engines: int = 1
    router: RouterPolicy = "least-outstanding"
    record_segments: bool = False  # keep every segment for a Chrome trace

    def __post_init__(self) -> None:
        if self.engines < 1:
            raise WafersimError(f"--replicas must be ≥ 1, got {self.engines}")
        if self.router not in ROUTERS:
            raise WafersimError(f"--router {self.router!r}: expected one of {', '.join(ROUTERS)}")


@dataclass
class SimResult:
    requests: Requests
    series: Series
    config: ServeConfig
    engines: int
    kv_capacity_tokens: int
    wall_s: float
    events: int
    segments: list | None
    workload_source: str


def _reject(requests: Requests, replica: ReplicaModel, engine: Engine, context_limit: int) -> None:
    """Requests no engine could ever serve are rejected up front, each with its reason."""
    total = requests.prompt + requests.output
    too_long = np.flatnonzero(total > context_limit)
    for rid in too_long:
        requests.reason[int(rid)] = (
            "exceeds-context",
            f"prompt + output = {int(total[rid])} tokens exceeds the model's {context_limit}-token context",
        )
    blocks = -(-total // engine.block)
    too_big = np.flatnonzero((blocks > engine.admissible_blocks()) & (total <= context_limit))
    for rid in too_big:
        requests.reason[int(rid)] = (
            "exceeds-kv-capacity",
            f"needs {int(total[rid])} tokens of KV cache but one engine holds "
            f"{engine.admissible_blocks() * engine.block} (after the admission watermark)",
        )
    rejected = np.concatenate([too_long, too_big])
    requests.status[rejected] = REJECTED


def simulate(
    workload: Workload,
    replica: ReplicaModel,
    config: ServeConfig | None = None,
    pricer: IterationPricer | None = None,
) -> SimResult:
    config = config or ServeConfig()
    started = time.perf_counter()
    requests = Requests(workload)
    series = Series()
    pricer = pricer or IterationPricer(replica)
    segments: list | None = [] if config.record_segments else None
    engines = [
        Engine(i, requests, pricer, replica.kv_capacity_tokens, config.scheduler, series, segments)
        for i in range(config.engines)
    ]
    if engines[0].admissible_blocks() < 1:
        raise WafersimError(
            f"one engine holds {replica.kv_capacity_tokens} KV tokens, less than one "
            f"{config.scheduler.block_tokens}-token block: it cannot hold one request"
        )
    _reject(requests, replica, engines[0], replica.max_context_tokens)
    order = np.flatnonzero(requests.status != REJECTED)
    if not len(order):
        first = next(iter(requests.reason.values()))
        raise WafersimError(f"every request is rejected, e.g. request 0: {first[1]}")
    loop = EventLoop()
    router_state = {"next": 0}

    def route() -> Engine:
        if config.router == "round-robin":
            engine = engines[router_state["next"] % len(engines)]
            router_state["next"] += 1
            return engine
        if config.router == "least-kv":
            return min(engines, key=lambda e: (e.kv_fraction(), e.outstanding()))
        return min(engines, key=Engine.outstanding)

    def start(engine: Engine, now_s: float) -> list[Event]:
        segment = engine.plan(now_s)
        if segment is None:
            engine.event = None
            return []
        engine.event = loop.schedule(segment.end_s, "segment", engine)
        return []

    def on_arrival(event: Event) -> list[Event]:
        position = event.payload
        rid = int(order[position])
        engine = route() if len(engines) > 1 else engines[0]
        requests.engine[rid] = engine.index
        engine.enqueue(rid, event.time_s)
        if engine.event is None:
            start(engine, event.time_s)
        elif engine.would_admit_head() and engine.cut(event.time_s):
            engine.event.cancelled = True
            engine.event = loop.schedule(engine.segment.end_s, "segment", engine)
        if position + 1 < len(order):
            loop.schedule(float(requests.arrival_s[order[position + 1]]), "arrival", position + 1)
        return []

    def on_segment(event: Event) -> list[Event]:
        engine: Engine = event.payload
        engine.complete(event.time_s)
        return start(engine, event.time_s)

    loop.schedule(float(requests.arrival_s[order[0]]), "arrival", 0)
    loop.run({"arrival": on_arrival, "segment": on_segment})
    for engine in engines:  # the loop ends only when every engine is idle: nothing may be left behind
        if engine.waiting or len(engine.running) or engine.prefilling:
            raise RuntimeError(f"engine {engine.index} stopped with requests left (a scheduler bug)")
    return SimResult(
        requests=requests,
        series=series,
        config=config,
        engines=len(engines),
        kv_capacity_tokens=replica.kv_capacity_tokens,
        wall_s=time.perf_counter() - started,
        events=loop.handled,
        segments=segments,
        workload_source=workload.source,
    )
