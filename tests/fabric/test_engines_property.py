"""Random programs of patterns: the fast engine's arithmetic and analytic timing track the cycle engine."""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from wafersim.errors import WafersimError
from wafersim.fabric.dtypes import FP16
from wafersim.fabric.patterns import ChainReduce, Multicast, Shift
from wafersim.fabric.program import Program, Step
from wafersim.fabric.runtime import Runtime


@st.composite
def line_pattern(draw, axis, length, src, dst, colors):
    n = draw(st.integers(1, 24))
    kind = draw(st.sampled_from(["multicast", "shift", "chain"]))
    if kind == "multicast":
        return Multicast(f"{axis}_mc", axis, draw(st.integers(0, length - 1)), src, dst, n, colors[0], length)
    if kind == "shift":
        perm = draw(st.permutations(list(range(length))))
        dest = tuple(-1 if q == p else q for p, q in enumerate(perm))
        try:
            return Shift(
                f"{axis}_shift", axis, dest, src, dst, n, colors, op=draw(st.sampled_from([None, "add"]))
            )
        except (
            WafersimError
        ):  # a permutation whose routes need more colors than the palette: not this test's topic
            assume(False)
    cut = draw(st.integers(1, length - 1))
    chains = tuple(c for c in (tuple(range(cut + 1)), tuple(range(length - 1, cut, -1))) if len(c) >= 2)
    return ChainReduce(
        f"{axis}_chain", axis, chains, src, dst, n, colors, draw(st.sampled_from(["add", "max"]))
    )


@settings(max_examples=30, deadline=None)
@given(st.data(), st.integers(2, 5), st.integers(2, 5))
def test_engines_agree_on_random_pattern_programs(wse2, data, rows, cols):
    steps = []
    for index in range(data.draw(st.integers(1, 3))):
        patterns = []
        if data.draw(st.booleans()):
            patterns.append(data.draw(line_pattern("x", cols, "a", "b", tuple(range(0, 9)))))
        if data.draw(st.booleans()) or not patterns:
            patterns.append(data.draw(line_pattern("y", rows, "a", "c", tuple(range(9, 18)))))
        steps.append(Step(f"s{index}", patterns=tuple(patterns)))
    results = {}
    for engine in ("cycle", "fast"):
        program = Program(wse2, rows, cols, FP16)
        for sym in "abc":
            program.symbol(sym, 24)
        program.function("f", steps)
        runtime = Runtime(program, engine)
        runtime.memcpy_h2d(
            "a", np.random.default_rng(rows * cols).standard_normal((rows, cols, 24)), 0, 0, cols, rows
        )
        stats = runtime.launch("f")
        results[engine] = (stats, {s: runtime.memcpy_d2h(s, 0, 0, cols, rows) for s in "bc"})
    (cycle, cycle_mem), (fast, fast_mem) = results["cycle"], results["fast"]
    for sym in "bc":
        assert np.array_equal(cycle_mem[sym], fast_mem[sym])
    for (name, cycle_steps), (_, fast_steps) in zip(cycle.step_cycles, fast.step_cycles, strict=True):
        assert abs(cycle_steps - fast_steps) <= max(2, 0.05 * cycle_steps), name
    assert np.array_equal(cycle.link_wavelets, fast.link_wavelets)
