"""What one forward pass (an iteration of the serving loop) has to do, as a handful of additive counts.

Every operator's FLOPs and bytes are affine in these counts (MoE expert reads aside), so one iteration of any
mix — a prefill chunk, a decode batch, or both, as with chunked prefill — is described by a `StepWork`, and
the cost model evaluates it with NumPy, also for arrays of iterations at once (the serving simulator does that).

Attention "pairs" count (query token, key token) products; "kv reads" count cached tokens whose K and V are
read. Layers with a sliding window (or Llama 4's chunked attention) get their own counts, capped at the window.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

ArrayLike = float | np.ndarray


@dataclass(frozen=True)
class StepWork:
    tokens: ArrayLike  # new tokens processed (prefill + decode)
    logits: ArrayLike  # sequences that need next-token logits (prefill ends and decode steps)
    pairs_prefill: ArrayLike  # attention pairs from prefill tokens, full-attention layers
    pairs_decode: ArrayLike  # attention pairs from decode tokens, full-attention layers
    kv_reads: ArrayLike  # cached tokens read per full-attention layer
    window_pairs_prefill: ArrayLike
    window_pairs_decode: ArrayLike
    window_kv_reads: ArrayLike

    def __add__(self, other: StepWork) -> StepWork:
        return StepWork(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def scaled(self, factor: float) -> StepWork:
        return StepWork(*(getattr(self, f.name) * factor for f in fields(self)))


def _window_pairs_prefill(past: ArrayLike, new: ArrayLike, window: int | None) -> ArrayLike:
    """Pairs for `new` causal query tokens that follow `past` cached ones, each seeing at most `window` keys.

    Query j (0-based among the new ones) sees past + j + 1 keys, capped at the window.
    """
    past = np.asarray(past, dtype=float)
    new = np.asarray(new, dtype=float)
    full = new * past + new * (new + 1) / 2
    if window is None:
        return full
    # Queries whose key count stays below the window: j + 1 + past <= window.
    uncapped = np.clip(window - past, 0, new)
    capped_pairs = uncapped * past + uncapped * (uncapped + 1) / 2 + (new - uncapped) * window
    return np.minimum(full, capped_pairs)


def prefill_work(prompt_tokens: ArrayLike, past_tokens: ArrayLike = 0, window: int | None = None) -> StepWork:
    """One sequence's prefill (or a chunk of it after `past_tokens` already cached)."""
    prompt = np.asarray(prompt_tokens, dtype=float)
    past = np.asarray(past_tokens, dtype=float)
    reads = past + prompt  # the chunk's own K/V is written then read back by attention
    window_reads = reads if window is None else np.minimum(reads, past + np.minimum(prompt, window))
    return StepWork(
        tokens=prompt,
        logits=np.where(prompt > 0, 1.0, 0.0),
        pairs_prefill=_window_pairs_prefill(past, prompt, None),
        pairs_decode=0.0 * prompt,
        kv_reads=reads,
        window_pairs_prefill=_window_pairs_prefill(past, prompt, window),
        window_pairs_decode=0.0 * prompt,
        window_kv_reads=window_reads,
    )


def decode_work(batch: ArrayLike, context_tokens: ArrayLike, window: int | None = None) -> StepWork:
    """`batch` sequences each generating one token after `context_tokens` (per sequence) already cached."""
    batch = np.asarray(batch, dtype=float)
    context = np.asarray(context_tokens, dtype=float)
    seen = context + 1
    window_seen = seen if window is None else np.minimum(seen, window)
    return StepWork(
        tokens=batch,
        logits=batch,
        pairs_prefill=0.0 * batch,
        pairs_decode=batch * seen,
        kv_reads=batch * seen,
        window_pairs_prefill=0.0 * batch,
        window_pairs_decode=batch * window_seen,
        window_kv_reads=batch * window_seen,
    )
