"""perf.monotone.largest: the one bisection every batch, chunk and replica search uses."""

from hypothesis import given
from hypothesis import strategies as st

from wafersim.perf.monotone import largest


@given(st.integers(-5, 50), st.integers(0, 60), st.integers(-10, 70))
def test_largest_finds_the_last_accepted_value(lo, span, threshold):
    hi = lo + span
    calls = []

    def ok(x):
        calls.append(x)
        return x <= threshold

    expected = lo - 1 if threshold < lo else min(threshold, hi)
    assert largest(lo, hi, ok) == expected
    assert all(lo <= x <= hi for x in calls)
    assert len(calls) <= span.bit_length() + 2  # a bisection, not a scan


def test_an_empty_range_accepts_nothing():
    assert largest(1, 0, lambda x: True) == 0
