import numpy as np
import pytest

from wafersim.errors import WafersimError
from wafersim.fabric.dtypes import FP16, FP32
from wafersim.fabric.patterns import Multicast, Shift, Stream
from wafersim.fabric.program import Program, Step
from wafersim.fabric.runtime import Runtime


def test_sram_overflow_names_pe_symbol_and_sizes(wse2):
    program = Program(wse2, 2, 2, FP16)
    program.symbol("A", 20_000)
    with pytest.raises(WafersimError, match=r"PE \(x=0, y=0\).*symbol 'B'.*> 49152 B"):
        program.symbol("B", 5_000)


def test_kernel_that_does_not_fit_sram_is_refused(wse2):
    from wafersim.fabric.kernels.registry import run_kernel

    with pytest.raises(WafersimError, match="SRAM"):
        run_kernel("gemv", wse2, 2, 2, "fp16", m=512, n=512)


def _stream_steps(colors):
    return [Step(f"s{c}", patterns=(Stream(f"s{c}", "x", 0, 1, "a", "b", 1, c),)) for c in colors]


def test_more_colors_than_the_fabric_routes(wse2):
    program = Program(wse2, 1, 2, FP32)
    program.symbol("a", 1)
    program.symbol("b", 1)
    program.function("f", _stream_steps(range(19)))
    with pytest.raises(WafersimError, match="uses 19 colors.*24 colors.*color 18 is one too many"):
        Runtime(program)
    program.function("f", _stream_steps([24]))
    with pytest.raises(WafersimError, match="color 24 is not a routable color"):
        Runtime(program)


@pytest.mark.parametrize("engine", ["cycle", "fast"])
def test_conflicting_routes_name_pe_and_color(wse2, engine):
    program = Program(wse2, 3, 3, FP32)
    for sym in ("a", "b", "c"):
        program.symbol(sym, 4)
    both = Step(
        "clash",
        patterns=(Multicast("rows", "x", 0, "a", "b", 4, 7, 3), Multicast("cols", "y", 0, "a", "c", 4, 7, 3)),
    )
    program.function("f", [both])
    with pytest.raises(WafersimError, match=r"conflicting routes at PE \(x=0, y=0\) on color 7"):
        Runtime(program, engine)


def test_same_symbol_written_by_two_operations_of_a_step(wse2):
    program = Program(wse2, 1, 3, FP32)
    program.symbol("a", 4)
    program.symbol("b", 4)
    program.function(
        "f",
        [
            Step(
                "race",
                patterns=(Stream("s1", "x", 0, 1, "a", "b", 4, 0), Stream("s2", "x", 2, 1, "a", "b", 4, 1)),
            )
        ],
    )
    with pytest.raises(WafersimError, match="split them into two steps"):
        Runtime(program)


def _starved(arch, recv_n):
    program = Program(arch, 2, 4, FP32)
    program.symbol("a", 16)
    program.symbol("b", 16)
    program.function("f", [Step("starve", patterns=(Stream("s", "x", 0, 3, "a", "b", 8, 5, recv_n=recv_n),))])
    return program


@pytest.mark.parametrize("engine", ["cycle", "fast"])
def test_deadlock_when_a_receiver_waits_for_wavelets_never_sent(wse2, engine):
    runtime = Runtime(_starved(wse2, 12), engine, deadlock_window_cycles=50)
    with pytest.raises(WafersimError, match=r"deadlock.*PE \(x=3, y=0\).*receive.*color 5"):
        runtime.launch("f")


@pytest.mark.parametrize("engine", ["cycle", "fast"])
def test_deadlock_when_wavelets_are_never_received(wse2, engine):
    runtime = Runtime(_starved(wse2, 4), engine, deadlock_window_cycles=50)
    with pytest.raises(WafersimError, match=r"deadlock.*color 5.*PE \(x=3, y=0\)"):
        runtime.launch("f")


def test_route_off_the_edge_and_unrouted_wavelets(wse2):
    program = Program(wse2, 1, 3, FP32)
    program.symbol("a", 2)
    program.symbol("b", 2)
    with pytest.raises(WafersimError, match="outside the line"):
        program.function("f", [Step("s", patterns=(Stream("s", "x", 0, 3, "a", "b", 2, 0),))])
        Runtime(program)


def test_bad_shapes_and_grids(wse2):
    from wafersim.fabric.kernels.registry import parse_grid, run_kernel

    with pytest.raises(WafersimError, match="square grid"):
        run_kernel("meshgemm", wse2, 2, 3)
    with pytest.raises(WafersimError, match="grid '3by3'"):
        parse_grid("3by3", wse2)
    with pytest.raises(WafersimError, match="does not fit the wse-2 program rectangle"):
        run_kernel("broadcast", wse2, 995, 2)
    with pytest.raises(WafersimError, match="n must be >= 1"):
        run_kernel("broadcast", wse2, 2, 2, n=0)
    with pytest.raises(WafersimError, match="unknown kernel"):
        run_kernel("fft", wse2, 2, 2)
    with pytest.raises(WafersimError, match="takes shape parameters"):
        run_kernel("broadcast", wse2, 2, 2, m=3)


def test_shift_in_place_needs_disjoint_windows(wse2):
    program = Program(wse2, 1, 2, FP32)
    program.symbol("a", 4)
    program.function("f", [Step("s", patterns=(Shift("s", "x", (1, 0), "a", "a", 4, (0, 1)),))])
    with pytest.raises(WafersimError, match="overlapping windows"):
        Runtime(program)
    assert np.all(program.new_memory()["a"] == 0)


def test_host_memory_is_checked_before_allocating(wse2, monkeypatch):
    from wafersim.fabric.kernels import base
    from wafersim.fabric.kernels.registry import run_kernel

    monkeypatch.setattr("wafersim.fabric.runtime.host_memory_bytes", lambda: 1 << 20)
    with pytest.raises(WafersimError, match="GiB of host memory for the PEs' SRAM images"):
        run_kernel("meshgemv", wse2, 8, 8, m=1024, n=1024)
    monkeypatch.setattr("wafersim.fabric.runtime.host_memory_bytes", lambda: 128 << 20)
    monkeypatch.setattr(base, "host_memory_bytes", lambda: 128 << 20)
    with pytest.raises(WafersimError, match="inputs need about 0.2 GiB"):
        run_kernel("gemv", wse2, 64, 64, m=4096, n=4096)


def test_patterns_on_disjoint_lines_may_share_a_color(wse2):
    program = Program(wse2, 4, 3, FP32)
    for sym in ("a", "b", "c"):
        program.symbol(sym, 2)
    dest = (1, 2, -1)
    upper = Shift("upper", "x", dest, "a", "b", 2, (3, 4), lines=(0, 1))
    lower = Shift("lower", "x", dest, "a", "c", 2, (3, 4), lines=(2, 3))
    program.function("f", [Step("halves", patterns=(upper, lower))])
    Runtime(program, "cycle").launch("f")
    clash = Shift("clash", "x", dest, "a", "c", 2, (3, 4), lines=(1, 2))
    program.function("f", [Step("overlap", patterns=(upper, clash))])
    with pytest.raises(WafersimError, match=r"conflicting routes at PE \(x=0, y=1\) on color 3"):
        Runtime(program, "fast")
