"""The server scenario's p99 TPOT over the output-length distribution (perf/tail.py), against a simulation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wafersim.perf.tail import P99_EXCEEDED, in_flight_context, output_length_bins, tpot_exceeded, tpot_p99_s


@given(st.floats(min_value=2.0, max_value=50_000.0))
@settings(max_examples=40, deadline=None)
def test_output_bins_hold_all_the_mass(mean_output):
    iterations, mass = output_length_bins(mean_output)
    assert np.all(mass >= 0) and np.sum(mass) == pytest.approx(1.0, abs=1e-9)
    assert iterations[0] == pytest.approx(1.0)  # two output tokens: one decode iteration, kept exactly
    assert np.all(np.diff(iterations) > 0)


@given(
    st.floats(min_value=0.005, max_value=0.1),
    st.floats(min_value=0.001, max_value=3.0),
    st.floats(min_value=0.01, max_value=10.0),
    st.floats(min_value=10.0, max_value=5000.0),
)
@settings(max_examples=40, deadline=None)
def test_tail_falls_with_the_limit_and_the_p99_meets_it(decode_s, prompt_s, per_iteration, mean_output):
    args = (decode_s, prompt_s, per_iteration, mean_output)
    limits = decode_s + np.array([0.1, 1.0, 10.0]) * prompt_s * per_iteration
    shares = [tpot_exceeded(limit, *args) for limit in limits]
    assert shares[0] >= shares[1] >= shares[2]
    assert tpot_exceeded(decode_s, *args) == 1.0
    p99 = tpot_p99_s(*args)
    assert tpot_exceeded(p99 * 1.0001, *args) <= P99_EXCEEDED
    assert p99 >= decode_s + prompt_s * per_iteration * 0.99  # at least the mean TPOT


def _simulated_p99(decode_s, prompt_s, per_iteration, mean_output, rng, requests=400_000):
    """Requests with geometric output lengths; each meets a Poisson count of other prompts per iteration."""
    outputs = rng.geometric(1.0 / mean_output, size=requests)
    iterations = outputs[outputs >= 2] - 1
    met = rng.poisson(per_iteration * iterations)
    return float(np.quantile(decode_s + prompt_s * met / iterations, 0.99))


@pytest.mark.parametrize(
    ("decode_s", "prompt_s", "per_iteration", "mean_output"),
    [
        (0.012, 1.4, 0.065, 685),  # Llama-3.1-405B-like: ~8 K-token prompts, each worth ~100 decode steps
        (0.040, 0.030, 0.5, 3886),  # DeepSeek-R1-like: long outputs average the prefills out
        (0.150, 0.010, 6.0, 290),  # Llama-2-70B-like: many short prompts per iteration
    ],
)
def test_p99_matches_a_simulation(decode_s, prompt_s, per_iteration, mean_output):
    rng = np.random.default_rng(20261129)
    simulated = _simulated_p99(decode_s, prompt_s, per_iteration, mean_output, rng)
    assert tpot_p99_s(decode_s, prompt_s, per_iteration, mean_output) == pytest.approx(simulated, rel=0.02)


def test_long_prompts_put_the_p99_far_above_the_mean():
    """Few, heavy prompts: short requests see a handful of them over few tokens."""
    mean = 0.012 + 1.4 * 0.065
    assert tpot_p99_s(0.012, 1.4, 0.065, 685) > 1.5 * mean
    light_mean = 0.15 + 0.01 * 6.0
    assert tpot_p99_s(0.15, 0.01, 6.0, 290) < 1.15 * light_mean


def _simulated_in_flight_generated(mean_output: float, slots: int, steps: int, seed: int) -> float:
    """Tokens generated so far by the sequences of a continuously refilled batch, averaged over steps: each
    slot runs requests with geometric output lengths back to back."""
    rng = np.random.default_rng(seed)
    p = 1.0 / mean_output
    length = rng.geometric(p, size=slots)
    done = np.zeros(slots, dtype=int)
    total = 0.0
    for step in range(2 * steps):  # the first half only warms the batch up to its steady mix
        done += 1
        total += done.mean() if step >= steps else 0.0
        finished = done >= length
        length[finished] = rng.geometric(p, size=int(finished.sum()))
        done[finished] = 0
    return total / steps


def test_in_flight_context_is_length_biased_like_a_simulated_batch():
    # Geometric outputs (cv^2 = 1 - 1/mean): the batch holds long requests in proportion to their length.
    mean_output = 200.0
    cv = math.sqrt(1 - 1 / mean_output)
    simulated = _simulated_in_flight_generated(mean_output, slots=2000, steps=3000, seed=7)
    predicted = in_flight_context(0, int(mean_output), cv)
    assert predicted == pytest.approx(simulated, rel=0.02)
    # Fixed lengths: half way through the output on average; the geometric law doubles that.
    assert in_flight_context(1000, 200, 0.0) == 1100
    assert in_flight_context(1000, 200, 1.0) == 1200
    assert in_flight_context(1000, 200, 1.0, cap=1150) == 1150
