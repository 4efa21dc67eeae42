"""Speculative decoding on GPUs, TPUs, LPUs and RDUs (the wafers have their own: `perf/wafer/speculative.py`).

Each round a drafter proposes `draft_tokens` (gamma) tokens one step at a time, then the target verifies all
gamma + 1 positions of every sequence in one step (a verify width of gamma + 1 query tokens against the cache).
With acceptance rate alpha per token a round yields (1 - alpha^(gamma+1)) / (1 - alpha) tokens (Leviathan,
Kalman & Matias, ICML 2023, eq. 1). Two drafters:

- a draft model (the wafer option's `Speculative` type, shared): it runs on the same accelerators with the
  target's tensor- and pipeline-parallel degrees, each draft step a decode step of the draft for the whole batch, and holds its
  own weights and KV cache beside the target's (as TensorRT-LLM's and vLLM's draft-target modes do);
- multi-token-prediction heads (`MTPHeads`; DeepSeek-V3 report §2.2: each MTP module is one transformer block
  plus a projection, sharing the embedding and output head): draft step k runs one such block and the LM head.

The round is priced on the layout and batch the plain estimate chose (largest batch whose weights, both KV
caches and activations fit), so speculation never changes the layout search.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from wafersim.catalog import Precision
from wafersim.errors import WafersimError
from wafersim.perf.cost import IterationCost
from wafersim.perf.layout import Layout, layout_problem
from wafersim.perf.memory import kv_bytes_per_sequence, memory_use, stage_weight_bytes
from wafersim.perf.types import Estimate, EstimateRequest
from wafersim.perf.wafer.speculative import Speculative
from wafersim.perf.work import StepWork, decode_work, prefill_work

# Operators outside the transformer blocks (see IterationCost.edge_ops and iteration_ops).
_EDGE_OPS = ("embedding", "final_norm", "lm_head", "pp_transfer", "step_overhead")


def tokens_per_round(acceptance: float, draft_tokens: int) -> float:
    g, a = draft_tokens, acceptance
    return float(g + 1) if a >= 1.0 else (1 - a ** (g + 1)) / (1 - a)


@dataclass(frozen=True)
class MTPHeads:
    """Multi-token-prediction heads of the target itself: `heads` drafted tokens per round."""

    heads: int
    acceptance: float

    def __post_init__(self) -> None:
        if self.heads < 1:
            raise WafersimError(f"mtp heads must be >= 1, got {self.heads}")
        if not 0.0 <= self.acceptance <= 1.0:
            raise WafersimError(f"acceptance must be within [0, 1], got {self.acceptance}")

    @property
    def draft_tokens(self) -> int:
        return self.heads

    @property
    def tokens_per_round(self) -> float:
        return tokens_per_round(self.acceptance, self.heads)


SpeculativeSpec = Speculative | MTPHeads


def verify_work(batch: int, context: float, width: int, window: int | None) -> StepWork:
    """One verify step: `width` query tokens per sequence after `context` cached ones, each needing logits."""
    chunk = prefill_work(width, context, window).scaled(batch)
    return replace(chunk, logits=chunk.tokens)


def _draft_cost(spec: Speculative, request: EstimateRequest, layout: Layout, precision: Precision):
    draft, target = spec.draft, request.model
    if draft.vocab_size != target.vocab_size:
        raise WafersimError(
            f"draft {draft.id} has a {draft.vocab_size}-token vocabulary, target {target.id} "
            f"{target.vocab_size}: speculative decoding needs a shared tokenizer"
        )
    problem = layout_problem(draft, layout.tp, min(layout.pp, draft.num_layers), 1)
    if problem:
        raise WafersimError(f"draft {draft.id} beside {target.id} at tp={layout.tp}: {problem}")
    pp = min(layout.pp, draft.num_layers)  # spread over the whole replica (SRAM chips need it)
    return IterationCost(draft, request.system, Layout(tp=layout.tp, pp=pp), precision, request.kv_precision)


def _mtp_extra_weight_bytes(cost: IterationCost, heads: int) -> float:
    """Per accelerator: each head is one block like the target's last one plus a 2h × h projection."""
    m = cost.model
    block = m.layer_params(m.num_layers - 1) + 2 * m.hidden_size * m.hidden_size
    return heads * block / cost.dense_split * cost.weight_bytes


def _mtp_step_s(cost: IterationCost, batch: int, context: float) -> float:
    """One MTP head for the batch: an average block of the target plus its LM head."""
    parts = cost.breakdown(decode_work(batch, context, cost.model.sliding_window))
    blocks = sum(float(np.asarray(v)) for k, v in parts.items() if k not in _EDGE_OPS)
    head = float(np.asarray(parts["lm_head"])) + float(np.asarray(parts["final_norm"]))
    return blocks / cost.model.num_layers + head


def speculate(result: Estimate, request: EstimateRequest, spec: SpeculativeSpec) -> Estimate:
    """The plain estimate `result` re-priced with speculative rounds on its layout."""
    if not result.fits:
        return result
    precision: Precision = result.precision  # type: ignore[assignment]
    layout = Layout(result.tp, result.pp, result.ep, result.dp, result.attention_dp)
    target = IterationCost(request.model, request.system, layout, precision, request.kv_precision)
    m = request.model
    gamma = spec.draft_tokens
    mean_context = int(request.in_flight_context)
    draft = _draft_cost(spec, request, layout, precision) if isinstance(spec, Speculative) else None

    def extra_bytes(batch: int) -> float:
        if draft is None:
            return _mtp_extra_weight_bytes(target, gamma)
        local = math.ceil(batch / target.ranks)
        return max(stage_weight_bytes(draft)) + local * kv_bytes_per_sequence(draft, mean_context + gamma)

    def fits(batch: int) -> bool:
        use = memory_use(target, batch, mean_context + gamma)
        return use.total_bytes + extra_bytes(batch) <= use.usable_bytes

    batch = result.batch
    if request.batch is None:
        while batch > 1 and not fits(batch):  # the drafter's memory comes out of the batch
            batch = max(1, batch * 3 // 4)
    if not fits(batch):
        use = memory_use(target, batch, mean_context + gamma)
        reason = (
            f"speculative decoding at batch {batch}: the drafter needs {extra_bytes(batch) / 2**30:.2f} GiB per "
            f"accelerator beside the target's {use.total_bytes / 2**30:.2f} GiB, {use.usable_bytes / 2**30:.2f} "
            "GiB usable"
        )
        return replace(result, fits=False, reason=reason)

    context = request.in_flight_context
    if draft is None:
        draft_step = _mtp_step_s(target, batch, context)
    else:
        draft_step = float(np.asarray(draft.time_s(decode_work(batch, context, spec.draft.sliding_window))))
    verify = float(np.asarray(target.time_s(verify_work(batch, context, gamma + 1, m.sliding_window))))
    per_round = spec.tokens_per_round

    def prompt_s(sequences: int) -> float:
        """Prompts arriving meanwhile (chunked prefill): `sequences`' prompt share of a round's tokens."""
        if sequences == 0:  # (an empty step would still be priced a read of the weights)
            return 0.0
        work = prefill_work(request.input_len, 0, m.sliding_window).scaled(
            sequences * per_round / request.output_len
        )
        seconds = float(np.asarray(target.time_s(work)))
        return seconds + (float(np.asarray(draft.time_s(work))) if draft is not None else 0.0)

    # As for plain decoding: TPOT carries the other sequences' prompt share, throughput the whole batch's.
    tpot = (gamma * draft_step + verify + prompt_s(batch - 1)) / per_round
    throughput = layout.dp * batch * per_round / (gamma * draft_step + verify + prompt_s(batch))
    ttft = result.ttft_s
    if draft is not None and ttft is not None:  # the draft prefills the prompt too
        ttft += float(np.asarray(draft.time_s(prefill_work(request.input_len, 0, spec.draft.sliding_window))))
    summary = {
        "draft_model": spec.draft.id if draft is not None else None,
        "mtp_heads": gamma if draft is None else 0,
        "acceptance": spec.acceptance,
        "draft_tokens": gamma,
        "verify_width": gamma + 1,
        "tokens_per_round": per_round,
        "draft_step_s": draft_step,
        "verify_step_s": verify,
        "decode_s_per_token": tpot,
    }
    use = memory_use(target, batch, mean_context + gamma)
    return replace(
        result,
        batch=batch,
        memory_bytes_per_accelerator=use.total_bytes + extra_bytes(batch),
        ttft_s=ttft,
        tpot_s=tpot,
        output_tokens_per_s_per_user=1.0 / tpot,
        output_tokens_per_s=throughput,
        joules_per_token=result.power_w / throughput if result.power_w else None,
        extra={**result.extra, "speculative": summary},
    )
