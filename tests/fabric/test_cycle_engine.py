import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wafersim.fabric.dtypes import FP32
from wafersim.fabric.patterns import ChainReduce, Multicast, Shift, Stream
from wafersim.fabric.program import Program, Step
from wafersim.fabric.runtime import Runtime


def _program(arch, rows, cols, n, steps, symbols=("a", "b")):
    program = Program(arch, rows, cols, FP32)
    for sym in symbols:
        program.symbol(sym, n)
    program.function("f", steps)
    return program


def _run(program, engine, data):
    runtime = Runtime(program, engine)
    runtime.memcpy_h2d("a", data, 0, 0, program.cols, program.rows)
    stats = runtime.launch("f")
    return stats, runtime.memcpy_d2h("b", 0, 0, program.cols, program.rows)


@pytest.mark.parametrize("hops", [1, 3, 6])
def test_stream_takes_n_plus_hops_plus_two_ramp_crossings(wse2, hops):
    n = 10
    program = _program(wse2, 1, 7, n, [Step("s", patterns=(Stream("s", "x", 0, hops, "a", "b", n, 0),))])
    data = np.arange(7 * n, dtype=float).reshape(1, 7, n)
    stats, out = _run(program, "cycle", data)
    assert stats.cycles == n + hops + 2
    assert np.array_equal(out[0, hops], data[0, 0])
    assert stats.wavelet_hops == n * hops


def test_relay_chain_pays_two_ramp_crossings_per_stage(wse2):
    n, length = 8, 5
    chain = ChainReduce("c", "x", (tuple(range(length)),), "a", "b", n, (0, 1))
    program = _program(wse2, 1, length, n, [Step("c", patterns=(chain,))])
    data = np.random.default_rng(0).standard_normal((1, length, n))
    stats, out = _run(program, "cycle", data)
    assert stats.cycles == n + (length - 1) * 3
    assert np.allclose(out[0, -1], data[0].sum(axis=0), rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    st.data(),
    st.integers(min_value=2, max_value=9),
    st.integers(min_value=1, max_value=3),
    st.integers(1, 12),
)
def test_routing_delivers_every_wavelet_exactly_once(wse2, data, length, rows, n):
    """A random partial permutation: each receiver gets exactly its sender's wavelets, once and in order."""
    perm = data.draw(st.permutations(list(range(length))))
    dest = tuple(-1 if q == p else q for p, q in enumerate(perm))  # fixed points send nothing
    shift = Shift("perm", "x", dest, "a", "b", n, tuple(range(12)))
    program = _program(wse2, rows, length, n, [Step("s", patterns=(shift,))])
    values = np.arange(rows * length * n, dtype=float).reshape(rows, length, n) + 1
    stats, out = _run(program, "cycle", values)
    for p, q in enumerate(dest):
        if q >= 0:
            assert np.array_equal(out[:, q], values[:, p])
        if p not in dest:
            assert not out[:, p].any()  # nobody sent here: nothing arrived
    # Every wavelet crossed exactly the links between its sender and receiver.
    assert stats.wavelet_hops == rows * n * sum(abs(q - p) for p, q in enumerate(dest) if q >= 0)


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=2, max_value=8), st.integers(min_value=0, max_value=7), st.integers(1, 10))
def test_multicast_reaches_every_pe_once(wse2, length, root, n):
    root = root % length
    program = _program(
        wse2, length, 2, n, [Step("m", patterns=(Multicast("m", "y", root, "a", "b", n, 2, length),))]
    )
    data = np.arange(length * 2 * n, dtype=float).reshape(length, 2, n) + 1
    stats, out = _run(program, "cycle", data)
    for y in range(length):
        if y != root:
            assert np.array_equal(out[y], data[root])
    assert stats.wavelet_hops == 2 * n * (length - 1)


def test_contending_streams_share_the_ramp(wse2):
    """Two streams into one PE (from West and North) take turns on its ramp: about 2n cycles, not n."""
    n = 40
    steps = [
        Step(
            "two",
            patterns=(
                Shift("row", "x", (1, -1), "a", "b", n, (0, 1)),
                Shift("col", "y", (1, -1), "a", "c", n, (2, 3)),
            ),
        )
    ]
    program = _program(wse2, 2, 2, n, steps, symbols=("a", "b", "c"))
    cycle_stats, _ = _run(program, "cycle", np.ones((2, 2, n)))
    fast_stats, _ = _run(program, "fast", np.ones((2, 2, n)))
    assert cycle_stats.cycles == fast_stats.cycles == 2 * n + 1 + 2


def test_trace_events_cover_each_pe(wse2):
    program = _program(wse2, 1, 3, 4, [Step("s", patterns=(Stream("s", "x", 0, 2, "a", "b", 4, 0),))])
    runtime = Runtime(program, "cycle", trace=True)
    runtime.launch("f")
    tids = {event["tid"] for event in runtime.stats.trace_events}
    assert tids == {0, 2}
