"""Per-request state of a run, as NumPy arrays indexed by request id (no per-request Python objects)."""

from __future__ import annotations

from array import array

import numpy as np

from wafersim.serving.workload import Workload

PENDING, COMPLETED, REJECTED = 0, 1, 2


class Requests:
    def __init__(self, workload: Workload) -> None:
        n = len(workload)
        self.n = n
        self.arrival_s = workload.arrival_s
        self.prompt = workload.prompt_tokens
        self.output = workload.output_tokens
        # Python-list mirrors for the scalar reads of the per-step loop (a list index is ~3× a NumPy one).
        self.prompt_list: list[int] = self.prompt.tolist()
        self.output_list: list[int] = self.output.tolist()
        self.generated = np.zeros(n, dtype=np.int64)
        self.first_token_s = np.full(n, np.nan)
        self.finish_s = np.full(n, np.nan)
        self.queued_s = np.zeros(n)  # total time spent waiting (re-queues after preemption included)
        self.enqueued_at_s = np.full(n, np.nan)
        self.preemptions = np.zeros(n, dtype=np.int64)
        self.engine = np.full(n, -1, dtype=np.int64)  # the engine that decodes it (or served it whole)
        self.kv_ready = np.zeros(
            n, dtype=bool
        )  # disaggregation: its KV sits on a decode engine, no prefill needed
        self.status = np.full(n, PENDING, dtype=np.int8)
        self.reason: dict[int, tuple[str, str]] = {}  # rejected request id -> (reason code, message)


class Series:
    """Time series recorded while simulating (append-only C arrays: cheap for millions of points)."""

    def __init__(self) -> None:
        self.queue_t = array("d")
        self.queue_engine = array("q")
        self.queue_len = array("q")
        self.kv_t = array("d")
        self.kv_engine = array("q")
        self.kv_tokens = array("q")
        self.kv_running = array("q")

    def queue(self, time_s: float, engine: int, length: int) -> None:
        self.queue_t.append(time_s)
        self.queue_engine.append(engine)
        self.queue_len.append(length)

    def kv(self, time_s: float, engine: int, tokens: int, running: int) -> None:
        self.kv_t.append(time_s)
        self.kv_engine.append(engine)
        self.kv_tokens.append(tokens)
        self.kv_running.append(running)
