"""The closed-form cycle counts stay within 5% of the fast engine over a sweep of kernels, shapes and grids."""

import pytest

from wafersim.catalog.fabric_arch import load_arch
from wafersim.fabric.kernels.registry import kernel_cycles
from wafersim.perf.wafer.closed_form import kernel_closed_form

GRIDS = [(1, 1), (1, 7), (4, 4), (8, 30), (33, 17), (64, 64), (100, 200), (300, 762)]
CASES = [
    ("meshgemv", r, c, {"m": m, "n": n})
    for r, c in GRIDS
    for m, n in ((64, 64), (1000, 3000), (6144, 4096))
    if -(-m // r) * -(-n // c) <= 12_000  # the kernel must fit one PE's SRAM
]
CASES += [
    (k, r, c, {"n": n})
    for r, c in GRIDS
    for k in ("rmsnorm", "softmax")
    for n in (4096, 8192)
    if 3 * 2 * -(-n // c) <= 40_000  # three fp16 vectors per PE
]
CASES += [("elementwise", r, c, {"n": 4096 * r}) for r, c in GRIDS]
CASES += [("allreduce-ktree", r, c, {"n": 37}) for r, c in GRIDS]
CASES += [("meshgemm", p, p, {"m": 64 * p, "k": 48 * p, "n": 32 * p}) for p in (1, 2, 3, 8, 16)]
# Prefill shapes (issue 9): a chunk of tokens (few per PE row, not a multiple of p) through a projection.
CASES += [("meshgemm", p, p, {"m": 3 * p + 5, "k": 10 * p, "n": 15 * p}) for p in (5, 12, 24)]


@pytest.mark.parametrize("arch_name", ["wse-2", "wse-3"])
@pytest.mark.parametrize("name,rows,cols,shape", CASES)
def test_closed_form_within_5_percent_of_fast_engine(arch_name, name, rows, cols, shape):
    arch = load_arch(arch_name)
    rows, cols = min(rows, arch.fabric.program_height_pes), min(cols, arch.fabric.program_width_pes)
    reference = kernel_cycles(name, arch, rows, cols, **shape)
    predicted = kernel_closed_form(name, arch, rows, cols, **shape)
    assert abs(predicted - reference) <= 0.05 * reference, (reference, predicted)


def test_closed_form_scales_with_clock_free_machine_constants():
    """Changing the hop latency changes the closed form the way it changes the engine (no fitted factor)."""
    arch = load_arch("wse-3")
    slow = arch.model_copy(update={"router": arch.router.model_copy(update={"hop_latency_cycles": 3})})
    for a in (arch, slow):
        ref = kernel_cycles("meshgemv", a, 64, 64, m=4096, n=4096)
        assert abs(kernel_closed_form("meshgemv", a, 64, 64, m=4096, n=4096) - ref) <= 0.05 * ref
    assert kernel_closed_form("meshgemv", slow, 64, 64, m=4096, n=4096) > kernel_closed_form(
        "meshgemv", arch, 64, 64, m=4096, n=4096
    )


def test_region_gemm_runs_meshgemm_on_squares_side_by_side():
    """A region q times as long as wide runs q MeshGEMMs on p x p squares, each on n / q output columns."""
    from wafersim.perf.wafer.closed_form import meshgemm, meshgemm_transposed, region_gemm

    arch = load_arch("wse-2")
    assert region_gemm(arch, 40, 130, 512, 4096, 6144) == meshgemm(arch, 40, 512, 4096, 2048)
    assert region_gemm(arch, 40, 40, 512, 4096, 6144, transposed=True) == meshgemm_transposed(
        arch, 40, 512, 4096, 6144
    )
    # Batched heads share one schedule: cheaper than running them one after another.
    one = meshgemm_transposed(arch, 64, 256, 128, 1024)
    assert meshgemm_transposed(arch, 64, 256, 128, 1024, batch=8).cycles < 8 * one.cycles


@pytest.mark.parametrize("arch_name", ["wse-2", "wse-3"])
@pytest.mark.parametrize(
    "p,m,k,n",
    [
        (1, 64, 48, 32),
        (2, 64, 48, 32),
        (3, 100, 60, 90),
        (8, 512, 384, 256),
        (12, 41, 120, 180),
        (24, 77, 240, 360),
    ],
)
def test_transposed_meshgemm_closed_form_within_5_percent_of_fast_engine(arch_name, p, m, k, n):
    """The prefill's weight-stationary projections and Q K^T: the closed form against the schedule's timing on
    the fast engine (`schedules.py`; the library has no transposed MeshGEMM kernel)."""
    from wafersim.perf.wafer.closed_form import meshgemm_transposed
    from wafersim.perf.wafer.schedules import meshgemm_transposed_cycles

    arch = load_arch(arch_name)
    reference = meshgemm_transposed_cycles(arch, p, m, k, n)
    assert abs(meshgemm_transposed(arch, p, m, k, n).cycles - reference) <= 0.05 * reference


@pytest.mark.parametrize("arch_name", ["wse-2", "wse-3"])
def test_ktree_line_closed_form_is_exact(arch_name):
    """On one line the K-tree's closed form equals the fast engine cycle for cycle, with the groups centred
    (short vectors) or rooted at their ends (long ones), one group or many, the join switching or not."""
    from wafersim.fabric.dtypes import dtype_named
    from wafersim.fabric.kernels.collectives import centre_groups
    from wafersim.perf.wafer.closed_form import ktree_allreduce_line

    arch = load_arch(arch_name)
    centred = set()
    for length in (2, 3, 5, 12, 31, 34, 64, 101, 400, 750):
        for n in (1, 8, 37, 400):
            reference = kernel_cycles("allreduce-ktree", arch, 1, length, n=n)
            assert ktree_allreduce_line(arch, length, n) == reference, (length, n)
            centred.add(centre_groups(arch, length, n, dtype_named("fp16")))
    assert centred == {True, False}
