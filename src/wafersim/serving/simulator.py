"""Replay a workload against identical engines behind a router; returns per-request results and series.

Events: "arrival" (the next request; each arrival schedules the one after it, so the heap stays small),
"segment" (an engine finished what it planned) and, with prefill/decode disaggregation, "handoff" (a request's
KV reached the decode pool); `_Run` has one handler per kind, returning the events it causes. A request that an
engine would admit at its next step cuts that engine's decode stretch at the first step boundary after it
arrives. `ROUTERS` is the one place a router is registered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from wafersim.bounds import check_simulation_size
from wafersim.errors import WafersimError
from wafersim.progress import Progress
from wafersim.serving.engine import Engine, SchedulerConfig
from wafersim.serving.events import Event, EventLoop
from wafersim.serving.pricing import IterationPricer
from wafersim.serving.replica import ReplicaModel
from wafersim.serving.state import REJECTED, Requests, Series
from wafersim.serving.workload import Workload

RouterPolicy = Literal["round-robin", "least-outstanding", "least-kv"]


def _round_robin(pool: list[Engine], turn: list[int]) -> Engine:
    engine = pool[turn[0] % len(pool)]
    turn[0] += 1
    return engine


def _least_outstanding(pool: list[Engine], turn: list[int]) -> Engine:
    return min(pool, key=Engine.outstanding)


def _least_kv(pool: list[Engine], turn: list[int]) -> Engine:
    return min(pool, key=lambda e: (e.kv_fraction(), e.outstanding()))


# The one place a router is registered: the name users type -> (engines of a pool, the run's round-robin turn
# counter) -> the engine that gets the request. Ties go to the lowest engine index (min keeps the first).
ROUTERS: dict[str, Callable[[list[Engine], list[int]], Engine]] = {
    "round-robin": _round_robin,
    "least-outstanding": _least_outstanding,
    "least-kv": _least_kv,
}


@dataclass(frozen=True)
class ServeConfig:
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    engines: int = 1  # decode engines when disaggregated
    router: RouterPolicy = "least-outstanding"
    record_segments: bool = False  # keep every segment for a Chrome trace
    prefill_engines: int = 0  # > 0: prefill/decode disaggregation with this many prefill engines

    def __post_init__(self) -> None:
        if self.engines < 1:
            raise WafersimError(f"engines must be ≥ 1, got {self.engines}", field="engines")
        if self.prefill_engines < 0:
            raise WafersimError(
                f"prefill_engines must be ≥ 0, got {self.prefill_engines}", field="prefill_engines"
            )
        if self.router not in ROUTERS:
            raise WafersimError(
                f"router {self.router!r}: expected one of {', '.join(ROUTERS)}", field="router"
            )


@dataclass(frozen=True)
class PrefillPool:
    """Disaggregation: the engines that prefill, and the time to move a request's KV to a decode engine."""

    replica: ReplicaModel
    kv_transfer_s: Callable[[np.ndarray], np.ndarray]  # tokens of KV -> seconds


@dataclass
class SimResult:
    requests: Requests
    series: Series
    config: ServeConfig
    engines: int
    kv_capacity_tokens: int  # of one (decode) engine
    wall_s: float
    events: int
    segments: list | None
    workload_source: str
    engine_capacity_tokens: list[int] = field(default_factory=list)  # per engine index
    engine_roles: list[str] = field(default_factory=list)


def _reject(requests: Requests, pools: list[tuple[Engine, int, int]], context_limit: int) -> None:
    """Requests no engine could ever serve are rejected up front, each with its reason.

    `pools`: (an engine of the pool, tokens it must hold beyond the prompt: output or 1 for a prefill pool).
    """
    total = requests.prompt + requests.output
    too_long = total > context_limit
    for rid in np.flatnonzero(too_long):
        requests.reason[int(rid)] = (
            "exceeds-context",
            f"prompt + output = {int(total[rid])} tokens exceeds the model's {context_limit}-token context",
        )
    too_big = np.zeros(requests.n, dtype=bool)
    for engine, role in pools:
        held = total if role != "prefill" else requests.prompt + 1
        over = (-(-held // engine.block) > engine.admissible_blocks()) & ~too_long & ~too_big
        where = "a prefill engine" if role == "prefill" else "one engine"
        for rid in np.flatnonzero(over):
            requests.reason[int(rid)] = (
                "exceeds-kv-capacity",
                f"needs {int(held[rid])} tokens of KV cache but {where} holds "
                f"{engine.admissible_blocks() * engine.block} (after the admission watermark)",
            )
        too_big |= over
    requests.status[too_long | too_big] = REJECTED


class _Run:
    """One replay: the engines, the router and the arrival cursor; one handler per event kind, each returning
    the events it causes (serving/events.py's contract). Kept on one object so that a handler is a method
    reading attributes (the loop runs millions of them)."""

    def __init__(
        self, workload: Workload, replica: ReplicaModel, config: ServeConfig, pricer: IterationPricer,
        prefill: PrefillPool | None, progress: Progress | None = None,
    ) -> None:  # fmt: skip
        self.requests = requests = Requests(workload)
        self.progress = progress
        self.series = Series()
        self.segments: list | None = [] if config.record_segments else None
        self.prefill = prefill
        self.caused: list[Event] = []  # handoffs a prefill engine schedules while its segment completes
        role = "decode" if prefill else "both"
        self.engines = [
            Engine(
                i,
                requests,
                pricer,
                replica.kv_capacity_tokens,
                config.scheduler,
                self.series,
                self.segments,
                role,
            )  # fmt: skip
            for i in range(config.engines)
        ]
        self.prefill_engines: list[Engine] = []
        if prefill is not None:
            prefill_pricer = IterationPricer(prefill.replica)
            self.prefill_engines = [
                Engine(
                    config.engines + i,
                    requests,
                    prefill_pricer,
                    prefill.replica.kv_capacity_tokens,
                    config.scheduler,
                    self.series,
                    self.segments,
                    "prefill",
                    self._handoff,
                )  # fmt: skip
                for i in range(config.prefill_engines)
            ]
        self.every = self.engines + self.prefill_engines
        for engine in (self.engines[0], *self.prefill_engines[:1]):
            if engine.admissible_blocks() < 1:
                raise WafersimError(
                    f"one {engine.role if engine.role != 'both' else ''} engine holds "
                    f"{engine.capacity_blocks * engine.block} KV tokens, less than one "
                    f"{config.scheduler.block_tokens}-token block: it cannot hold one request".replace(
                        "  ", " "
                    )
                )
        pools = [(self.engines[0], role)] + ([(self.prefill_engines[0], "prefill")] if prefill else [])
        _reject(requests, pools, replica.max_context_tokens)
        self.order = order = np.flatnonzero(requests.status != REJECTED)
        if not len(order):
            first = next(iter(requests.reason.values()))
            raise WafersimError(f"every request is rejected, e.g. request 0: {first[1]}")
        self.router, self.turn = ROUTERS[config.router], [0]
        self.first_pool = self.prefill_engines or self.engines
        # With one engine taking arrivals, the next arrival is known to reach it: planning can stop there.
        self.lookahead = len(self.first_pool) == 1
        self.next_arrival = 0  # position in `order` of the next arrival
        # Python-list copies for the per-event scalar reads (a list index is several times cheaper than NumPy's).
        self.order_list: list[int] = order.tolist()
        self.arrivals: list[float] = requests.arrival_s[order].tolist()
        self.report_every = max(1, len(self.order_list) // 200)

    def _handoff(self, ids: np.ndarray, end_s: float) -> None:
        """A prefill engine's requests leave for the decode pool once their KV has moved."""
        assert self.prefill is not None
        requests = self.requests
        arrive = end_s + self.prefill.kv_transfer_s(requests.prompt[ids] + requests.generated[ids])
        for rid, when in zip(ids.tolist(), np.atleast_1d(arrive).tolist(), strict=True):
            self.caused.append(Event(when, 0, "handoff", rid))

    def _start(self, engine: Engine, now_s: float) -> Event | None:
        horizon_s = float("inf")
        if self.lookahead and engine is self.first_pool[0] and self.next_arrival < len(self.order_list):
            horizon_s = self.arrivals[self.next_arrival]
        segment = engine.plan(now_s, horizon_s)
        engine.event = None if segment is None else Event(segment.end_s, 0, "segment", engine)
        return engine.event

    def _deliver(self, pool: list[Engine], rid: int, now_s: float, caused: list[Event]) -> Engine:
        engine = pool[0] if len(pool) == 1 else self.router(pool, self.turn)
        engine.enqueue(rid, now_s)
        if engine.event is None:
            if (event := self._start(engine, now_s)) is not None:
                caused.append(event)
        elif engine.would_admit_head() and engine.cut(now_s):
            engine.event.cancelled = True
            engine.event = Event(engine.segment.end_s, 0, "segment", engine)
            caused.append(engine.event)
        return engine

    def on_arrival(self, event: Event) -> list[Event]:
        position = event.payload
        self.next_arrival = position + 1
        rid = self.order_list[position]
        if self.progress is not None and position % self.report_every == 0:
            self.progress(position, len(self.order_list), "requests arrived")
        caused: list[Event] = []
        self.requests.engine[rid] = self._deliver(self.first_pool, rid, event.time_s, caused).index
        if position + 1 < len(self.order_list):
            caused.append(Event(self.arrivals[position + 1], 0, "arrival", position + 1))
        return caused

    def on_handoff(self, event: Event) -> list[Event]:
        caused: list[Event] = []
        self.requests.engine[event.payload] = self._deliver(
            self.engines, event.payload, event.time_s, caused
        ).index
        return caused

    def on_segment(self, event: Event) -> list[Event]:
        engine: Engine = event.payload
        engine.complete(event.time_s)  # a prefill engine's handoffs land in self.caused
        caused, self.caused = self.caused, []
        if (segment := self._start(engine, event.time_s)) is not None:
            caused.append(segment)
        return caused


def simulate(
    workload: Workload,
    replica: ReplicaModel,
    config: ServeConfig | None = None,
    pricer: IterationPricer | None = None,
    prefill: PrefillPool | None = None,
    allow_large: bool = False,
    progress: Progress | None = None,
) -> SimResult:
    """Replay `workload` against `config.engines` engines of `replica` (and a prefill pool when given); every
    request completes or is rejected up front with its reason. More than MAX_SIMULATED_REQUESTS requests are
    refused unless `allow_large`; `progress` hears of arrivals (about 200 times a run)."""
    config = config or ServeConfig()
    check_simulation_size(len(workload), allow_large, "workload", config.engines + config.prefill_engines)
    if (prefill is None) != (config.prefill_engines == 0):
        raise ValueError("give a PrefillPool exactly when config.prefill_engines > 0")
    started = time.perf_counter()
    run = _Run(workload, replica, config, pricer or IterationPricer(replica), prefill, progress)
    loop = EventLoop()
    loop.schedule(run.arrivals[0], "arrival", 0)
    loop.run({"arrival": run.on_arrival, "segment": run.on_segment, "handoff": run.on_handoff})
    if progress is not None:
        progress(len(run.order_list), len(run.order_list), "requests arrived")
    for engine in run.every:  # the loop ends only when every engine is idle: nothing may be left behind
        if engine.waiting or len(engine.running) or engine.prefilling:
            raise RuntimeError(f"engine {engine.index} stopped with requests left (a scheduler bug)")
    every = run.every
    return SimResult(
        requests=run.requests,
        series=run.series,
        config=config,
        engines=len(every),
        kv_capacity_tokens=replica.kv_capacity_tokens,
        wall_s=time.perf_counter() - started,
        events=loop.handled,
        segments=run.segments,
        workload_source=workload.source,
        engine_capacity_tokens=[e.capacity_blocks * e.block for e in every],
        engine_roles=[e.role for e in every],
    )
