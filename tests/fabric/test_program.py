import numpy as np
import pytest

from wafersim.errors import WafersimError
from wafersim.fabric.costs import vector_cycles
from wafersim.fabric.dtypes import FP32
from wafersim.fabric.program import Compute, Program, Step, pe_coords
from wafersim.fabric.runtime import Runtime


def _doubling(arch, region):
    program = Program(arch, 3, 4, FP32)
    program.symbol("v", 8)
    program.symbol("w", 8)

    def double_plus_x(memory, ys, xs):
        _, xx = pe_coords(ys, xs)  # SPMD code parameterised by the PE's coordinates
        memory["w"][ys, xs] = FP32.add(FP32.mul(memory["v"][ys, xs], 2.0), xx)

    cycles = vector_cycles(arch, "mul", FP32, 8) + vector_cycles(arch, "add", FP32, 8)
    program.function(
        "f", [Step("double", computes=(Compute("double", double_plus_x, cycles, ("v",), ("w",), region),))]
    )
    return program, cycles


@pytest.mark.parametrize("engine", ["cycle", "fast"])
def test_code_region_runs_only_on_its_rectangle(wse2, engine):
    program, cycles = _doubling(wse2, (1, 0, 2, 2))  # x0=1, y0=0, w=2, h=2
    runtime = Runtime(program, engine)
    data = np.arange(3 * 4 * 8, dtype=float).reshape(3, 4, 8)
    runtime.memcpy_h2d("v", data, 0, 0, 4, 3)
    stats = runtime.launch("f")
    out = runtime.memcpy_d2h("w", 0, 0, 4, 3)
    inside = np.zeros((3, 4), dtype=bool)
    inside[0:2, 1:3] = True
    for y in range(3):
        for x in range(4):
            expected = data[y, x] * 2 + x if inside[y, x] else np.zeros(8)
            assert np.array_equal(out[y, x], expected)
    assert stats.cycles == cycles == 2 * 4  # 8 fp32 elements at 2 per cycle, twice, on wse-2
    assert np.array_equal(stats.busy_cycles, np.where(inside, cycles, 0))


def test_code_region_must_fit(wse2):
    program, _ = _doubling(wse2, (3, 0, 2, 1))
    with pytest.raises(WafersimError, match="code region x0=3 y0=0 w=2 h=1 is outside"):
        Runtime(program)
