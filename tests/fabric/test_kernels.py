import numpy as np
import pytest

from wafersim.fabric.kernels.collectives import ktree_groups
from wafersim.fabric.kernels.registry import KERNELS, kernel_cycles, run_kernel


@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize("dtype", ["fp16", "fp32"])
def test_kernel_matches_numpy(wse3, name, dtype):
    result = run_kernel(name, wse3, 5, 5, dtype, "fast", seed=3)
    assert result.max_rel_err < (5e-3 if dtype == "fp16" else 1e-5)
    assert result.cycles > 0 and result.time_s == pytest.approx(result.cycles / 1.1e9)
    assert result.sram_peak_bytes_per_pe > 0
    assert result.busy_cycles.shape == (5, 5)
    assert (result.busy_cycles <= result.cycles).all()


def test_kernel_outputs_are_really_checked(wse3):
    """max_rel_err compares with NumPy: corrupting one output must show up."""
    result = run_kernel("meshgemv", wse3, 4, 4, "fp32", "fast", seed=0)
    from wafersim.fabric.kernels.base import max_rel_err

    broken = {"y": result.outputs["y"].copy()}
    broken["y"][3] += 1.0
    assert max_rel_err(broken, result.reference) > 1e-2


@pytest.mark.parametrize("name", ["gemv", "meshgemm", "allreduce-ktree", "softmax"])
def test_kernel_cycles_equals_a_run(wse2, name):
    assert kernel_cycles(name, wse2, 4, 4, "fp16") == run_kernel(name, wse2, 4, 4, "fp16", "fast").cycles


def test_seed_is_recorded_and_reproducible(wse2):
    a = run_kernel("gemv", wse2, 2, 3, seed=11)
    b = run_kernel("gemv", wse2, 2, 3, seed=11)
    assert a.seed == 11 and np.array_equal(a.outputs["y"], b.outputs["y"])


def test_wse3_simd_is_bound_by_its_sram_ports(wse2, wse3):
    """WSE-3 doubled the fp16 SIMD width (8 vs 4) but not the SRAM bandwidth per PE (two 64-bit reads, one
    64-bit write): a GEMV streaming its weights runs at the ports' 4 FMAs per cycle on both, while a dot product
    (@fmachs: nothing written per element) gains WSE-3's wider SIMD."""
    from wafersim.fabric.costs import vector_cycles
    from wafersim.fabric.dtypes import FP16

    assert kernel_cycles("meshgemv", wse3, 8, 8, m=512, n=512) == kernel_cycles(
        "meshgemv", wse2, 8, 8, m=512, n=512
    )
    assert vector_cycles(wse3, "fma", FP16, 64) == vector_cycles(wse2, "fma", FP16, 64) == 16
    assert vector_cycles(wse3, "mixed_fma", FP16, 64) == 16 < vector_cycles(wse2, "mixed_fma", FP16, 64) == 32


def test_meshgemm_shift_beats_cannon_wraparound_on_wide_grids(wse2):
    """WaferLLM's point: interleaved rings keep every shift at <= 2 hops; Cannon's wrap crosses the line."""
    from wafersim.fabric.dtypes import FP16
    from wafersim.fabric.kernels.base import program_cycles
    from wafersim.fabric.kernels.gemm import build_cannon

    shape = {"m": 64, "k": 64, "n": 64}
    cannon = kernel_cycles("gemm-cannon", wse2, 32, 32, **shape)
    mesh = kernel_cycles("meshgemm", wse2, 32, 32, **shape)
    # The saving is the wrap-around's extra hops (31 - 2) in each of 31 alignment and 31 rolling shifts.
    assert cannon - mesh == (31 + 31) * (31 - 2)
    hosted = {
        interleaved: build_cannon(wse2, 32, 32, FP16, 64, 64, 64, interleaved, skew="host")
        for interleaved in (False, True)
    }
    cannon_hosted, mesh_hosted = (program_cycles(b.program, b.function) for b in hosted.values())
    assert cannon_hosted - mesh_hosted == 31 * (31 - 2)
    assert cannon_hosted < cannon


@pytest.mark.parametrize("interleaved", [False, True])
@pytest.mark.parametrize("engine", ["cycle", "fast"])
def test_cannon_alignment_on_fabric_and_from_host_give_the_same_product(wse2, interleaved, engine):
    from wafersim.fabric.dtypes import FP32
    from wafersim.fabric.kernels.base import run_built
    from wafersim.fabric.kernels.gemm import build_cannon

    results = [
        run_built(build_cannon(wse2, 5, 5, FP32, 20, 15, 10, interleaved, skew), "cannon", engine, 9)
        for skew in ("fabric", "host")
    ]
    assert all(r.max_rel_err < 1e-6 for r in results)
    assert results[0].cycles > results[1].cycles


def test_ktree_beats_pipeline_on_long_lines_with_short_vectors(wse2):
    ktree = kernel_cycles("allreduce-ktree", wse2, 1, 400, n=8)
    pipeline = kernel_cycles("allreduce-pipeline", wse2, 1, 400, n=8)
    multicast_back = 8 + 399 + 2
    # pipeline: one chain of 399 relay stages of 1 hop + 2 ramp crossings
    assert pipeline == 8 + 399 * 3 + multicast_back
    # K-tree: 20 groups of 20, each reducing toward its middle PE (index 10): 10 stages of 3 from the west, 9
    # from the east, the root's ramp taking the east half's 8 wavelets after the west half's, then one fp16
    # add of 8 elements (2 cycles at 4 per cycle). The roots at 10, 30, .., 390 reduce from both ends toward
    # the middle (9 stages of 20 hops + 2 ramp crossings west, 8 east), the halves join (20 hops + 2 ramps +
    # one control wavelet switching color 2's routes), and the root at 190 multicasts (209 hops east).
    assert ktree == (max(10 * 3 + 8, 9 * 3 + 16) + 2) + (8 + 180 + 9 * 2) + (8 + 20 + 2 + 1) + (8 + 209 + 2)
    assert ktree < 0.35 * pipeline


def _line_cycles(arch, length, n, centred, monkeypatch):
    """allreduce-ktree on a 1 x length line with the group roots forced to the middle or the end."""
    from wafersim.fabric.kernels import collectives
    from wafersim.fabric.kernels.base import program_cycles
    from wafersim.fabric.kernels.registry import build_kernel

    monkeypatch.setattr(collectives, "centre_groups", lambda *args: centred)
    built = build_kernel("allreduce-ktree", arch, 1, length, "fp16", n=n)
    steps = {
        step.name: _step_cycles(built.program, built.function, step.name)
        for step in built.program.functions[built.function]
    }
    return program_cycles(built.program, built.function), steps


def _step_cycles(program, function, name):
    from wafersim.fabric.fast_engine import step_cycles
    from wafersim.fabric.switching import switched_colors

    steps = program.functions[function]
    switched = switched_colors(program, function)
    index = [step.name for step in steps].index(name)
    return step_cycles(program, steps[index], switched[index])[0]


def test_centred_groups_save_the_far_half_of_each_group_chain(wse3, monkeypatch):
    """WaferLLM roots each group in its middle (run_wse2.sh root_1st_phase = group size / 2): on a line of 600
    (24 groups of 25) with 4-element vectors the group phase takes 12 relay stages instead of 24, while the
    root's ramp takes the second half's wavelets and one add joins the halves."""
    end_total, end = _line_cycles(wse3, 600, 4, False, monkeypatch)
    mid_total, mid = _line_cycles(wse3, 600, 4, True, monkeypatch)
    stage = wse3.router.hop_latency_cycles + 2 * wse3.router.ramp_latency_cycles
    assert end["row:chain"] == 24 * stage + 4
    assert mid["row:chain"] == max(12 * stage + 4, 12 * stage + 2 * 4)
    assert mid["row_l1:halves"] == 1  # 4 fp16 elements in one SIMD cycle
    assert end["row:chain"] - (mid["row:chain"] + mid["row_l1:halves"]) == 12 * stage - 4 - 1
    # The roots move from group ends (24, 49, .., 599) to middles (12, 37, .., 587): the same root chains,
    # and a multicast from 287 (312 hops east) instead of 299 (300 hops east).
    assert end["row:roots"] == mid["row:roots"] and end["row:join"] == mid["row:join"]
    assert mid["row:bcast"] - end["row:bcast"] == 12
    assert end_total - mid_total == (12 * stage - 5) - 12
    monkeypatch.undo()
    assert kernel_cycles("allreduce-ktree", wse3, 1, 600, n=4) == mid_total  # the kernel centres here


def test_long_vectors_keep_the_group_root_at_the_end(wse3):
    """The centred root takes 2n wavelets through its ramp: past a few hundred elements the saved stages no
    longer pay for them, and the kernel keeps the end root (its choice is the cheaper group phase)."""
    from wafersim.fabric.dtypes import dtype_named
    from wafersim.fabric.kernels.collectives import centre_groups, first_phase_cycles

    fp16 = dtype_named("fp16")
    assert centre_groups(wse3, 600, 4, fp16)
    assert not centre_groups(wse3, 600, 400, fp16)
    assert first_phase_cycles(wse3, 25, 400, fp16, False) < first_phase_cycles(wse3, 25, 400, fp16, True)


def test_ktree_groups_cover_the_line():
    for length in range(2, 200):
        groups = ktree_groups(length)
        assert [p for g in groups for p in g] == list(range(length))
        assert all(len(g) >= 2 for g in groups)


def test_full_wafer_meshgemv_cycles_are_cheap_to_get(wse3):
    cycles = kernel_cycles("meshgemv", wse3, 1172, 762, m=8192, n=8192)
    # local GEMV: 11 columns x ceil(7/8) FMAs = 11 cycles; the rest is the row allreduce (~762 hops + stages)
    assert 762 < cycles < 2000


@pytest.mark.parametrize(("rows", "cols"), [(2, 3), (4, 6), (1, 4), (5, 1)])
def test_summa_runs_on_rectangular_grids(wse2, rows, cols):
    result = run_kernel("gemm-summa", wse2, rows, cols, "fp32", "fast", seed=4, m=23, k=29, n=31)
    assert result.max_rel_err < 1e-5
    assert result.outputs["C"].shape == (23, 31)


def test_summa_refuses_grids_with_too_many_panels(wse2):
    from wafersim.errors import WafersimError

    with pytest.raises(WafersimError, match="lcm"):
        run_kernel("gemm-summa", wse2, 127, 125)


def test_one_function_per_kernel_with_given_inputs(wse2):
    from wafersim.fabric.kernels import api

    matrix = np.arange(12.0).reshape(3, 4)
    vector = np.array([1.0, -1.0, 0.5, 2.0])
    result = api.meshgemv(
        wse2, 2, 2, m=3, n=4, dtype="fp32", engine="cycle", inputs={"A": matrix, "x": vector}
    )
    assert np.allclose(result.outputs["y"], matrix @ vector)
    product = api.meshgemm(wse2, 2, 2, m=4, k=4, n=4, dtype="fp32")
    assert product.max_rel_err < 1e-6 and product.cycles > 0
    for name in KERNELS:
        assert callable(getattr(api, name.replace("-", "_")))
