import pytest
from hypothesis import given
from hypothesis import strategies as st

from wafersim.errors import WafersimError
from wafersim.fabric.routing import assign_colors, interleaved_ring, multicast_route, stream_route


@given(st.integers(min_value=1, max_value=300))
def test_interleaved_ring_neighbours_are_at_most_two_hops(n):
    ring = interleaved_ring(n)
    assert sorted(ring) == list(range(n))
    assert all(abs(ring[i] - ring[(i + 1) % n]) <= 2 for i in range(n))


def test_stream_and_multicast_routes():
    assert stream_route("x", 0, 2) == {
        0: (frozenset({"RAMP"}), frozenset({"E"})),
        1: (frozenset({"W"}), frozenset({"E"})),
        2: (frozenset({"W"}), frozenset({"RAMP"})),
    }
    routes = multicast_route("y", 1, 0, 3)
    assert routes[1] == (frozenset({"RAMP"}), frozenset({"N", "S"}))
    assert routes[2] == (frozenset({"N"}), frozenset({"RAMP", "S"}))
    assert routes[0] == (frozenset({"S"}), frozenset({"RAMP"}))


def test_colors_alternate_and_run_out():
    streams = [stream_route("x", p, p - 1) for p in range(1, 6)]
    assert assign_colors(streams, (3, 4), "shift") == [3, 4, 3, 4, 3]
    with pytest.raises(WafersimError, match="conflicts with the routes of every color"):
        assign_colors(streams, (3,), "shift")
