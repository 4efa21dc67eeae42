"""`estimate` for wafer-scale systems (cs-2, cs-3): the placement search's answer in the common Estimate shape.

Precision: the wafer computes in fp16 (its SIMD type, `@fmach`). 16-bit weights (bf16 models) are stored as fp16
(2 bytes); fp8/int8 (1 byte) and fp4 (4.5 bits, with block scales) are stored at that width in SRAM and widened to
fp16 by one vector pass per weight element a step touches (the `sram` part of the breakdown). The KV cache and
activations are fp16. GPU parallelism notions (tp, pp, ep, attention-dp) do not apply: the placement search
decides how layers are spread; asking for them is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from wafersim.catalog import BYTES_PER_ELEMENT, ModelSpec
from wafersim.catalog.fabric_arch import load_arch
from wafersim.errors import WafersimError
from wafersim.perf.types import Estimate, EstimateRequest
from wafersim.perf.wafer.pipeline import CODE_RESERVE_BYTES, ModelOnWafer, sram_budget, sram_use
from wafersim.perf.wafer.search import Phases, Workload, decode_split, search, workspace
from wafersim.perf.wafer.service import per_user
from wafersim.perf.wafer.speculative import Speculative, SpeculativeResult, speculative_step
from wafersim.perf.wafer.streaming import streaming_estimate


@dataclass(frozen=True)
class WaferOptions:
    """Wafer-only knobs (the `wafersim wafer estimate` flags)."""

    decode_grid: tuple[int, int] | None = None  # region shape (rows, cols) of the decode placement
    prefill_grid: tuple[int, int] | None = None  # region shape of the prefill placement
    speculative: Speculative | None = None
    weight_streaming: bool = False
    # Also answer at batch 1 and at the serving batch (two more searches; the CLI's estimates ask for them).
    per_user_views: bool = False


def model_on_wafer(request: EstimateRequest, model: ModelSpec | None = None) -> ModelOnWafer:
    system = request.system
    if system.fabric_arch is None:
        raise WafersimError(f"system '{system.id}': kind 'wafer' needs a fabric_arch")
    precision = request.resolved_precision
    return ModelOnWafer(
        model=model or request.model,
        arch=load_arch(system.fabric_arch),
        system=system,
        weight_bytes=BYTES_PER_ELEMENT[precision],
    )


def _check(request: EstimateRequest) -> None:
    for name in ("tp", "pp", "ep"):
        if getattr(request, name) not in (None, 0, 1):
            raise WafersimError(
                f"{name} {getattr(request, name)}: {request.system.id} is a wafer-scale system; the placement "
                "search decides how layers spread over regions and wafers (leave tp, pp and ep unset)",
                field=name,
            )
    if request.attention_dp:
        raise WafersimError(
            f"attention_dp does not apply to wafer-scale system {request.system.id}", field="attention_dp"
        )
    if request.kv_precision not in (None, "bf16"):
        raise WafersimError(
            f"kv_precision {request.kv_precision}: the wafer model keeps the KV cache in fp16 (16-bit)",
            field="kv_precision",
        )


def workload(request: EstimateRequest, options: WaferOptions) -> Workload:
    return Workload(
        input_len=request.input_len,
        output_len=request.output_len,
        count=request.count,
        batch=request.batch,
        max_batch=request.max_batch,
        max_tpot_s=request.max_tpot_s,
        grid=options.decode_grid,
        prefill_grid=options.prefill_grid,
        output_len_cv=request.output_len_cv,
    )


def _base(request: EstimateRequest) -> dict:
    return dict(
        model=request.model.id,
        system=request.system.id,
        count=request.count,
        precision=request.resolved_precision,
        kv_precision="bf16",
        input_len=request.input_len,
        output_len=request.output_len,
        output_len_cv=request.output_len_cv,
    )


@dataclass(frozen=True)
class Solved:
    """The placement search's answer for a request: where the model lives and how it runs."""

    mow: ModelOnWafer
    work: Workload
    best: Phases
    fewest: int | None
    spec: SpeculativeResult | None  # the speculative rounds, when speculative decoding is used


def solve(request: EstimateRequest, options: WaferOptions) -> Solved | Estimate:
    """Search the placement (with room for the speculative draft when one is given); an Estimate that does not
    fit when nothing does."""
    mow = model_on_wafer(request)
    work = workload(request, options)
    spec = None
    # A draft model takes SRAM the target's placement must leave free: search, try the draft beside the
    # result, and if it does not fit search again with the draft's per-PE need reserved (a few rounds).
    for _ in range(4):
        result = search(mow, work)
        best = result.best
        if best is None:
            return _no_fit(request, result.fewest_wafers, work, mow.reserved_bytes_per_pe)
        if result.prefill_error:
            return Estimate(**_base(request), fits=False, reason=result.prefill_error)
        if options.speculative is None:
            break
        spec = speculative_step(request, mow, work, best, options.speculative)
        if spec.fits:
            break
        mow = replace(mow, reserved_bytes_per_pe=mow.reserved_bytes_per_pe + spec.needed_bytes_per_pe)
    if spec is not None and not spec.fits:
        return Estimate(
            **_base(request), fits=False, reason=spec.reason, accelerators_needed=result.fewest_wafers
        )
    return Solved(mow, work, best, result.fewest_wafers, spec)


def estimate_wafer(request: EstimateRequest, options: WaferOptions | None = None) -> Estimate:
    options = options or WaferOptions()
    _check(request)
    if options.weight_streaming:
        return streaming_estimate(request, model_on_wafer(request), options.decode_grid)
    solved = solve(request, options)
    if isinstance(solved, Estimate):
        return solved
    answer = _answer(request, solved)
    if options.per_user_views:
        answer.extra.update(per_user_views(request, options, solved))
    return answer


def per_user_views(request: EstimateRequest, options: WaferOptions, solved: Solved) -> dict:
    """Per-user speed and TTFT at batch 1 and at the batch the deployment serves within its TPOT bound
    (`max_tpot_s`; without one, the maximum-throughput batch), the wafer's own and the client's."""
    service = request.system.service
    out = request.output_len
    views: dict = {}
    # The serving batch is chosen so that what the client sees (wafer step + host round trip) stays within
    # the bound: the search is given the bound less the round trip.
    bound = request.max_tpot_s
    if bound is not None and service is not None:
        bound = max(bound - service.host_round_trip_s, bound * 1e-3)
    for name, batch, max_tpot in (("batch_1", 1, None), ("serving", None, bound)):
        if request.batch == batch and request.max_tpot_s == max_tpot:
            other = solved
        else:
            other = solve(replace(request, batch=batch, max_tpot_s=max_tpot), options)
        if isinstance(other, Estimate):
            views[name] = {"fits": False, "reason": other.reason}
            continue
        view = per_user(service, other.best, out, other.spec, request.max_tpot_s if batch is None else None)
        views[name] = {"fits": True, **view.to_dict()}
    return {"per_user": views}


def _no_fit(request: EstimateRequest, fewest: int | None, work: Workload, reserved: float = 0.0) -> Estimate:
    if fewest is None:
        from wafersim.perf.wafer import search as placement

        mow = model_on_wafer(request)
        attn_gb = max(s.attn_weight_elems for s in mow.shapes) * mow.weight_bytes / 1e9
        pes = mow.fabric_hw[0] * mow.fabric_hw[1]
        usable_gb = (mow.sram_per_pe - CODE_RESERVE_BYTES) * pes / 1e9  # after the code reserve on every PE
        model_gb = mow.model_bytes_on_wafer / 1e9
        reason = (
            f"no region shape of {request.system.fabric_arch} places {request.model.id} at "
            f"{request.resolved_precision} with a {work.length}-token sequence within {placement.MAX_WAFERS} wafers: its "
            f"largest attention block (which cannot be split) is {attn_gb:.1f} GB and the model {model_gb:.0f} GB, "
            f"against {usable_gb:.1f} GB of SRAM per wafer left after the code reserve. A narrower precision "
            "may fit"
        )
    elif fewest > request.count:
        reason = (
            f"{request.model.id} at {request.resolved_precision} needs {fewest} {request.system.id} systems "
            f"(weights resident in SRAM with one {work.length}-token sequence"
            + (f", {reserved:,.0f} B per PE kept for the speculative draft" if reserved else "")
            + f"); count is {request.count}"
        )
    elif work.grid is not None:
        reason = f"grid {work.grid[0]}x{work.grid[1]}: no placement with that region shape fits the SRAM"
    else:
        reason = f"batch {work.batch} does not fit the SRAM left after the weights (KV cache and workspace)"
    return Estimate(**_base(request), fits=False, reason=reason, accelerators_needed=fewest)


def _answer(request: EstimateRequest, solved: Solved) -> Estimate:
    mow, work, best, fewest, spec = solved.mow, solved.work, solved.best, solved.fewest, solved.spec
    p = best.placement
    q = best.prefill_placement or p
    out = request.output_len
    wafers = max(p.wafers, q.wafers)
    replicas = max(1, request.count // wafers)
    micro, tokens = decode_split(p, best.batch)
    # The prefill chunk's workspace shares the decode placement only when prefill runs there.
    act_tokens, chunk = workspace(mow, work, best)
    sram = sram_use(mow, p, best.batch, work.length, act_tokens, work.decode_context, chunk)
    budget = sram_budget(mow, p, sram)
    tpot = best.tpot_s(out)
    throughput = best.throughput(out) * replicas
    decode = best.decode
    extra: dict = {}
    if spec is not None:
        tpot = spec.tpot_s + (best.batch - 1) / out * best.prefill_occupancy_s
        throughput = replicas * best.batch / (spec.tpot_s + best.batch / out * best.prefill_occupancy_s)
        extra["speculative"] = spec.summary()
    extra["speculative_used"] = spec is not None
    # `ttft_s`/`tpot_s` stay the wafer's own time; the client's adds the service path (service.py).
    service = request.system.service
    view = per_user(service, best, out, spec, request.max_tpot_s)
    extra["wafer_ttft_s"] = view.wafer_ttft_s
    extra["wafer_tpot_s"] = view.wafer_tpot_s
    if service is not None:
        extra["client_ttft_s"] = view.client_ttft_s
        extra["client_tpot_s"] = view.client_tpot_s
        extra["client_output_tokens_per_s_per_user"] = view.client_tokens_per_s_per_user
        extra["service"] = {
            "host_round_trip_s": service.host_round_trip_s,
            "request_latency_s": service.request_latency_s,
            "load": service.load,
            "queue_s": view.queue_s,
        }
    power = request.system.power.system_w_per_accelerator * request.count
    extra.update(
        {
            "mode": "weights-resident",
            "wafers_used": wafers * replicas,
            "wafers_per_replica": wafers,
            "sram_bytes_used": sram.used_bytes * replicas,
            "sram_bytes_per_pe_peak": sram.peak_per_pe,
            "sram_per_pe": sram.per_pe_bytes,
            "model_bytes_on_wafer": mow.model_bytes_on_wafer,
            "placement_efficiency": budget["placement_efficiency"],
            "sram_budget": budget,
            "prefill_tokens_per_s": work.input_len / max(best.ttft_s - best.relayout_s, 1e-30),
            "placement": {
                "region_rows": p.rows,
                "region_cols": p.cols,
                "regions_per_wafer": p.regions_per_wafer,
                "layers_per_region": p.layers_per_region,
                "layer_regions": len(p.regions) - p.head_regions,
                "head_regions": p.head_regions,
                "decode_micro_batches": micro,
                "decode_tokens_per_micro_batch": tokens,
                "prefill_chunk_tokens": best.chunk,
                "prefill_chunks": best.chunks,
                "prefill_region_rows": q.rows,
                "prefill_region_cols": q.cols,
                "prefill_layers_per_region": q.layers_per_region,
                "relayout_s": best.relayout_s,
            },
            "decode_step_s": decode.step_s,
        }
    )
    return Estimate(
        **_base(request),
        fits=True,
        batch=best.batch,
        tp=0,
        pp=len(p.regions),
        ep=0,
        dp=replicas,
        ttft_s=best.ttft_s,
        tpot_s=tpot,
        prefill_s=best.ttft_s,
        output_tokens_per_s_per_user=1.0 / tpot,
        output_tokens_per_s=throughput,
        memory_bytes_per_accelerator=sram.used_bytes / wafers,
        memory={k: v * replicas for k, v in sram.total_bytes.items()},
        accelerators_needed=fewest,
        power_w=power,
        joules_per_token=power / throughput,
        breakdown={
            "decode": {
                "compute_s": decode.compute_s,
                "sram_s": decode.sram_s,
                "fabric_s": decode.fabric_s,
                "io_s": decode.io_s,
                "idle_s": decode.idle_s,
            },
            "prefill_chunk": {
                "compute_s": best.prefill.compute_s,
                "sram_s": best.prefill.sram_s,
                "fabric_s": best.prefill.fabric_s,
                "io_s": best.prefill.io_s,
                "relayout_s": best.relayout_s,
            },
        },
        extra=extra,
    )
