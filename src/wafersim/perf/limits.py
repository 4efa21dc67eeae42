"""Pricing a serving iteration in steady state, and choosing the batch and the prefill chunk under TTFT/TPOT limits.

Continuous batching with `batch` sequences in flight: every iteration each sequence makes one token, and the
prompts of arriving requests are prefilled alongside in chunks (chunked prefill), batch × input / output prompt
tokens per iteration on average. Hence, per replica:
- throughput = batch / time(batch decodes + batch·I/O prompt tokens);
- TPOT = time of the same iteration with the *other* sequences' prompt share, (batch − 1)·I/O: a request's TPOT
  averages over its O iterations. Under Poisson arrivals (a server scenario, i.e. with a TTFT limit) the TPOT
  limit is a p99 over requests: the prompts prefilled during a request's life are a Poisson count, and short
  requests, which average over few iterations, set the p99 (`server_tpot_s`, over the output-length
  distribution: perf/tail.py);
- TTFT = the iterations that prefill one prompt in chunks of `chunk` tokens while the others decode.

Under Poisson arrivals a request may also wait for a free sequence slot: the dp × batch slots are an M/M/c
queue whose service is a request's whole decode, O × TPOT, so the slots can only be kept busy up to the
utilisation at which the p99 slot wait still fits the TTFT limit (`slot_utilisation`); the deployment's
throughput is that fraction of the full batch's.

A server scenario (MLPerf Server: Poisson arrivals, p99 TTFT and p99 TPOT limits) adds the wait for the prompts
ahead: the prefill slot serves one prompt at a time, S = its chunked prefill in seconds. Its utilisation is
counted in time, not in iterations: prompts arrive at λ = batch / (O t) per second (t the steady iteration) and
ρ = λ S (a prompt shorter than the chunk shares its iteration, ρ = λ S I / chunk). With long prompts the
iterations that carry prefill are the long ones, so a slot busy in few iterations is busy most of the time —
Llama-3.1-405B's 8 K-token prompts keep it busy ~85% of the time at the offline batch. The p99 wait is taken
from the exponential tail of an M/D/1 queue, P(W > x) ≈ ρ exp(−x ρ / W̄) with mean W̄ = ρ S / (2 (1 − ρ))
(Pollaczek–Khinchine mean; the exponential tail is the heavy-traffic approximation, Kingman 1962), so p99 wait =
S ln(100 ρ) / (2 (1 − ρ)).
A smaller chunk lowers TTFT's iteration time but lengthens each prompt's service; the batch and the chunk are
chosen together so that both limits hold — the largest batch that does, with the chunk that allows it.

Pipeline stages: a prompt (or chunk, at most the token budget) is indivisible and belongs to one micro-batch, and a
micro-batch loops through all stages once per iteration. When few pieces of prefill arrive per iteration, the
micro-batch carrying one runs slower than the others and its loop sets the pipeline's period (cost.py prices a
single micro-batch's loop with `one_micro_batch`). This prefill interference is what makes pipeline layouts lose
to tensor parallelism on mixed prefill/decode traffic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from wafersim.perf.cost import IterationCost
from wafersim.perf.memory import TOKEN_BUDGET
from wafersim.perf.monotone import largest
from wafersim.perf.tail import P99_EXCEEDED, in_flight_context, tpot_exceeded, tpot_p99_s
from wafersim.perf.work import StepWork, decode_work, prefill_work

# Chunk sizes tried under a TTFT limit: powers of two from 256 tokens to the token budget and beyond for long
# prompts (vLLM's max_num_batched_tokens and TensorRT-LLM's max_num_tokens are set per deployment).
CHUNK_CANDIDATES = (256, 512, 1024, 2048, 4096, 8192, 16384)
P99_TAIL = 100.0  # 1 / (1 − 0.99): the p99 of the waiting-time tail


@dataclass(frozen=True)
class Workload:
    input_len: int
    output_len: int
    window: int | None
    output_len_cv: float = 0.0  # spread of output lengths across requests (tail.in_flight_context)
    max_context: int | None = None

    @property
    def mean_context(self) -> float:
        """Mean context of a sequence in the running batch (length-biased when output lengths vary)."""
        return in_flight_context(self.input_len, self.output_len, self.output_len_cv, self.max_context)


def iteration_time_s(
    cost: IterationCost, load: Workload, batch: float, extra: StepWork | None, pieces: float
) -> np.ndarray:
    """One iteration: `batch` decodes plus `extra` prefill work (one iteration, or an array of them) arriving
    in `pieces` indivisible pieces.

    A piece belongs to one micro-batch (pipeline stages) and, with attention data parallelism, to one rank,
    which prefills it alone while the others wait for it at every MoE layer's all-to-all: with fewer pieces
    than places, the busiest micro-batch and rank carry whole ones and set the pace."""
    decode = decode_work(batch, load.mean_context, load.window)
    full = decode if extra is None else decode + extra
    seconds = np.asarray(cost.time_s(full), dtype=float)
    if extra is None:
        return seconds
    pp, ranks = cost.layout.pp, float(np.clip(batch, 1.0, cost.ranks))
    micro_batches = float(np.clip(batch / cost.ranks, 1.0, pp)) if pp > 1 else 1.0
    on_micro = float(np.clip(pieces, 1.0, micro_batches))  # micro-batches sharing the pieces
    on_rank = float(np.clip(pieces / on_micro, 1.0, ranks))  # ranks sharing the busiest one's pieces
    busiest = None
    if ranks > 1:
        busiest = decode_work(batch / (micro_batches * ranks), load.mean_context, load.window) + extra.scaled(
            1 / (on_micro * on_rank)
        )
    if pp > 1:
        heavy = decode_work(batch / micro_batches, load.mean_context, load.window) + extra.scaled(
            1 / on_micro
        )
        slowest = cost.time_s(heavy, one_micro_batch=True, rank_work=busiest)
    elif busiest is not None:
        slowest = cost.time_s(full, rank_work=busiest)
    else:
        return seconds
    return np.maximum(seconds, np.asarray(slowest, dtype=float))


def steady_time_s(cost: IterationCost, load: Workload, batch: float, prompt_sequences: float) -> float:
    """Iteration of the steady state: `batch` decodes and `prompt_sequences` / O prompts' worth of prefill."""
    if prompt_sequences <= 0:
        return float(iteration_time_s(cost, load, batch, None, 0.0))
    share = prompt_sequences / load.output_len
    prompt = prefill_work(load.input_len, 0, load.window).scaled(share)
    pieces = share * load.input_len / min(load.input_len, TOKEN_BUDGET)
    return float(iteration_time_s(cost, load, batch, prompt, pieces))


def tpot_s(cost: IterationCost, load: Workload, batch: int) -> float:
    return steady_time_s(cost, load, batch, batch - 1)


def _server_tpot_terms(cost: IterationCost, load: Workload, batch: int) -> tuple[float, float, float, float]:
    """Decode step, prefill seconds per prompt, other prompts per iteration and mean output (perf/tail.py)."""
    decode_only = steady_time_s(cost, load, batch, 0)
    others = batch - 1
    if others <= 0:
        return decode_only, 0.0, 0.0, float(load.output_len)
    per_iteration = others / load.output_len
    per_prompt = max(tpot_s(cost, load, batch) - decode_only, 0.0) / per_iteration
    return decode_only, per_prompt, per_iteration, float(load.output_len)


def server_tpot_s(cost: IterationCost, load: Workload, batch: int) -> float:
    """p99 TPOT over requests under Poisson arrivals, over the output-length distribution (perf/tail.py)."""
    return tpot_p99_s(*_server_tpot_terms(cost, load, batch))


def server_tpot_ok(cost: IterationCost, load: Workload, batch: int, limit_s: float) -> bool:
    """Whether at most 1% of requests exceed the TPOT limit (one tail evaluation, no percentile search)."""
    return tpot_exceeded(limit_s, *_server_tpot_terms(cost, load, batch)) <= P99_EXCEEDED


def default_chunk(batch: int) -> int:
    """Offline: the token budget, less the other sequences' decodes (at least 512 tokens)."""
    return max(TOKEN_BUDGET - (batch - 1), 512)


def prefill_service_s(cost: IterationCost, load: Workload, batch: int, chunk: int) -> float:
    """Iterations that prefill one prompt in chunks while the batch's other sequences decode."""
    starts = np.arange(0, load.input_len, chunk, dtype=float)
    sizes = np.minimum(chunk, load.input_len - starts)
    work = prefill_work(sizes, starts, load.window)  # every chunk's iteration, priced as one array
    return float(np.sum(iteration_time_s(cost, load, batch - 1, work, 1.0)))


def prefill_utilisation(
    cost: IterationCost, load: Workload, batch: int, chunk: int, service_s: float | None = None
) -> float:
    """Share of the replica's time its prefill slot is busy: prompts arrive at batch / (O × t) per second (t
    the steady iteration) and each holds the slot for the iterations that carry its chunks — long iterations,
    when the prompts are long — sharing one with other prompts when it is shorter than the chunk."""
    service = prefill_service_s(cost, load, batch, chunk) if service_s is None else service_s
    arrivals_per_s = batch / (load.output_len * steady_time_s(cost, load, batch, batch))
    return arrivals_per_s * service * min(load.input_len / chunk, 1.0)


def server_ttft_s(cost: IterationCost, load: Workload, batch: int, chunk: int) -> float:
    """p99 TTFT under Poisson arrivals: the prompt's chunked prefill plus the p99 wait for the ones ahead."""
    service = prefill_service_s(cost, load, batch, chunk)
    rho = prefill_utilisation(cost, load, batch, chunk, service)
    if rho >= 1.0:
        return math.inf
    wait = service * max(0.0, math.log(P99_TAIL * rho)) / (2.0 * (1.0 - rho)) if rho > 0 else 0.0
    return service + wait


def _wait_probability(slots: float, rho: float) -> float:
    """Erlang C: the chance an arrival finds every one of `slots` servers busy at utilisation rho (exact
    recursion for small pools, the Halfin–Whitt limit [1 + β Φ(β)/φ(β)]⁻¹, β = (1 − ρ)√c, for large ones)."""
    if rho <= 0:
        return 0.0
    if slots <= 64:
        c = max(int(round(slots)), 1)
        offered = rho * c
        erlang_b = 1.0
        for k in range(1, c + 1):
            erlang_b = offered * erlang_b / (k + offered * erlang_b)
        return erlang_b / (1 - rho * (1 - erlang_b))
    beta = (1 - rho) * math.sqrt(slots)
    if beta > 30:  # far below saturation: the density underflows and nobody waits
        return 0.0
    phi = math.exp(-beta * beta / 2) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + math.erf(beta / math.sqrt(2)))
    return 1.0 / (1.0 + beta * cdf / phi)


def slot_utilisation(slots: float, service_s: float, budget_s: float) -> float:
    """Highest utilisation of `slots` sequence slots (each busy for `service_s`, a request's whole decode)
    at which an arrival's p99 wait for a free slot stays within `budget_s` (M/M/c: P(W > t) = C e^(−c μ (1 − ρ) t)).

    Under Poisson arrivals the batch cannot run full: a request arriving when every slot is taken waits for one
    to free, and with few slots (large models, long prompts) that wait is long unless the slots are kept well
    below saturation — the throughput a server scenario gives up against offline."""
    if budget_s <= 0:
        return 0.0
    rate = slots / service_s  # c μ

    def ok(rho: float) -> bool:
        return _wait_probability(slots, rho) * math.exp(-rate * (1 - rho) * budget_s) <= 1 / P99_TAIL

    low, high = 0.0, 1.0
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if ok(mid) else (low, mid)
    return low


@dataclass(frozen=True)
class BatchChoice:
    batch: int
    chunk: int
    binding_limit: str  # "batch" (given), "memory", "max_batch", "max_tpot_s" or "max_ttft_s"
    limits_met: bool


def choose_batch(
    cost: IterationCost,
    load: Workload,
    memory_max: int,
    max_batch: int,
    max_tpot_s: float | None,
    max_ttft_s: float | None,
) -> BatchChoice:
    """Largest batch within memory, the engine's batch limit, the TPOT limit and the TTFT limit, with the
    prefill chunk that allows it. Both latencies grow with the batch, so each chunk size is bisected."""
    cap_reason = "memory" if memory_max < max_batch else "max_batch"

    server = max_ttft_s is not None  # a TTFT limit means Poisson arrivals: both limits are p99s

    def tpot_ok(batch: int) -> bool:
        if max_tpot_s is None:
            return True
        if server:
            return server_tpot_ok(cost, load, batch, max_tpot_s)
        return tpot_s(cost, load, batch) <= max_tpot_s

    def ttft_ok(batch: int, chunk: int) -> bool:
        return max_ttft_s is None or server_ttft_s(cost, load, batch, chunk) <= max_ttft_s

    tpot_batch = max(0, largest(1, memory_max, tpot_ok))
    if max_ttft_s is None:
        chunk = default_chunk(max(tpot_batch, 1))
        if tpot_batch >= 1:
            reason = cap_reason if tpot_batch == memory_max else "max_tpot_s"
            return BatchChoice(tpot_batch, chunk, reason, True)
        return BatchChoice(1, chunk, "max_tpot_s", False)
    if tpot_batch >= 1 and ttft_ok(tpot_batch, default_chunk(tpot_batch)):  # the TTFT limit does not bind
        reason = cap_reason if tpot_batch == memory_max else "max_tpot_s"
        return BatchChoice(tpot_batch, default_chunk(tpot_batch), reason, True)
    best_batch, best_chunk = 0, CHUNK_CANDIDATES[-1]
    for chunk in CHUNK_CANDIDATES:
        found = max(0, largest(1, tpot_batch, lambda b, c=chunk: ttft_ok(b, c)))
        if found > best_batch:
            best_batch, best_chunk = found, chunk
    if best_batch < 1:
        failing = "max_tpot_s" if tpot_batch < 1 else "max_ttft_s"
        return BatchChoice(1, best_chunk, failing, False)
    if best_batch == memory_max:
        reason = cap_reason
    elif best_batch == tpot_batch:
        reason = "max_tpot_s"
    else:
        reason = "max_ttft_s"
    return BatchChoice(best_batch, best_chunk, reason, True)
