"""Routing limits: a router holds route_positions_per_color configurations per color; past that, programs are
refused (user programs) or kernels relay through cores (SUMMA) and pay for it; the GEMM ranking follows."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wafersim.errors import WafersimError
from wafersim.fabric.dtypes import FP32
from wafersim.fabric.kernels.gemm import summa_broadcast_plan
from wafersim.fabric.kernels.registry import kernel_cycles, run_kernel
from wafersim.fabric.patterns import Multicast
from wafersim.fabric.program import Program, Step
from wafersim.fabric.relays import RelayCast
from wafersim.fabric.runtime import Runtime
from wafersim.fabric.switching import positions_needed


def _fewer_positions(arch, positions: int):
    """The same machine with fewer switch positions per color: relays appear on grids the cycle engine runs."""
    return arch.model_copy(
        update={"router": arch.router.model_copy(update={"route_positions_per_color": positions})}
    )


def _multicasts(arch, roots, cols=6, n=4):
    program = Program(arch, 2, cols, FP32)
    program.symbol("a", n)
    program.symbol("b", n)
    steps = [
        Step(f"root{i}_{r}", patterns=(Multicast(f"m{i}", "x", r, "a", "b", n, 3, cols),))
        for i, r in enumerate(roots)
    ]
    program.function("f", steps)
    return program


def test_catalog_states_the_route_positions(wse2, wse3):
    for arch in (wse2, wse3):
        assert arch.router.route_positions_per_color == 4
        assert "switch positions" in arch.router.source


def test_positions_needed_is_the_shortest_period():
    assert positions_needed(["a"]) == 1
    assert positions_needed(["a", "b", "a", "b", "a"]) == 2
    assert positions_needed(["a", "a", "b", "c", "c"]) == 5
    assert positions_needed(["a", "b", "c", "d", "a", "b", "c", "d"]) == 4


@pytest.mark.parametrize("engine", ["cycle", "fast"])
def test_a_moving_multicast_root_beyond_the_positions_is_refused_naming_pe_and_color(wse2, engine):
    # Every root's control wavelet reaches every router of the line; PE x=0 goes root, then 4x 'east of it'.
    program = _multicasts(wse2, [0, 1, 2, 3, 4])
    runtime = Runtime(program, engine)
    with pytest.raises(WafersimError, match=r"PE \(x=0, y=0\) needs 5 route positions on color 3.*holds 4"):
        runtime.launch("f")


def test_a_periodic_switch_sequence_fits_and_runs(wse2):
    program = _multicasts(wse2, [0, 5, 0, 5, 0, 5])
    runtime = Runtime(program, "fast")
    runtime.memcpy_h2d("a", np.arange(2 * 6 * 4, dtype=float).reshape(2, 6, 4), 0, 0, 6, 2)
    assert runtime.launch("f").cycles > 0


def test_relayed_broadcast_agrees_and_pays_two_ramps_per_hop(wse2):
    rows, cols, n, root = 3, 8, 16, 3
    results = {}
    for kind in ("relay", "multicast"):
        program = Program(wse2, rows, cols, FP32)
        program.symbol("a", n)
        program.symbol("b", n)
        pattern = (
            RelayCast("r", "x", root, "a", "b", n, (0, 1, 2, 3), cols)
            if kind == "relay"
            else Multicast("m", "x", root, "a", "b", n, 0, cols)
        )
        program.function("f", [Step("bcast", patterns=(pattern,))])
        data = np.random.default_rng(1).standard_normal((rows, cols, n))
        for engine in ("cycle", "fast"):
            runtime = Runtime(program, engine)
            runtime.memcpy_h2d("a", data, 0, 0, cols, rows)
            stats = runtime.launch("f")
            out = runtime.memcpy_d2h("b", 0, 0, cols, rows)
            others = [x for x in range(cols) if x != root]
            assert np.array_equal(
                out[:, others], np.repeat(data[:, [root]], len(others), axis=1).astype(np.float32)
            )
            results[(kind, engine)] = stats
    for kind in ("relay", "multicast"):
        cycle, fast = results[(kind, "cycle")], results[(kind, "fast")]
        assert abs(cycle.cycles - fast.cycles) <= 0.05 * cycle.cycles
        assert np.array_equal(cycle.busy_cycles, fast.busy_cycles)
        assert np.array_equal(cycle.link_wavelets, fast.link_wavelets)
    far = cols - 1 - root
    # multicast: n + hops + 2 ramps; relayed: every hop through a core (hop + 2 ramps), root sending both ways
    assert results[("multicast", "cycle")].cycles == n + far + 2
    assert results[("relay", "fast")].cycles >= n + 3 * far


def test_summa_spreads_roots_over_colors_then_relays(wse2):
    assert summa_broadcast_plan(wse2, 32, 32) == {
        "x": ("multicast", tuple(range(8))),
        "y": ("multicast", tuple(range(8, 16))),
    }
    assert summa_broadcast_plan(wse2, 40, 40) == {
        "x": ("relay", (0, 1, 2, 3)),
        "y": ("multicast", tuple(range(4, 14))),
    }
    assert [kind for kind, _ in summa_broadcast_plan(wse2, 64, 64).values()] == ["relay", "relay"]


def test_summa_without_enough_colors_for_relays_is_refused(wse2):
    few = wse2.model_copy(update={"router": wse2.router.model_copy(update={"memcpy_reserved_colors": 18})})
    with pytest.raises(WafersimError, match="need 8 colors and wse-2 leaves 6"):
        summa_broadcast_plan(few, 64, 64)


def test_summa_result_names_its_relays(wse2):
    p = 40
    result = run_kernel("gemm-summa", wse2, p, p, "fp16", engine="fast", m=p, k=p, n=p)
    routing = result.summary()["routing"]
    # Row broadcasts relayed: per root r, every PE but the root and the line ends relays (r = 0, P-1: one end).
    per_line = sum(p - 2 - (0 < r < p - 1) for r in range(p))
    assert routing["relay_operations"] == p * per_line
    assert routing["relayed_wavelets"] == p * per_line * 1
    assert routing["route_positions_max"] <= routing["route_positions_per_color"] == 4
    assert result.max_rel_err < 5e-3
    mesh = run_kernel("meshgemm", wse2, 8, 8, "fp16", engine="fast", m=64, k=64, n=64).routing
    assert mesh["relay_operations"] == 0 and mesh["control_wavelets"] == 0


@pytest.mark.parametrize("arch_name", ["wse-2", "wse-3"])
def test_meshgemm_wins_at_64x64_for_1k_cubed(arch_name):
    cycles = {
        name: kernel_cycles(name, arch_name, 64, 64, "fp16", m=1024, k=1024, n=1024)
        for name in ("gemm-summa", "gemm-cannon", "meshgemm")
    }
    assert cycles["meshgemm"] < min(cycles["gemm-summa"], cycles["gemm-cannon"])


def test_summa_efficiency_falls_with_the_grid_while_meshgemm_leads(wse2):
    size = 1024
    ratio = {
        p: kernel_cycles("gemm-summa", wse2, p, p, m=size, k=size, n=size)
        / kernel_cycles("meshgemm", wse2, p, p, m=size, k=size, n=size)
        for p in (32, 64, 128)
    }
    assert ratio[32] < ratio[64] < ratio[128]
    assert ratio[64] > 1


def test_cycle_engine_ranks_meshgemm_first_where_summa_relays(wse2):
    arch = _fewer_positions(wse2, 1)  # 10 roots per axis > 18 colors / 2: SUMMA relays its row broadcasts
    assert summa_broadcast_plan(arch, 10, 10)["x"][0] == "relay"
    cycles = {}
    for name in ("gemm-summa", "meshgemm"):
        results = [
            run_kernel(name, arch, 10, 10, "fp16", engine=e, m=40, k=40, n=40) for e in ("cycle", "fast")
        ]
        cycle, fast = results
        assert np.array_equal(cycle.outputs["C"], fast.outputs["C"])
        assert abs(cycle.cycles - fast.cycles) <= 0.05 * cycle.cycles
        cycles[name] = cycle.cycles
    assert cycles["meshgemm"] < cycles["gemm-summa"]


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 7), st.integers(1, 3), st.data())
def test_relayed_broadcasts_agree_on_random_lines(wse2, length, lines, data):
    """Random roots, lengths and a concurrent relayed broadcast along the other axis."""
    root = data.draw(st.integers(0, length - 1))
    other_root = data.draw(st.integers(0, lines - 1))
    n = data.draw(st.integers(1, 12))
    steps = [
        Step(
            "bcast",
            patterns=(
                RelayCast("row", "x", root, "a", "b", n, (0, 1, 2, 3), length),
                RelayCast("col", "y", other_root, "a", "c", n, (4, 5, 6, 7), lines),
            ),
        )
    ]
    runs = {}
    for engine in ("cycle", "fast"):
        program = Program(wse2, lines, length, FP32)
        for sym in "abc":
            program.symbol(sym, n)
        program.function("f", steps)
        runtime = Runtime(program, engine)
        runtime.memcpy_h2d(
            "a", np.random.default_rng(n).standard_normal((lines, length, n)), 0, 0, length, lines
        )
        stats = runtime.launch("f")
        runs[engine] = (stats, [runtime.memcpy_d2h(s, 0, 0, length, lines) for s in "bc"])
    (cycle, cycle_out), (fast, fast_out) = runs["cycle"], runs["fast"]
    assert all(np.array_equal(a, b) for a, b in zip(cycle_out, fast_out, strict=True))
    assert np.array_equal(cycle.busy_cycles, fast.busy_cycles)
    assert np.array_equal(cycle.link_wavelets, fast.link_wavelets)
    assert abs(cycle.cycles - fast.cycles) <= max(2, 0.05 * cycle.cycles)
