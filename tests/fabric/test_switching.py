import numpy as np
import pytest

from wafersim.fabric.dtypes import FP32
from wafersim.fabric.patterns import Multicast, Stream
from wafersim.fabric.program import Program, Step
from wafersim.fabric.runtime import Runtime
from wafersim.fabric.switching import switched_colors


def _program(arch, steps, rows=3, cols=5, n=6):
    program = Program(arch, rows, cols, FP32)
    for sym in ("a", "b", "c"):
        program.symbol(sym, n)
    program.function("f", steps)
    return program


def test_only_changed_configurations_need_a_control_wavelet(wse2):
    steps = [
        Step("root0", patterns=(Multicast("m0", "x", 0, "a", "b", 6, 3, 5),)),
        Step("root0_again", patterns=(Multicast("m1", "x", 0, "a", "c", 6, 3, 5),)),
        Step("root2", patterns=(Multicast("m2", "x", 2, "a", "b", 6, 3, 5),)),
        Step("columns", patterns=(Multicast("m3", "y", 0, "a", "c", 6, 3, 3),)),
        Step("other_color", patterns=(Multicast("m4", "y", 1, "a", "b", 6, 9, 3),)),
    ]
    assert switched_colors(_program(wse2, steps), "f") == [{}, {}, {0: {3}}, {0: {3}}, {}]


@pytest.mark.parametrize("engine", ["cycle", "fast"])
def test_a_switched_stream_pays_one_wavelet_and_delivers_only_data(wse2, engine):
    n, hops = 6, 4
    steps = [
        Step("east", patterns=(Stream("e", "x", 0, hops, "a", "b", n, 2),)),
        Step("west", patterns=(Stream("w", "x", hops, 0, "a", "c", n, 2),)),  # same color, reversed route
    ]
    program = _program(wse2, steps)
    runtime = Runtime(program, engine)
    data = np.arange(3 * 5 * n, dtype=float).reshape(3, 5, n) + 1
    runtime.memcpy_h2d("a", data, 0, 0, 5, 3)
    stats = runtime.launch("f")
    assert stats.step_cycles == [("east", n + hops + 2), ("west", n + 1 + hops + 2)]
    assert np.array_equal(runtime.memcpy_d2h("c", 0, 0, 5, 3)[:, 0], data[:, hops])
    assert stats.wavelet_hops == 3 * (n + n + 1) * hops
