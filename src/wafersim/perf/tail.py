"""The p99 TPOT of a server scenario over the requests' output lengths, not at the mean length.

MLPerf's server scenario (Poisson arrivals) reports a per-request TPOT, (latency − TTFT) / (tokens − 1), and
bounds its 99th percentile over requests. Under continuous batching a request's TPOT is the mean of the
iterations it lives through: each is the batch's decode step, t_dec, plus the prefill of whatever prompts of
other requests were chunked into it. A request with n decode iterations meets a Poisson number N of other
prompts, mean λ n, with λ = (batch − 1) / O prompts per iteration (Little's law: each of the other sequences
finishes, and is replaced, once per O iterations), and each costs τ seconds of prefill. Hence

    TPOT(n) = t_dec + τ N / n,    N ~ Poisson(λ n).

A long request averages the prefills out and sees the mean TPOT; a short one sees a few long prompt prefills
over few tokens, and sets the p99. With long prompts (Llama-3.1-405B's ~8 K tokens: one prompt costs more than
a hundred decode steps) the p99 over requests lies far above the mean, and this — not the mean — is what the
TPOT rule bounds: it is why MLPerf server runs of long-prompt models deliver well under their offline figures.

Output lengths: benchmarks publish their mean (and cap), not the distribution. The geometric law is the
maximum-entropy distribution on 1, 2, … with a given mean (Cover & Thomas, Elements of Information Theory,
2nd ed., §12.1, example 12.2.5), so it is assumed: P(o) = (1 − p)^(o − 1) p with p = 1 / O. Requests with one
output token have no TPOT and are left out, as loadgen leaves them out. The prompts are taken at their mean
length (each costs the mean τ), so the spread of prompt lengths, which would widen the tail further, is not
priced. τ is the iteration's mean prefill time per prompt at the batch's load (a linearisation: adding prompts
to a memory-bound decode step costs less at first, more once it turns compute-bound).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import poisson


def in_flight_context(
    input_len: int, output_len: int, output_len_cv: float = 0.0, cap: int | None = None
) -> float:
    """Mean context of the sequences in a continuously refilled batch, for outputs of mean `output_len` and
    coefficient of variation `output_len_cv` across requests.

    A request of output length L stays in the batch for L iterations, so the batch holds requests in proportion
    to L P(L) (the inspection paradox; Little's law per length), each on average L / 2 tokens into its output:
    the in-flight mean is E[L^2] / (2 E[L]) = output_len (1 + cv^2) / 2 generated tokens. With every output of
    the same length (cv = 0) that is output_len / 2; under the geometric law (cv^2 = 1 - 1/mean) it is
    output_len - 1/2: twice as far, because long requests make up most of what is in flight. Capped at the
    model's context."""
    generated = output_len * (1.0 + output_len_cv**2) / 2.0
    context = input_len + generated
    return min(context, float(cap)) if cap is not None else context


P99_EXCEEDED = 0.01  # the share of requests allowed above a p99 limit
_BINS = 160  # log-spaced output-length bins: exact integers at short lengths, where the tail is decided


def output_length_bins(mean_output: float) -> tuple[np.ndarray, np.ndarray]:
    """Representative decode-iteration counts (output − 1 ≥ 1) and their probabilities under geometric output
    lengths of mean `mean_output`, on log-spaced bins covering all but 1e-6 of the mass."""
    p = 1.0 / max(mean_output, 1.0 + 1e-9)
    q = 1.0 - p
    top = max(3.0, math.log(1e-6) / math.log(q)) if q > 0 else 3.0
    edges = np.unique(np.round(np.logspace(math.log10(2.0), math.log10(top), _BINS)))
    edges = np.append(edges, np.inf)  # the last bin takes the remaining mass
    lower, upper = edges[:-1], edges[1:]
    # P(a ≤ o < b) = q^(a − 1) − q^(b − 1); conditioned on o ≥ 2 (one-token requests have no TPOT).
    mass = q ** (lower - 1) - np.where(np.isinf(upper), 0.0, q ** (upper - 1))
    mass = mass / q
    last = np.where(np.isinf(upper), lower * 2, upper - 1)
    outputs = np.sqrt(lower * np.maximum(last, lower))  # geometric middle; exact where a bin is one length
    return outputs - 1.0, mass


def tpot_exceeded(
    limit_s: float,
    decode_s: float,
    prefill_per_prompt_s: float,
    prompts_per_iteration: float,
    mean_output: float,
) -> float:
    """Share of requests whose TPOT exceeds `limit_s` (the model above)."""
    if limit_s <= decode_s:
        return 1.0
    if prefill_per_prompt_s <= 0 or prompts_per_iteration <= 0:
        return 0.0
    iterations, mass = output_length_bins(mean_output)
    # TPOT(n) > limit  ⇔  N > (limit − t_dec) n / τ
    allowed = np.floor((limit_s - decode_s) * iterations / prefill_per_prompt_s)
    return float(np.sum(mass * poisson.sf(allowed, prompts_per_iteration * iterations)))


def tpot_p99_s(
    decode_s: float, prefill_per_prompt_s: float, prompts_per_iteration: float, mean_output: float
) -> float:
    """The TPOT that all but 1% of requests stay within."""
    if prefill_per_prompt_s <= 0 or prompts_per_iteration <= 0:
        return decode_s
    args = (decode_s, prefill_per_prompt_s, prompts_per_iteration, mean_output)
    low = decode_s
    high = decode_s + prefill_per_prompt_s * max(prompts_per_iteration, 1.0)
    while tpot_exceeded(high, *args) > P99_EXCEEDED:
        low, high = high, decode_s + 2 * (high - decode_s)
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if tpot_exceeded(mid, *args) > P99_EXCEEDED else (low, mid)
    return high
