import numpy as np
import pytest

from wafersim.errors import WafersimError
from wafersim.fabric.dtypes import FP16
from wafersim.fabric.program import Program
from wafersim.fabric.runtime import Runtime


def test_memcpy_roundtrip_rounds_to_the_symbol_type(wse2):
    program = Program(wse2, 3, 4, FP16)
    program.symbol("v", 5)
    program.function("noop", [])
    runtime = Runtime(program)
    data = np.random.default_rng(0).standard_normal((2, 3, 5))
    runtime.memcpy_h2d("v", data, 1, 1, 3, 2)
    back = runtime.memcpy_d2h("v", 1, 1, 3, 2)
    assert back.dtype == np.float16 and np.array_equal(back, data.astype(np.float16))
    assert runtime.memcpy_d2h("v", 0, 0, 1, 1).sum() == 0
    assert runtime.host_io_cycles > 0
    assert runtime.launch("noop").cycles == 0


def test_memcpy_and_launch_errors(wse2):
    program = Program(wse2, 2, 2, FP16)
    program.symbol("v", 4)
    runtime = Runtime(program)
    with pytest.raises(WafersimError, match="outside the 2x2 program"):
        runtime.memcpy_h2d("v", np.zeros(16), 1, 0, 2, 2)
    with pytest.raises(WafersimError, match="no symbol 'w'"):
        runtime.memcpy_d2h("w", 0, 0, 1, 1)
    with pytest.raises(WafersimError, match="do not fill"):
        runtime.memcpy_h2d("v", np.zeros(7), 0, 0, 2, 2)
    with pytest.raises(WafersimError, match="no function 'main'"):
        runtime.launch("main")


def test_cycle_engine_is_for_small_grids(wse2):
    program = Program(wse2, 65, 64, FP16)
    with pytest.raises(WafersimError, match="engine fast is needed"):
        Runtime(program, "cycle")
    with pytest.raises(WafersimError, match="unknown engine"):
        Runtime(program, "warp")


def test_host_io_is_bounded_by_system_bandwidth(wse2):
    program = Program(wse2, 1, 1, FP16)
    program.symbol("v", 20_000)
    runtime = Runtime(program)
    runtime.memcpy_h2d("v", np.zeros(20_000), 0, 0, 1, 1)
    # 20k wavelets through one edge link: 20k cycles dominate 40 kB at 1.2 Tb/s (~293 cycles at 1.1 GHz).
    assert runtime.host_io_cycles == 20_000 + 2


def test_cycle_engine_refuses_latencies_it_does_not_model(wse2):
    slow = wse2.model_copy(update={"router": wse2.router.model_copy(update={"hop_latency_cycles": 2})})
    program = Program(slow, 2, 2, FP16)
    with pytest.raises(WafersimError, match="hop_latency_cycles=2"):
        Runtime(program, "cycle")
    Runtime(program, "fast")  # the analytic model takes any latency
