"""Analytical estimates for GPUs, TPUs and LPUs: choose a layout, size the batch, price the iterations.

Steady state of continuous batching with `batch` sequences in flight: every iteration each sequence makes one
token, and prompts of arriving requests are prefilled alongside (chunked prefill), batch × input / output
prompt tokens per iteration on average. So:
- deployment throughput = dp × batch / time(batch decodes + batch·input/output prompt tokens);
- TPOT = time of the same iteration with the *other* sequences' prompt share, (batch − 1)·input/output;
- TTFT = the iterations that prefill one prompt in token-budget chunks while batch − 1 others decode.
Decode attention reads each sequence's cache at its mean length, input + output / 2, and the KV cache is paged
(vLLM's PagedAttention, Kwon et al. SOSP 2023): in steady state the batch holds its sequences at their mean
length, so memory is sized at batch × (input + output / 2) — and one sequence must fit at its full length.
"""

from __future__ import annotations

import math

import numpy as np

from wafersim.catalog import Precision, SystemSpec
from wafersim.errors import WafersimError
from wafersim.perf.cost import IterationCost
from wafersim.perf.layout import Layout, candidate_layouts, check_layout, layout_problem
from wafersim.perf.memory import TOKEN_BUDGET, max_batch, memory_use, stage_weight_bytes
from wafersim.perf.types import Estimate, EstimateRequest
from wafersim.perf.work import StepWork, decode_work, prefill_work


def _float(value) -> float:
    return float(np.asarray(value))


def _iteration_work(request: EstimateRequest, batch: int, prompt_sequences: float) -> StepWork:
    m = request.model
    mean_context = request.input_len + request.output_len / 2
    decode = decode_work(batch, mean_context, m.sliding_window)
    if prompt_sequences <= 0:
        return decode
    prompt = prefill_work(request.input_len, 0, m.sliding_window).scaled(
        prompt_sequences / request.output_len
    )
    return decode + prompt


def _ttft_s(cost: IterationCost, request: EstimateRequest, batch: int) -> float:
    m = request.model
    others = batch - 1
    chunk = max(TOKEN_BUDGET - others, 512)  # the decodes of the others share the token budget
    starts = np.arange(0, request.input_len, chunk, dtype=float)
    sizes = np.minimum(chunk, request.input_len - starts)
    work = prefill_work(sizes, starts, m.sliding_window)
    if others:
        work = work + decode_work(others, request.input_len + request.output_len / 2, m.sliding_window)
    return float(np.sum(cost.time_s(work)))


def _tpot_s(cost: IterationCost, request: EstimateRequest, batch: int) -> float:
    return _float(cost.time_s(_iteration_work(request, batch, batch - 1)))


def _largest_batch_within_tpot(cost: IterationCost, request: EstimateRequest, limit: int) -> int:
    """TPOT grows with batch, so bisect for the largest batch within the limit (at least 1: one user is
    served however slow its tokens come, and its TPOT then tells that the limit cannot be met)."""
    low, high = 1, limit
    while low < high:
        mid = (low + high + 1) // 2
        if _tpot_s(cost, request, mid) <= request.max_tpot_s:
            low = mid
        else:
            high = mid - 1
    return low


def _power(system: SystemSpec, count: int) -> float:
    return system.power.system_w_per_accelerator * count


def evaluate_layout(
    request: EstimateRequest, layout: Layout, precision: Precision, detail: bool = True
) -> Estimate:
    """Estimate for one fixed layout (raises nothing: a layout that cannot hold the batch answers fits=False).

    Without `detail`, only what ranks layouts is computed (throughput, TPOT, memory): the search prices every
    candidate that way and the winner once more in full.
    """
    m, system = request.model, request.system
    cost = IterationCost(m, system, layout, precision, request.kv_precision)
    context = request.input_len + request.output_len
    mean_context = request.input_len + request.output_len // 2
    base = dict(
        model=m.id,
        system=system.id,
        count=request.count,
        precision=precision,
        kv_precision=cost.kv_precision,
        input_len=request.input_len,
        output_len=request.output_len,
        tp=layout.tp,
        pp=layout.pp,
        ep=layout.ep,
        dp=layout.dp,
        attention_dp=layout.attention_dp,
    )
    batch = request.batch if request.batch is not None else max_batch(cost, mean_context, request.max_batch)
    if request.batch is None and request.max_tpot_s is not None and batch > 1:
        batch = _largest_batch_within_tpot(cost, request, batch)
    use = memory_use(cost, max(batch, 1), mean_context)
    if batch >= 1 and use.fits and not memory_use(cost, 1, context).fits:
        use, batch = memory_use(cost, 1, context), 0  # not even one sequence reaches its full length
    memory = {
        "weights_bytes": use.weights_bytes,
        "kv_cache_bytes": use.kv_cache_bytes,
        "activation_bytes": use.activation_bytes,
        "usable_bytes": use.usable_bytes,
        "capacity_bytes": system.memory.capacity_bytes,
    }
    if batch < 1 or not use.fits:
        gib = 2**30
        reason = (
            f"batch {max(batch, 1)} at {mean_context if batch else context} tokens needs {use.total_bytes / gib:.1f} GiB per accelerator "
            f"(weights {use.weights_bytes / gib:.1f}, KV {use.kv_cache_bytes / gib:.1f}, activations "
            f"{use.activation_bytes / gib:.1f}) but {use.usable_bytes / gib:.1f} GiB is usable "
            f"with tp={layout.tp} pp={layout.pp}"
            + (" (attention data-parallel)" if layout.attention_dp else "")
        )
        return Estimate(
            **base,
            fits=False,
            reason=reason,
            batch=max(batch, 1),
            memory=memory,
            memory_bytes_per_accelerator=use.total_bytes,
        )

    full = _float(cost.time_s(_iteration_work(request, batch, batch)))
    tpot = _tpot_s(cost, request, batch)
    throughput = layout.dp * batch / full
    power = _power(system, layout.accelerators)
    if not detail:
        return Estimate(
            **base,
            fits=True,
            batch=batch,
            tpot_s=tpot,
            output_tokens_per_s=throughput,
            memory_bytes_per_accelerator=use.total_bytes,
            memory=memory,
        )
    decode_only = decode_work(batch, request.input_len + request.output_len / 2, m.sliding_window)
    prefill_one = prefill_work(request.input_len, 0, m.sliding_window)
    breakdown = {
        "decode": {name: _float(s) for name, s in cost.breakdown(decode_only).items()},
        "prefill": {name: _float(s) for name, s in cost.breakdown(prefill_one).items()},
    }
    return Estimate(
        **base,
        fits=True,
        batch=batch,
        ttft_s=_ttft_s(cost, request, batch),
        tpot_s=tpot,
        prefill_s=_float(cost.time_s(prefill_one)),
        output_tokens_per_s_per_user=1.0 / tpot,
        output_tokens_per_s=throughput,
        memory_bytes_per_accelerator=use.total_bytes,
        memory=memory,
        power_w=power,
        joules_per_token=power / throughput,
        breakdown=breakdown,
    )


def _better(a: Estimate, b: Estimate, throughput_mode: bool) -> bool:
    """Maximum-throughput mode ranks by deployment tokens/s; a fixed batch ranks by per-user speed."""
    if throughput_mode:
        return (a.output_tokens_per_s, -a.tpot_s) > (b.output_tokens_per_s, -b.tpot_s)
    return (-a.tpot_s, a.output_tokens_per_s) > (-b.tpot_s, b.output_tokens_per_s)


def accelerators_needed(request: EstimateRequest, precision: Precision) -> int | None:
    """Fewest accelerators on which some layout holds one sequence of the requested length."""
    m, system = request.model, request.system
    context = request.input_len + request.output_len
    one = IterationCost(m, system, Layout(), precision, request.kv_precision)
    usable = system.memory.capacity_bytes * system.usable_memory_fraction
    lower = max(1, math.ceil(sum(stage_weight_bytes(one)) / usable))
    for count in range(lower, 8 * lower + 64):
        for layout in candidate_layouts(m, count, pp=None):
            if layout.dp != 1:
                continue
            cost = IterationCost(m, system, layout, precision, request.kv_precision)
            if memory_use(cost, 1, context).fits:
                return count
    return None


def estimate_analytical(request: EstimateRequest) -> Estimate:
    precision = request.resolved_precision
    fixed = (request.tp, request.pp, request.ep)
    if all(value is not None for value in fixed) and request.attention_dp is not None:
        layouts = [check_layout(request.model, request.count, *fixed, request.attention_dp)]
    else:
        for name, value in zip(("tp", "pp", "ep"), fixed, strict=True):
            if value is not None and value > request.count:
                raise WafersimError(f"{name} {value} exceeds count {request.count}", field=name)
        layouts = candidate_layouts(
            request.model, request.count, request.tp, request.pp, request.ep, request.attention_dp
        )
        if not layouts:
            given = ", ".join(f"{n}={v}" for n, v in zip(("tp", "pp", "ep"), fixed, strict=True) if v)
            problem = layout_problem(
                request.model, request.tp or 1, request.pp or 1, request.ep or 1, bool(request.attention_dp)
            )
            raise WafersimError(
                f"no parallel layout of {request.model.id} over {request.count} accelerators"
                + (f" with {given}" if given else "")
                + (f": {problem}" if problem else "")
            )
    throughput_mode = request.batch is None
    best: Estimate | None = None
    first_failure: Estimate | None = None
    for layout in layouts:
        result = evaluate_layout(request, layout, precision, detail=len(layouts) == 1)
        if not result.fits:
            if first_failure is None or (result.memory_bytes_per_accelerator or 0) < (
                first_failure.memory_bytes_per_accelerator or 0
            ):
                first_failure = result
            continue
        if best is None or _better(result, best, throughput_mode):
            best = result
    if best is not None:
        if not best.breakdown:
            best = evaluate_layout(
                request, Layout(best.tp, best.pp, best.ep, best.dp, best.attention_dp), precision
            )
        return best
    assert first_failure is not None
    needed = accelerators_needed(request, precision)
    suffix = f"; needs at least {needed} × {request.system.id}" if needed else ""
    return Estimate(
        **{
            **first_failure.__dict__,
            "reason": f"{first_failure.reason}{suffix}",
            "accelerators_needed": needed,
        }
    )
