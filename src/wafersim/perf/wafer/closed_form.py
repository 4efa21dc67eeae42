"""Closed-form cycle counts of the fabric kernels, derived from the fast engine's machine model.

The fast engine (`wafersim.fabric.fast_engine`) times a step as the longer of its local computation and its
streams; a stream of n wavelets through relay stages of h_i hops costs  sum_i(h_i * hop + 2 * ramp) + n
(latency plus one wavelet per cycle). Local vector work costs ceil(length / SIMD width) per instruction
(`wafersim.fabric.costs`). The formulas below write the same steps down for the kernels the LLM mapping uses,
so the placement search can price thousands of candidates without building programs; `kernel_cycles` on the
fast engine stays the reference and `tests/perf/wafer/test_closed_form.py` holds these within 5% of it over a
sweep of shapes and grids. No constant here is fitted: hop, ramp and SIMD widths come from the architecture.

Batching: a batch of b vectors multiplied by one resident matrix costs b local GEMVs and reduces b partial
vectors, which is what `meshgemv` with m = b * M costs (the partial results are just longer); `tokens=b`
expresses that directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from wafersim.catalog.fabric_arch import FabricArch
from wafersim.fabric.costs import vector_cycles
from wafersim.fabric.dtypes import dtype_named
from wafersim.fabric.kernels.collectives import centre_groups, first_phase_cycles, ktree_groups, ktree_roots
from wafersim.fabric.kernels.rowwise import EXP_VECTOR_PASSES, RECIPROCAL_SCALAR_OPS, RSQRT_SCALAR_OPS

_TABLES: list[dict] = []


def clear_caches() -> None:
    """Forget every memoised closed form (benchmarks time a cold search)."""
    for table in _TABLES:
        table.clear()


def arch_cache(fn):
    """Memoise a pure function of (arch, ints...) keyed on the arch's identity: hashing the pydantic
    architecture model on every call costs more than the formulas. The arch is kept in the entry, so an id
    is never reused while its entry lives."""
    table: dict = {}
    _TABLES.append(table)

    def wrapper(arch, *args, **kwargs):
        key = (id(arch), *args, *sorted(kwargs.items()))
        found = table.get(key)
        if found is None or found[0] is not arch:
            if len(table) > 200_000:
                table.clear()
            found = table[key] = (arch, fn(arch, *args, **kwargs))
        return found[1]

    wrapper.__doc__, wrapper.__name__, wrapper.__wrapped__ = fn.__doc__, fn.__name__, fn
    return wrapper


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Cost:
    """Cycles of a sequence of steps, split by what bounds each step: local work or fabric streams."""

    compute_cycles: int = 0
    fabric_cycles: int = 0

    @property
    def cycles(self) -> int:
        return self.compute_cycles + self.fabric_cycles

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.compute_cycles + other.compute_cycles, self.fabric_cycles + other.fabric_cycles)

    def times(self, factor: int) -> Cost:
        return Cost(self.compute_cycles * factor, self.fabric_cycles * factor)


ZERO = Cost()


def _hop_ramp(arch: FabricArch) -> tuple[int, int]:
    return arch.router.hop_latency_cycles, arch.router.ramp_latency_cycles


@arch_cache
def vec(arch: FabricArch, op: str, length: int, dtype: str = "fp16") -> int:
    """One vector instruction over `length` contiguous elements."""
    return vector_cycles(arch, op, dtype_named(dtype), length)


@lru_cache(maxsize=4096)
def _ktree_shape(length: int) -> int:
    """Largest group of the two-level K-tree on a line (collectives.py)."""
    return max(len(g) for g in ktree_groups(length))


@arch_cache
def ktree_allreduce_line(arch: FabricArch, length: int, n: int, dtype: str = "fp16") -> int:
    """K-tree allreduce of n `dtype` elements along every line of `length` PEs: group chains (toward each
    group's middle when that is cheaper, collectives.centre_groups), root chains toward the middle of the
    line, their join, multicast back from the middle (collectives.reduce_steps)."""
    if length <= 1 or n <= 0:
        return 0
    hop, ramp = _hop_ramp(arch)
    kind = dtype_named(dtype)
    centred = centre_groups(arch, length, n, kind)
    chain = first_phase_cycles(arch, _ktree_shape(length), n, kind, centred)
    roots = ktree_roots(length, centred)
    if len(roots) == 1:
        root = roots[0]
        reach = max(root, length - 1 - root)
        return chain + reach * hop + 2 * ramp + n
    if len(roots) < 4:
        up = (roots[-1] - roots[0]) * hop + (len(roots) - 1) * 2 * ramp + n
        return chain + up + max(roots[-1], length - 1 - roots[-1]) * hop + 2 * ramp + n
    middle = (len(roots) - 1) // 2
    west = (roots[middle] - roots[0]) * hop + middle * 2 * ramp
    east = (roots[-1] - roots[middle + 1]) * hop + (len(roots) - middle - 2) * 2 * ramp
    # The root chains' stages alternate colors 2 and 3 from each end; where a color-2 stage ends at a joining
    # root, the join reuses color 2 on another route there: one control wavelet switches it (switching.py).
    switch = (middle - 1) % 2 == 0 or (len(roots) - middle - 3) % 2 == 0
    join = (roots[middle + 1] - roots[middle]) * hop + 2 * ramp + n + switch
    root = roots[middle]
    bcast = max(root, length - 1 - root) * hop + 2 * ramp + n
    return chain + max(west, east) + n + join + bcast


def multicast_line(arch: FabricArch, length: int, n: int) -> int:
    """One PE's n elements to every PE of its line, root at one end."""
    if length <= 1 or n <= 0:
        return 0
    hop, ramp = _hop_ramp(arch)
    return (length - 1) * hop + 2 * ramp + n


def stream(arch: FabricArch, hops: int, n: int) -> int:
    """A point-to-point stream of n wavelets over `hops` hops."""
    if n <= 0:
        return 0
    hop, ramp = _hop_ramp(arch)
    return hops * hop + 2 * ramp + n


@arch_cache
def meshgemv(arch: FabricArch, rows: int, cols: int, m: int, n: int, tokens: int = 1) -> Cost:
    """WaferLLM MeshGEMV of an m x n matrix tiled over rows x cols PEs, for `tokens` vectors at once.

    The reduction runs along the rows (lines of `cols` PEs); call with rows and cols swapped for the transposed
    orientation (input split over rows, reduction along columns), as consecutive GEMVs alternate.
    """
    mb, nb = ceil_div(m, rows), ceil_div(n, cols)
    local = tokens * nb * vec(arch, "fma", mb)
    return Cost(local, ktree_allreduce_line(arch, cols, tokens * mb))


def allreduce_ktree_2d(arch: FabricArch, rows: int, cols: int, n: int) -> Cost:
    """The registry's `allreduce-ktree`: along the rows, then along the columns."""
    return Cost(0, ktree_allreduce_line(arch, cols, n) + ktree_allreduce_line(arch, rows, n))


@arch_cache
def rmsnorm(arch: FabricArch, cols: int, n: int, tokens: int = 1) -> Cost:
    """RMSNorm of `tokens` vectors of n elements split over `cols` columns (statistic by K-tree allreduce)."""
    nb = ceil_div(n, cols)
    sumsq = tokens * vec(arch, "mixed_fma", nb)
    scale = tokens * (RSQRT_SCALAR_OPS + 2 * vec(arch, "mul", nb))
    return Cost(sumsq + scale, ktree_allreduce_line(arch, cols, tokens, "fp32"))  # the fp32 statistic


@arch_cache
def softmax(arch: FabricArch, cols: int, n: int, tokens: int = 1) -> Cost:
    """Row-wise softmax of `tokens` rows of n elements split over `cols` columns (max, exp-sum, normalise)."""
    nb = ceil_div(n, cols)
    local = tokens * (
        vec(arch, "add", nb)
        + (1 + EXP_VECTOR_PASSES) * vec(arch, "fma", nb)
        + vec(arch, "mixed_fma", nb)
        + RECIPROCAL_SCALAR_OPS
        + vec(arch, "mul", nb)
    )
    return Cost(local, 2 * ktree_allreduce_line(arch, cols, tokens, "fp32"))  # fp32 max and sum


def elementwise(arch: FabricArch, rows: int, cols: int, n: int, op: str = "add") -> Cost:
    return Cost(vec(arch, op, ceil_div(n, rows * cols)), 0)


@arch_cache
def meshgemm(arch: FabricArch, p: int, m: int, k: int, n: int, batch: int = 1) -> Cost:
    """WaferLLM MeshGEMM on a p x p grid: Cannon's initial alignment on the fabric (p - 1 neighbour-shift steps
    on the lines still turning, then a local copy on the odd lines), then p rounds of block product, in the first
    p - 1 of which the interleaved-ring shift (<= 2 hops) streams concurrently, so each costs the larger of the
    two. Both operands are aligned on the fabric, as the library kernel does for activations arriving unskewed;
    weights placed pre-aligned by the host would save the B half.
    `batch` independent GEMMs of the same shape (attention heads) share the schedule: every step carries all
    their blocks (the kernel's cost with batch = 1)."""
    mb, kb, nb = ceil_div(m, p), ceil_div(k, p), ceil_div(n, p)
    product = batch * nb * kb * vec(arch, "fma", mb)
    if p == 1:
        return Cost(product, 0)
    hop, ramp = _hop_ramp(arch)
    # A moves along x and B along y; each PE's ramp carries both sends, so the step streams mb*kb + kb*nb.
    reach = 2 if p > 2 else 1
    shift = reach * hop + 2 * ramp + batch * (mb * kb + kb * nb)
    # A PE on an odd row and an odd column copies both blocks back (at the add width, as the kernel charges).
    gather = vec(arch, "add", batch * mb * kb) + vec(arch, "add", batch * kb * nb)
    rounds = Cost(product, 0) if product >= shift else Cost(0, shift)
    return Cost(product + gather, (p - 1) * shift) + rounds.times(p - 1)


@arch_cache
def meshgemm_transposed(arch: FabricArch, p: int, m: int, k: int, n: int, batch: int = 1) -> Cost:
    """C = A B^T (A m x k, B n x k, both split by rows over the grid's rows and by k over its columns), the
    transposed MeshGEMM WaferLLM uses for Q K^T (section 4.1) so that K is never transposed on the fabric.

    Same schedule as `meshgemm` with the roles changed: A stays, B's blocks (nb x kb) travel the interleaved
    ring along x and the partial C blocks (mb x nb) along y, each <= 2 hops per step; p block products with
    the same FMAs. No initial alignment of C is needed (it starts at zero); B is aligned as in MeshGEMM."""
    mb, kb, nb = ceil_div(m, p), ceil_div(k, p), ceil_div(n, p)
    product = batch * nb * kb * vec(arch, "fma", mb)
    if p == 1:
        return Cost(product, 0)
    hop, ramp = _hop_ramp(arch)
    reach = 2 if p > 2 else 1
    align = (p - 1) * (reach * hop + 2 * ramp + batch * kb * nb)
    shift = reach * hop + 2 * ramp + batch * (nb * kb + mb * nb)
    gather = vec(arch, "add", batch * kb * nb)
    return Cost(p * product + gather, align + (p - 1) * shift)


def region_gemm(
    arch: FabricArch, rows: int, cols: int, m: int, k: int, n: int, transposed: bool = False, batch: int = 1
) -> Cost:
    """A GEMM on a rows x cols region: MeshGEMM runs on p x p squares (p = the shorter side); a region q times
    as long holds q squares side by side, each computing n / q of the output columns with its own weight
    columns (the activation is multicast to every square by the hand-off). Columns past q * p stay idle."""
    p = min(rows, cols)
    q = max(rows, cols) // p
    kernel = meshgemm_transposed if transposed else meshgemm
    return kernel(arch, p, m, k, ceil_div(n, q), batch)


# The kernels with a closed form, by their name in the fabric's kernel registry (`wafersim.fabric.KERNELS`):
# (arch, rows, cols, shape) -> the cost of one invocation.
CLOSED_FORMS: dict[str, Callable[[FabricArch, int, int, dict[str, int]], Cost]] = {
    "meshgemv": lambda arch, rows, cols, s: meshgemv(arch, rows, cols, s["m"], s["n"]),
    "allreduce-ktree": lambda arch, rows, cols, s: allreduce_ktree_2d(arch, rows, cols, s["n"]),
    "rmsnorm": lambda arch, rows, cols, s: rmsnorm(arch, cols, s["n"]),
    "softmax": lambda arch, rows, cols, s: softmax(arch, cols, s["n"]),
    "elementwise": lambda arch, rows, cols, s: elementwise(arch, rows, cols, s["n"]),
    "meshgemm": lambda arch, rows, cols, s: meshgemm(arch, rows, s["m"], s["k"], s["n"]),
}


def kernel_closed_form(name: str, arch: FabricArch, rows: int, cols: int, **shape: int) -> int:
    """Closed-form cycles for a registry kernel name (what the agreement test compares to `kernel_cycles`)."""
    if (
        name == "meshgemm-t"
    ):  # prefill's transposed MeshGEMM: a schedule (perf/wafer/schedules.py), not a kernel
        return meshgemm_transposed(arch, rows, shape["m"], shape["k"], shape["n"]).cycles
    return CLOSED_FORMS[name](arch, rows, cols, shape).cycles
