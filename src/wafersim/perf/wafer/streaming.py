"""Weight-streaming mode: weights stay outside the wafer (MemoryX-style) and stream in over the system I/O.

This is how Cerebras trains models larger than SRAM; for inference it shows why weights are kept resident. Every
decode step must bring every weight in once, over 1.2 Tb/s (150 GB/s): a step can never be shorter than
weight bytes / 150 GB/s, whatever the batch — 0.94 s for llama-3.1-70b in 16-bit, against well under a
millisecond with the weights resident. The wafer holds the KV cache, the activations and a double buffer of
the largest layer (one layer computing while the next arrives); all layers run one after another on one region
(the whole program rectangle, or `--grid`), streaming overlapped with computation.
"""

from __future__ import annotations

from wafersim.errors import WafersimError
from wafersim.perf.monotone import largest
from wafersim.perf.types import Estimate, EstimateRequest
from wafersim.perf.wafer import closed_form as cf
from wafersim.perf.wafer.closed_form import ceil_div
from wafersim.perf.wafer.layer import ACT_BYTES, activation_elems_per_pe, kv_elems_per_pe, layer_cost
from wafersim.perf.wafer.pipeline import CODE_RESERVE_BYTES, ModelOnWafer

MAX_CHUNK = 8192


def _sram_per_pe(
    mow: ModelOnWafer, rows: int, cols: int, sequences: int, length: int, tokens: int, ctx: int
) -> float:
    shapes = mow.shapes
    weights = 2 * max(s.tile_elems_per_pe(rows, cols) for s in set(shapes)) * mow.weight_bytes
    kv = sum(kv_elems_per_pe(s, rows, cols, sequences, length) for s in shapes) * mow.kv_bytes
    act = max(activation_elems_per_pe(s, rows, cols, tokens, ctx) for s in set(shapes)) * ACT_BYTES
    return weights + kv + act + CODE_RESERVE_BYTES


def _step(
    mow: ModelOnWafer, rows: int, cols: int, tokens: int, ctx: int, new: int
) -> tuple[float, float, float]:
    """(compute path s, weight streaming s, fabric part of the path s) for one pass over every layer."""
    hz = mow.arch.clock_hz
    costs = [layer_cost(mow.arch, s, rows, cols, tokens, ctx, new, mow.dequant) for s in mow.shapes]
    head = cf.meshgemv(mow.arch, rows, cols, mow.model.vocab_size, mow.model.hidden_size, tokens)
    cycles = sum(c.cycles for c in costs) + head.cycles
    fabric = sum(c.fabric_cycles for c in costs) + head.fabric_cycles
    stream = mow.model_bytes_on_wafer / mow.system.scale_out.bw_bytes_per_s
    return cycles / hz, stream, fabric / hz


def streaming_estimate(request: EstimateRequest, mow: ModelOnWafer, grid: tuple[int, int] | None) -> Estimate:
    height, width = mow.fabric_hw
    rows, cols = grid or (height, width)
    if rows > height or cols > width:
        raise WafersimError(
            f"grid {rows}x{cols} exceeds the {mow.arch.name} program rectangle {height}x{width}", field="grid"
        )
    length = request.input_len + request.output_len
    ctx = int(request.in_flight_context)
    base = dict(
        model=request.model.id,
        system=request.system.id,
        count=request.count,
        precision=request.resolved_precision,
        kv_precision="bf16",
        input_len=request.input_len,
        output_len=request.output_len,
        output_len_cv=request.output_len_cv,
    )

    def fits(b: int) -> bool:
        return _sram_per_pe(mow, rows, cols, b, length, b, ctx) <= mow.sram_per_pe

    if not fits(1):
        return Estimate(
            **base,
            fits=False,
            reason="weight streaming: one layer's double buffer and one sequence overflow SRAM",
        )
    if request.batch is not None:
        if not fits(request.batch):
            return Estimate(
                **base, fits=False, reason=f"weight streaming: batch {request.batch} overflows SRAM"
            )
        batch = request.batch
    else:
        batch = largest(1, request.max_batch, fits)
    io = mow.system.scale_out
    host = 2 * io.latency_s + batch * mow.model.hidden_size * ACT_BYTES / io.bw_bytes_per_s
    compute, stream, fabric = _step(mow, rows, cols, batch, ctx, 1)
    step = max(compute, stream) + host
    chunk = 1
    while (
        chunk * 2 <= min(request.input_len, MAX_CHUNK)
        and _sram_per_pe(mow, rows, cols, batch, length, chunk * 2, request.input_len) <= mow.sram_per_pe
    ):
        chunk *= 2
    p_compute, p_stream, _ = _step(mow, rows, cols, chunk, max(1, request.input_len // 2), chunk)
    ttft = ceil_div(request.input_len, chunk) * max(p_compute, p_stream) + host
    out = request.output_len
    tpot = step + (batch - 1) / out * (ttft - host)
    throughput = request.count * batch / (step + batch / out * (ttft - host))
    power = request.system.power.system_w_per_accelerator * request.count
    return Estimate(
        **base,
        fits=True,
        batch=batch,
        dp=request.count,
        ttft_s=ttft,
        tpot_s=tpot,
        prefill_s=ttft,
        output_tokens_per_s_per_user=1.0 / tpot,
        output_tokens_per_s=throughput,
        memory_bytes_per_accelerator=_sram_per_pe(mow, rows, cols, batch, length, max(batch, chunk), ctx)
        * rows
        * cols,
        power_w=power,
        joules_per_token=power / throughput,
        breakdown={
            "decode": {
                "compute_s": compute - fabric,
                "sram_s": 0.0,
                "fabric_s": fabric,
                "io_s": host,
                # Waiting for the next layer's weights: the part of the step the stream is longer than compute.
                "idle_s": max(0.0, stream - compute),
            }
        },
        extra={
            "mode": "weight-streaming",
            "wafers_used": request.count,
            "wafers_per_replica": 1,
            "sram_bytes_used": _sram_per_pe(mow, rows, cols, batch, length, max(batch, chunk), ctx)
            * rows
            * cols
            * request.count,
            "weight_bytes_streamed_per_step": mow.model_bytes_on_wafer,
            "weight_stream_s": stream,
            "prefill_chunk_tokens": chunk,
            "decode_step_s": step,
        },
    )
