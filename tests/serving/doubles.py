"""A linear replica (iteration time affine in tokens and KV reads) for scheduler tests with hand-checkable times."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wafersim.perf.work import StepWork
from wafersim.serving.workload import Workload


@dataclass
class LinearReplica:
    kv_capacity_tokens: int = 100_000
    max_context_tokens: int = 8192
    step_s: float = 0.01  # fixed cost of an iteration
    per_token_s: float = 1e-4  # each new token (prefill or decode)
    per_read_s: float = 1e-7  # each cached token read by attention
    sliding_window: int | None = None
    accelerators: int = 1
    power_w: float = 1000.0

    def iteration_time_s(self, work: StepWork) -> np.ndarray:
        tokens = np.asarray(work.tokens, dtype=float)
        reads = np.asarray(work.kv_reads, dtype=float)
        return self.step_s + self.per_token_s * tokens + self.per_read_s * reads


def make_workload(arrivals, prompts, outputs, source: str = "test") -> Workload:
    return Workload(
        np.asarray(arrivals, dtype=float),
        np.asarray(prompts, dtype=np.int64),
        np.asarray(outputs, dtype=np.int64),
        source,
    )
