"""Mixture-of-experts from first principles: how many tokens each expert and each device gets, and how uneven.

A MoE layer routes each of T tokens to top_k of E experts. With the experts spread over `ep` devices (E / ep
each), a device's grouped GEMM runs one small matmul per local expert that received tokens:
- each *active* expert's weights are read once per step however few tokens it got (small groups are
  memory-bound: that is the grouped GEMM's efficiency as a function of tokens per expert, priced by the
  roofline per expert rather than by a fitted efficiency);
- the busiest device sets the pace, so the FLOPs, the routed activations and the all-to-all traffic are those of
  the busiest device: the mean load times `device_imbalance`.

Load imbalance has two sources, added in quadrature as coefficients of variation (CV) of a device's load:
- routing skew: some experts are hotter than others. A device's load is the sum of E / ep experts' loads drawn
  without replacement from E, so its CV is cv_expert × sqrt((E − n) / (n (E − 1))) with n = E / ep;
- finite sampling: with A = T × top_k assignments, a device's count is ~Binomial(A, 1/ep), CV sqrt((ep − 1) / A).
The busiest of ep devices is then expected at mean × (1 + CV × sqrt(2 ln ep)) (the Gaussian extreme-value
bound).

DEFAULT_EXPERT_LOAD_CV is the measured per-expert-slot load of DeepSeek-R1 without expert-parallel load
balancing: standard deviation 164.1 over a mean of 128 routed tokens (TensorRT-LLM tech blog 4, "Scaling Expert
Parallelism in TensorRT-LLM, Part 1", Table 1; EP32 on GB200, machine-translation dataset). The same table checks
the sampling formula: it predicts a per-rank CV of 1.28 × 0.349 = 0.45 for 8 experts per rank, measured 0.48;
the extreme-value step then gives the hottest rank 2.18 × the mean where the blog measured 2.56 (so the default
under-states the hottest rank by ~15%). Deployments with expert load balancing (EPLB) reach a per-rank
imbalance ratio of 0.11 (same table): pass a smaller CV for them.
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_EXPERT_LOAD_CV = 164.1 / 128.0  # TensorRT-LLM tech blog 4, Table 1 (DeepSeek-R1, no EPLB)


def expected_active_experts(num_experts: int, top_k: int, tokens) -> np.ndarray:
    """Experts that receive at least one of `tokens` tokens (each picks top_k of E, uniformly)."""
    tokens = np.asarray(tokens, dtype=float)
    return num_experts * (1.0 - (1.0 - top_k / num_experts) ** tokens)


def device_imbalance(num_experts: int, top_k: int, ep: int, tokens, expert_load_cv: float) -> np.ndarray:
    """Busiest device's routed tokens over the mean device's, for `tokens` tokens routed over `ep` devices."""
    tokens = np.asarray(tokens, dtype=float)
    if ep <= 1:
        return np.ones_like(tokens)
    per_device = num_experts / ep
    skew = expert_load_cv * math.sqrt((num_experts - per_device) / (per_device * (num_experts - 1)))
    assignments = np.maximum(tokens * top_k, 1.0)
    sampling_sq = (ep - 1) / assignments
    cv = np.sqrt(skew**2 + sampling_sq)
    # The busiest device cannot hold more than all assignments, nor more than each token's k picks landing on it.
    ceiling = np.minimum(ep, ep * np.minimum(top_k, per_device) / top_k)
    return np.minimum(1.0 + cv * math.sqrt(2.0 * math.log(ep)), ceiling)


def tokens_per_active_expert(num_experts: int, top_k: int, tokens) -> np.ndarray:
    """Mean tokens an active expert gets: the grouped GEMM's M dimension per expert."""
    tokens = np.asarray(tokens, dtype=float)
    active = np.maximum(expected_active_experts(num_experts, top_k, tokens), 1e-12)
    return tokens * top_k / active
