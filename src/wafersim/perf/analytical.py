"""Analytical estimates for GPUs, TPUs and LPUs: choose a layout, size the batch, price the iterations.

The steady state of continuous batching, the TTFT/TPOT limits and the prefill chunk are in `limits.py`. Decode
attention reads each sequence's cache at its mean length, input + output / 2, and the KV cache is paged (vLLM's
PagedAttention, Kwon et al. SOSP 2023): in steady state the batch holds its sequences at their mean length, so
memory is sized at batch × (input + output / 2) — and one sequence must fit at its full length.

Layout choice: every valid layout is priced; a layout with pipeline stages is chosen only when it beats the best
layout without them by more than PIPELINE_MARGIN (deployments run tensor parallelism inside a node unless a
pipeline really wins), and the answer says why (`layout_reason`).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from wafersim.bounds import MAX_ACCELERATORS
from wafersim.catalog import Precision, SystemSpec
from wafersim.errors import WafersimError
from wafersim.perf.cost import IterationCost
from wafersim.perf.layout import Layout, candidate_layouts, check_layout, layout_problem
from wafersim.perf.limits import (
    BatchChoice,
    Workload,
    choose_batch,
    default_chunk,
    prefill_service_s,
    server_tpot_s,
    server_ttft_s,
    slot_utilisation,
    steady_time_s,
    tpot_s,
)
from wafersim.perf.memory import max_batch, memory_use, stage_weight_bytes
from wafersim.perf.moe import device_imbalance, tokens_per_active_expert
from wafersim.perf.sram_chips import usable_bytes
from wafersim.perf.types import Estimate, EstimateRequest
from wafersim.perf.work import decode_work, prefill_work

# A pipeline layout must deliver more than this much over the best one without pipeline stages to be chosen: within
# it the two are a tie that the model cannot resolve, and real deployments run tensor parallelism.
PIPELINE_MARGIN = 0.05


def _float(value) -> float:
    return float(np.asarray(value))


def _power(system: SystemSpec, count: int) -> float:
    return system.power.system_w_per_accelerator * count


def _memory_failure(
    base: dict, memory: dict, use, batch: int, context: int, mean_context: int, layout: Layout
) -> Estimate:
    gib = 2**30
    reason = (
        f"batch {max(batch, 1)} at {mean_context if batch else context} tokens needs "
        f"{use.total_bytes / gib:.1f} GiB per accelerator (weights {use.weights_bytes / gib:.1f}, KV "
        f"{use.kv_cache_bytes / gib:.1f}, activations {use.activation_bytes / gib:.1f}) but "
        f"{use.usable_bytes / gib:.1f} GiB is usable with tp={layout.tp} pp={layout.pp}"
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


def _moe_detail(cost: IterationCost, request: EstimateRequest, batch: int) -> dict:
    """Tokens per expert and the busiest device's load in one steady-state decode step (the MoE mechanism)."""
    moe = request.model.moe
    if moe is None:
        return {}
    tokens = batch * (1 + request.input_len / request.output_len)  # decodes + the step's prompt share
    return {
        "moe_tokens_per_active_expert": float(tokens_per_active_expert(moe.num_experts, moe.top_k, tokens)),
        "moe_device_imbalance": float(
            device_imbalance(moe.num_experts, moe.top_k, cost.layout.ep, tokens, cost.expert_load_cv)
        ),
        "moe_expert_load_cv": cost.expert_load_cv,
    }


def _choose(cost: IterationCost, request: EstimateRequest, load: Workload, mean_context: int) -> BatchChoice:
    if request.batch is not None:
        return BatchChoice(request.batch, default_chunk(request.batch), "batch", True)
    memory_max = max_batch(cost, mean_context, request.max_batch)
    if memory_max < 1:
        return BatchChoice(0, default_chunk(1), "memory", False)
    return choose_batch(cost, load, memory_max, request.max_batch, request.max_tpot_s, request.max_ttft_s)


def evaluate_layout(
    request: EstimateRequest, layout: Layout, precision: Precision, detail: bool = True
) -> Estimate:
    """Estimate for one fixed layout (raises nothing: a layout that cannot hold the batch answers fits=False).

    Without `detail`, only what ranks layouts is computed (throughput, TPOT, memory): the search prices every
    candidate that way and the winner once more in full.
    """
    m, system = request.model, request.system
    cost = IterationCost(m, system, layout, precision, request.kv_precision, request.expert_load_cv)
    load = Workload(
        request.input_len, request.output_len, m.sliding_window, request.output_len_cv, m.max_context
    )
    context = request.input_len + request.output_len
    mean_context = int(load.mean_context)  # whole tokens (cv = 0: input + output // 2, as before)
    base = dict(
        model=m.id,
        system=system.id,
        count=request.count,
        precision=precision,
        kv_precision=cost.kv_precision,
        input_len=request.input_len,
        output_len=request.output_len,
        output_len_cv=request.output_len_cv,
        tp=layout.tp,
        pp=layout.pp,
        ep=layout.ep,
        dp=layout.dp,
        attention_dp=layout.attention_dp,
    )
    choice = _choose(cost, request, load, mean_context)
    batch = choice.batch
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
        return _memory_failure(base, memory, use, batch, context, mean_context, layout)

    full = steady_time_s(cost, load, batch, batch)
    tpot = tpot_s(cost, load, batch)
    throughput = layout.dp * batch / full
    limits = {"binding_limit": choice.binding_limit, "limits_met": choice.limits_met}
    if request.max_ttft_s is not None and request.batch is None:
        # Poisson arrivals: the slots run below saturation so that the p99 wait for one fits the TTFT limit.
        prefill_ttft = server_ttft_s(cost, load, batch, choice.chunk)
        utilisation = slot_utilisation(
            layout.dp * batch, request.output_len * tpot, request.max_ttft_s - prefill_ttft
        )
        limits["slot_utilisation"] = utilisation
        if utilisation > 0:
            throughput *= utilisation
        else:  # the prefill alone exceeds the TTFT limit: no load meets it (the batch-1 figures say by how much)
            limits.update(binding_limit="max_ttft_s", limits_met=False)
    if not detail:
        return Estimate(
            **base,
            fits=True,
            batch=batch,
            tpot_s=tpot,
            output_tokens_per_s=throughput,
            memory_bytes_per_accelerator=use.total_bytes,
            memory=memory,
            extra=limits,
        )
    server = {}
    if request.max_ttft_s is not None and request.batch is None:
        ttft = server_ttft_s(cost, load, batch, choice.chunk)
        server = {"tpot_p99_s": server_tpot_s(cost, load, batch)}
    else:
        ttft = prefill_service_s(cost, load, batch, choice.chunk)
    decode_only = decode_work(batch, load.mean_context, m.sliding_window)
    prefill_one = prefill_work(request.input_len, 0, m.sliding_window)
    breakdown = {
        "decode": {name: _float(s) for name, s in cost.breakdown(decode_only).items()},
        "prefill": {name: _float(s) for name, s in cost.breakdown(prefill_one).items()},
    }
    prompt_tokens = batch * request.input_len / request.output_len
    extra = {
        **limits,
        "prefill_chunk_tokens": choice.chunk,
        "prefill_share": prompt_tokens / (prompt_tokens + batch),
        **server,
        **_moe_detail(cost, request, batch),
    }
    power = _power(system, layout.accelerators)
    return Estimate(
        **base,
        fits=True,
        batch=batch,
        ttft_s=ttft,
        tpot_s=tpot,
        prefill_s=_float(cost.time_s(prefill_one)),
        output_tokens_per_s_per_user=1.0 / tpot,
        output_tokens_per_s=throughput,
        memory_bytes_per_accelerator=use.total_bytes,
        memory=memory,
        power_w=power,
        joules_per_token=power / throughput,
        breakdown=breakdown,
        extra=extra,
    )


def _better(a: Estimate, b: Estimate, throughput_mode: bool) -> bool:
    """Layouts meeting the latency limits first; then maximum-throughput mode ranks by deployment tokens/s and
    a fixed batch by per-user speed."""
    met_a, met_b = a.extra.get("limits_met", True), b.extra.get("limits_met", True)
    if met_a != met_b:
        return met_a
    if throughput_mode:
        return (a.output_tokens_per_s, -a.tpot_s) > (b.output_tokens_per_s, -b.tpot_s)
    return (-a.tpot_s, a.output_tokens_per_s) > (-b.tpot_s, b.output_tokens_per_s)


def _describe(e: Estimate) -> str:
    parts = [f"tp{e.tp}"] + ([f"pp{e.pp}"] if e.pp > 1 else []) + ([f"ep{e.ep}"] if e.ep > 1 else [])
    return (
        "×".join(parts)
        + (" attention-DP" if e.attention_dp else "")
        + (f", {e.dp} replicas" if e.dp > 1 else "")
    )


def _merit(e: Estimate, throughput_mode: bool) -> float:
    """Larger is better: deployment tokens/s, or per-user tokens/s for a fixed batch."""
    return e.output_tokens_per_s if throughput_mode else 1.0 / e.tpot_s


def _pick(fitting: list[Estimate], throughput_mode: bool) -> tuple[Estimate, str]:
    """The best layout, unless it has pipeline stages and the best without them is within PIPELINE_MARGIN."""
    best = fitting[0]
    for result in fitting[1:]:
        if _better(result, best, throughput_mode):
            best = result
    what = "tokens/s" if throughput_mode else "per-user tokens/s"
    flat = [
        r
        for r in fitting
        if r.pp == 1 and r.extra.get("limits_met", True) == best.extra.get("limits_met", True)
    ]
    if best.pp == 1 or not flat:
        others = [r for r in fitting if r is not best]
        if best.pp > 1:
            return best, f"{_describe(best)}: no layout without pipeline stages holds the model"
        if not others:
            return best, f"{_describe(best)}: the only layout that fits"
        runner = max(others, key=lambda r: (r.extra.get("limits_met", True), _merit(r, throughput_mode)))
        gap = 1 - _merit(runner, throughput_mode) / _merit(best, throughput_mode)
        return (
            best,
            f"{_describe(best)}: best of {len(fitting)} layouts by {what}; next {_describe(runner)} {gap:.0%} lower",
        )
    flat_best = max(flat, key=lambda r: _merit(r, throughput_mode))
    gain = _merit(best, throughput_mode) / _merit(flat_best, throughput_mode) - 1
    if gain <= PIPELINE_MARGIN:
        return flat_best, (
            f"{_describe(flat_best)}: within {PIPELINE_MARGIN:.0%} of the best pipeline layout "
            f"({_describe(best)}, {gain:+.1%} {what}), so the layout deployments run is kept"
        )
    return (
        best,
        f"{_describe(best)}: {gain:.0%} more {what} than the best layout without pipeline stages ({_describe(flat_best)})",
    )


def accelerators_needed(request: EstimateRequest, precision: Precision) -> int | None:
    """Fewest accelerators on which some layout holds one sequence of the requested length."""
    m, system = request.model, request.system
    context = request.input_len + request.output_len
    one = IterationCost(m, system, Layout(), precision, request.kv_precision)
    usable = usable_bytes(system)
    lower = max(1, math.ceil(sum(stage_weight_bytes(one)) / usable))
    if lower > MAX_ACCELERATORS:  # more than any fleet: no deployment to search for
        return None
    for count in range(lower, min(8 * lower + 64, MAX_ACCELERATORS + 1)):
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
    fitting: list[Estimate] = []
    first_failure: Estimate | None = None
    for layout in layouts:
        result = evaluate_layout(request, layout, precision, detail=len(layouts) == 1)
        if not result.fits:
            if first_failure is None or (result.memory_bytes_per_accelerator or 0) < (
                first_failure.memory_bytes_per_accelerator or 0
            ):
                first_failure = result
            continue
        fitting.append(result)
    if fitting:
        if len(layouts) == 1:
            best, why = fitting[0], "layout given"
        else:
            best, why = _pick(fitting, throughput_mode)
        if not best.breakdown:
            best = evaluate_layout(
                request, Layout(best.tp, best.pp, best.ep, best.dp, best.attention_dp), precision
            )
        return replace(best, extra={**best.extra, "layout_reason": why, "layouts_priced": len(layouts)})
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
