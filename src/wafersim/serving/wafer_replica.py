"""Wafer-scale engines (cs-2, cs-3) for the serving simulator, priced by the wafer estimator's fabric costs.

Placement. The wafer placement search (`perf.wafer.search`) runs for the model, the system, the wafers on hand
and the workload's mean lengths, as `estimate` does at maximum throughput. Its decode placement is where the
weights live; the engine runs every iteration there, prefill chunks included (the estimate may prefill on
another region shape, but continuous batching mixes prompts and decodes every few iterations, and re-laying
every weight each time would cost more than it saves).

Passes. A pass is one micro-batch's walk through the pipeline's stages (the placement's regions, S of them).
The workspace reserved on every PE holds W tokens: the estimate's decode micro-batch at its batch or its
prefill chunk, whichever is larger. An iteration of T tokens from n sequences cut into passes of t ≤ W tokens
runs M = ceil(T / t) passes; a sequence of the mean size T / n needs c = min(M, ceil(T / n / t)) of them in
order (causal chunks: a chunk enters a stage after the previous one left it). The iteration takes

    time(t) = max(path(t) + (c − 1) · busiest(t), M · busiest(t))

where path is one pass through every stage, I/O included, and busiest the slowest stage (`step_time`): the
stage-1 occupancy of all M passes, or the chain of the sequence that needs the most passes in order, whichever
ends later. A decode-only iteration is cut as the estimate cuts its decode batch, t = ceil(T / min(n, S))
(capped at W); one that carries prompt chunks the way that finishes soonest among t = powers of two up to W,
the chunk sizes the estimate's prefill search weighs. For a decode batch (c = 1) this is the estimate's
decode step, max(path, M · busiest): the micro-batches are in flight together and each starts its next token as soon as it
leaves the last stage. For one prompt (n = 1) it is the estimate's TTFT, path + (chunks − 1) · busiest, with
the best chunk. Attention is priced at the iteration's mean keys per query token (attention pairs / tokens), as
the estimate prices decode at the mean context and prefill chunks at half the prompt. The chain is that of a
mean-sized sequence: when one long prompt shares a prefill iteration with short ones, its longer chain is
missed, by less than one path(t) (the time is at least M · busiest(t) anyway).

KV capacity is the SRAM left after weights, code reserve and that workspace, pooled over sequences
(`perf.wafer.pipeline.kv_capacity_tokens`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from wafersim.catalog import ModelSpec, Precision, SystemSpec
from wafersim.errors import WafersimError
from wafersim.perf.types import DEFAULT_MAX_BATCH, EstimateRequest
from wafersim.perf.wafer.estimator import WaferOptions, estimate_wafer, model_on_wafer, workload
from wafersim.perf.wafer.pipeline import (
    CODE_RESERVE_BYTES,
    ModelOnWafer,
    Placement,
    kv_bytes_per_token_per_wafer,
    kv_capacity_tokens,
    region_bytes,
    sram_use,
    step_time,
)
from wafersim.perf.wafer.search import Phases, Workload, best_prefill, decode_split, search
from wafersim.perf.work import StepWork


@dataclass(frozen=True)
class WaferPlan:
    """Where one engine's model lives and how large its passes are."""

    mow: ModelOnWafer
    placement: Placement
    pass_tokens: int  # tokens one pass carries at most (the activation workspace reserved on every PE)
    workspace_context: int  # keys the workspace's score buffers are sized for (the workload's mean context)
    prefill_chunk: int  # the estimate's prefill chunk on this placement
    batch: int  # the estimate's batch on this placement
    decode_tokens: int = 0  # tokens of a decode pass (0: pass_tokens)
    gemm_prefill: bool = False  # prompt chunks run as GEMMs (a 2-D workspace of pass_tokens) beside decode

    @property
    def workspace(self) -> tuple[int, int]:
        """(GEMV-layout tokens, GEMM-layout chunk) the activation workspace holds on every PE."""
        if self.gemm_prefill:
            return self.decode_tokens or self.pass_tokens, self.pass_tokens
        return self.pass_tokens, 0


class WaferReplica:
    """One engine on `placement.wafers` wafers; implements `ReplicaModel`."""

    def __init__(self, plan: WaferPlan) -> None:
        self.plan = plan
        mow, p = plan.mow, plan.placement
        self.stages = len(p.regions)
        act, chunk = plan.workspace
        self._kv_capacity = kv_capacity_tokens(mow, p, act, plan.workspace_context, chunk)
        self.kv_bytes_per_token = kv_bytes_per_token_per_wafer(mow, p)
        pes = p.pes
        totals: dict[str, float] = {}
        for region in p.regions:
            for key, value in region_bytes(mow, p, region, 0, 0, act, plan.workspace_context, chunk).items():
                totals[key] = totals.get(key, 0.0) + value
        self.memory = {
            "sram_bytes": mow.sram_per_pe * pes,
            "weights_bytes": totals["weights"] + totals["weight_padding"],
            "activation_bytes": totals["activations"],
            "code_bytes": float(CODE_RESERVE_BYTES * pes),
        }
        # (tokens per pass, key buckets, chunk spread?) -> (path_s, busiest_s): iterations repeat a few shapes.
        self._passes: dict[tuple[int, int, bool], tuple[float, float]] = {}

    # --- ReplicaModel ---------------------------------------------------------------------------------

    @property
    def kv_capacity_tokens(self) -> int:
        return self._kv_capacity

    @property
    def max_context_tokens(self) -> int:
        return self.plan.mow.model.max_context

    @property
    def sliding_window(self) -> int | None:
        return self.plan.mow.model.sliding_window

    @property
    def accelerators(self) -> int:
        return self.plan.placement.wafers

    @property
    def power_w(self) -> float:
        return self.plan.mow.system.power.system_w_per_accelerator * self.accelerators

    def iteration_time_s(self, work: StepWork) -> np.ndarray:
        arrays = [np.asarray(getattr(work, f.name), dtype=float) for f in fields(work)]
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        flat = {f.name: np.broadcast_to(a, shape).ravel() for f, a in zip(fields(work), arrays, strict=True)}
        tokens = np.maximum(np.ceil(flat["tokens"]), 1.0)
        sequences = np.clip(flat["logits"], 1.0, tokens)
        # Attention costs depend on the keys only through ceil(keys / C) per PE: price per bucket of C keys.
        keys = np.ceil((flat["pairs_prefill"] + flat["pairs_decode"]) / tokens)
        buckets = np.maximum(np.ceil(keys / self.plan.placement.cols), 1.0)
        prefill = tokens > sequences  # some sequence brings several tokens (a prompt chunk)
        # Pass sizes the engine weighs (rows: candidates; columns: iterations): the estimate's decode split for
        # decode-only iterations; with prompt chunks, every power-of-two chunk up to the workspace, as the
        # estimate's chunk search (powers only: a handful of distinct passes to price, whatever the lengths).
        cap = np.minimum(float(self.plan.pass_tokens), tokens)
        even = np.minimum(np.ceil(tokens / np.minimum(sequences, self.stages)), cap)
        powers = [np.minimum(float(2**k), cap) for k in range(self.plan.pass_tokens.bit_length())]
        per_pass = np.where(prefill, np.stack(powers), even)
        passes = np.ceil(tokens / per_pass)
        chain = np.minimum(passes, np.ceil(np.ceil(tokens / sequences) / per_pass))
        # A pass carrying several tokens of one sequence spreads their KV entries along the region's row (the
        # estimate's prefill chunk); one token per sequence is the decode step's one-hop shift.
        spread = (per_pass > 1) & prefill
        table = np.stack(
            [per_pass.ravel(), np.broadcast_to(buckets, per_pass.shape).ravel(), spread.ravel()], axis=1
        )
        unique, inverse = np.unique(table, axis=0, return_inverse=True)
        priced = np.array([self._pass(int(t), int(b), bool(f)) for t, b, f in unique]).reshape(-1, 2)
        path = priced[inverse.ravel(), 0].reshape(per_pass.shape)
        busiest = priced[inverse.ravel(), 1].reshape(per_pass.shape)
        seconds = np.maximum(path + (chain - 1.0) * busiest, passes * busiest).min(axis=0)
        return np.where(flat["tokens"] > 0, seconds, 0.0).reshape(shape)

    def _pass(self, tokens: int, buckets: int, spread: bool) -> tuple[float, float]:
        key = (tokens, buckets, spread)
        found = self._passes.get(key)
        if found is None:
            p = self.plan.placement
            gemm = spread and self.plan.gemm_prefill
            step = step_time(self.plan.mow, p, tokens, 1, buckets * p.cols, 2 if spread else 1, gemm=gemm)
            found = self._passes[key] = (step.path_s, step.busiest_s)
        return found


def _plan(phases: Phases, mow: ModelOnWafer, work: Workload, batch: int) -> WaferPlan:
    p = phases.placement
    # The estimate's prefill chunk on the decode placement (its own search, with the batch's KV resident).
    found = best_prefill(mow, p, work, batch)
    chunk = found[1] if found is not None else 1
    decode_tokens = decode_split(p, batch)[1]
    # The chunk ran as GEMMs if their 2-D workspace fits beside the decode pass's (`best_prefill`).
    fits = sram_use(mow, p, batch, work.length, decode_tokens, work.decode_context, chunk).peak_per_pe
    gemm = fits <= mow.sram_per_pe
    return WaferPlan(
        mow, p, max(decode_tokens, chunk), work.decode_context, chunk, batch, decode_tokens, gemm
    )


def wafer_replica(
    model: ModelSpec,
    system: SystemSpec,
    count: int,
    prompt_tokens: int,
    output_tokens: int,
    precision: Precision | None = None,
    max_batch: int = DEFAULT_MAX_BATCH,
    batch: int | None = None,
    grid: tuple[int, int] | None = None,
    max_tpot_s: float | None = None,
) -> WaferReplica:
    """The engine the estimate would deploy for these mean lengths (`batch=None`: its maximum-throughput
    placement, within `max_tpot_s` when given, as the estimate's batch choice; `batch`/`grid` as
    `wafersim wafer estimate --batch/--grid`). Raises when nothing fits."""
    if system.kind != "wafer":
        raise WafersimError(f"{system.id} is not a wafer-scale system")
    request = EstimateRequest(
        model,
        system,
        count,
        prompt_tokens,
        output_tokens,
        precision=precision,
        batch=batch,
        max_batch=max_batch,
        max_tpot_s=max_tpot_s,
    )
    options = WaferOptions(decode_grid=grid, prefill_grid=grid, per_user_views=False)
    answer = estimate_wafer(request, options)
    if not answer.fits:
        raise WafersimError(
            f"{model.id} on {count} × {system.id} cannot hold one request of the workload's mean length "
            f"({prompt_tokens} + {output_tokens} tokens): {system.id} is a wafer-scale system whose weights and KV "
            f"cache live in SRAM, and {answer.reason}"
        )
    mow = model_on_wafer(request)
    work = workload(request, options)
    phases = search(mow, work).best  # cached: the search `estimate_wafer` just ran
    assert phases is not None
    replica = WaferReplica(_plan(phases, mow, work, phases.batch))
    if replica.kv_capacity_tokens < 1:
        gb = 1e9
        detail = ", ".join(f"{k.removesuffix('_bytes')} {v / gb:.1f} GB" for k, v in replica.memory.items())
        raise WafersimError(
            f"{model.id} on {replica.accelerators} × {system.id} leaves no SRAM for the KV cache ({detail}): "
            "it cannot hold one request"
        )
    return replica
