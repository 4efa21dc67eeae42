"""Memory one accelerator needs: weights + KV cache + activation workspace, against what the runtime may use."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from wafersim.perf.cost import ACTIVATION_BYTES, LOGIT_BYTES, IterationCost, stage_weight_bytes
from wafersim.perf.sram_chips import is_compiler_scheduled, usable_bytes

# Tokens one iteration may carry: vLLM's chunked-prefill token budget for offline throughput runs
# (max_num_batched_tokens = 8192, vLLM engine-args docs); it bounds the activation workspace.
TOKEN_BUDGET = 8192


@dataclass(frozen=True)
class MemoryUse:
    weights_bytes: float
    kv_cache_bytes: float
    activation_bytes: float
    usable_bytes: float

    @property
    def total_bytes(self) -> float:
        return self.weights_bytes + self.kv_cache_bytes + self.activation_bytes

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.usable_bytes


def step_activation_bytes(cost: IterationCost, batch: int) -> float:
    """Activations one compiled step holds on one accelerator of a compiler-scheduled chip: `batch` tokens' residual stream, one working copy
    and the widest intermediate (split over tp), plus their fp32 logits."""
    m, split = cost.model, cost.dense_split
    tokens = max(batch, 1)
    widest = max(m.dense_ffn, m.moe.expert_ffn * m.moe.top_k if m.moe else 0, m.q_dim) * 2 / split
    return (
        tokens * (2 * m.hidden_size + widest) * ACTIVATION_BYTES + tokens * m.vocab_size / split * LOGIT_BYTES
    )


@lru_cache(maxsize=256)
def kv_bytes_per_sequence(cost: IterationCost, context_tokens: int) -> float:
    """Sliding-window layers keep only the window; the rest keep every token."""
    m = cost.model
    per_layer = m.kv_elements_per_token_per_layer() * cost.kv_share * cost.kv_bytes
    worst = 0.0
    for layers in cost.stage_layers():
        total = 0.0
        for i in layers:
            kept = min(context_tokens, m.sliding_window) if m.is_sliding_layer(i) else context_tokens
            total += kept * per_layer
        worst = max(worst, total)
    return worst


def activation_bytes(cost: IterationCost, batch: int, context_tokens: int) -> float:
    """Workspace for the largest iteration: the residual stream, one working copy, the widest intermediate
    (split over tp) and the fp32 logits. An iteration carries at most TOKEN_BUDGET tokens, and never more
    than the batch's decodes or one prompt."""
    if is_compiler_scheduled(cost.system):  # no run-time workspace: what one step holds
        return step_activation_bytes(cost, batch)
    m, split = cost.model, cost.dense_split
    tokens = min(TOKEN_BUDGET, max(batch, context_tokens))
    widest = max(m.dense_ffn, m.moe.expert_ffn * m.moe.top_k if m.moe else 0, m.q_dim) * 2 / split
    hidden_states = tokens * (2 * m.hidden_size + widest) * ACTIVATION_BYTES
    logits = batch * m.vocab_size / split * LOGIT_BYTES
    return hidden_states + logits


def memory_use(cost: IterationCost, batch: int, context_tokens: int) -> MemoryUse:
    """Memory of the busiest accelerator with `batch` sequences on the replica (spread over the attention-DP
    ranks, if any)."""
    system = cost.system
    local_batch = math.ceil(batch / cost.ranks)
    return MemoryUse(
        weights_bytes=max(stage_weight_bytes(cost)),
        kv_cache_bytes=local_batch * kv_bytes_per_sequence(cost, context_tokens),
        activation_bytes=activation_bytes(cost, local_batch, context_tokens),
        usable_bytes=usable_bytes(system),
    )


def max_batch(cost: IterationCost, context_tokens: int, limit: int) -> int:
    """Largest batch (≤ limit) whose full-length KV cache fits beside the weights; 0 if none does."""
    low, high = 0, limit
    while low < high:  # memory use grows with batch, so bisect
        mid = (low + high + 1) // 2
        if memory_use(cost, mid, context_tokens).fits:
            low = mid
        else:
            high = mid - 1
    return low
