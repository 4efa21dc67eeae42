"""Fabric simulator benchmarks (plain script; prints medians). Run from the repository root:

    .venv/bin/python benchmarks/bench_fabric.py            # both benchmarks, 3 repeats each
    .venv/bin/python benchmarks/bench_fabric.py --repeats 1

1. Cycle engine: PE-cycles simulated per second on a 32 x 32 grid (K-tree and ring allreduce, MeshGEMV
   2048 x 2048), i.e. grid PEs x simulated cycles / wall seconds.
2. Fast engine: MeshGEMV of a 16384 x 16384 fp16 matrix on the whole wse-3 program rectangle (1172 x 762 PEs),
   wall time of the whole run (random inputs, host copies, simulation, read-back), and the ratio of that wall
   time to NumPy's own GEMV of the same matrix (float32 BLAS, and float16 as NumPy computes it).
3. Timing only: kernel_cycles for whole-wafer MeshGEMV and a 762 x 762 MeshGEMM.
4. GEMM ranking (`--only gemm`, not part of the default run): SUMMA, Cannon and MeshGEMM cycles and efficiency
   (ideal fp16 FMA cycles of the grid / cycles) against grid size, with the routing each needs, for
   docs/fabric.md's comparison with WaferLLM's Fig. 9 (`--arch`, `--sizes`, `--grids`).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from wafersim.catalog.fabric_arch import load_arch
from wafersim.errors import WafersimError
from wafersim.fabric.kernels.registry import run_kernel


def _median(values: list[float]) -> float:
    return statistics.median(values)


def bench_cycle_engine(repeats: int) -> None:
    """Three 32 x 32 workloads: few PEs active per cycle (K-tree), every PE active every cycle (ring), and a
    compute-heavy one (MeshGEMV) whose local GEMV the engine skips over in one jump (nothing else can happen
    meanwhile), so its PE-cycles/s overstates the per-cycle rate."""
    arch = load_arch("wse-3")
    cases = (
        ("allreduce-ktree", {"n": 64}, repeats),
        ("allreduce-ring", {"n": 256}, 1),  # ~30 s per run on a 2-core machine
        ("meshgemv", {"m": 2048, "n": 2048}, repeats),
    )
    for name, shape, runs in cases:
        rates, walls, cycles = [], [], 0
        for _ in range(runs):
            start = time.perf_counter()
            result = run_kernel(name, arch, 32, 32, "fp16", "cycle", seed=0, **shape)
            wall = time.perf_counter() - start
            cycles = result.cycles
            walls.append(wall)
            rates.append(32 * 32 * cycles / wall)
        print(
            f"cycle engine 32x32 {name} {shape}: {cycles} cycles, median wall {_median(walls):.2f} s over "
            f"{runs} run(s), median {_median(rates):.3g} PE-cycles/s"
        )


def bench_fast_engine(repeats: int) -> None:
    arch = load_arch("wse-3")
    rows, cols = arch.fabric.program_height_pes, arch.fabric.program_width_pes
    size = 16384
    walls, cycles, err = [], 0, 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        result = run_kernel("meshgemv", arch, rows, cols, "fp16", "fast", seed=0, m=size, n=size)
        walls.append(time.perf_counter() - start)
        cycles, err = result.cycles, result.max_rel_err
        del result
    sim = _median(walls)
    print(
        f"fast engine meshgemv {size}x{size} fp16 on wse-3 full ({rows}x{cols}): {cycles} cycles "
        f"({cycles / arch.clock_hz * 1e6:.2f} us simulated), max_rel_err {err:.2e}, median wall {sim:.2f} s"
    )
    rng = np.random.default_rng(0)
    matrix = rng.random((size, size), dtype=np.float32)
    x32 = rng.random(size, dtype=np.float32)
    for label, a, x in (
        ("float32", matrix, x32),
        ("float16", matrix.astype(np.float16), x32.astype(np.float16)),
    ):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            a @ x
            times.append(time.perf_counter() - start)
        numpy_wall = _median(times)
        print(
            f"numpy {label} GEMV {size}x{size}: median {numpy_wall:.3f} s; fast engine / numpy = "
            f"{sim / numpy_wall:.1f}x"
        )


def bench_timing_only(repeats: int) -> None:
    """kernel_cycles: the cycle count alone (fast-engine timing, no data), what a mapping layer calls."""
    from wafersim.fabric.kernels.registry import kernel_cycles

    arch = load_arch("wse-3")
    cases = (
        ("meshgemv", 1172, 762, {"m": 16384, "n": 16384}),
        ("meshgemm", 762, 762, {"m": 12192, "k": 12192, "n": 12192}),
    )
    for name, rows, cols, shape in cases:
        walls, cycles = [], 0
        for _ in range(repeats):
            start = time.perf_counter()
            cycles = kernel_cycles(name, arch, rows, cols, "fp16", **shape)
            walls.append(time.perf_counter() - start)
        print(
            f"kernel_cycles {name} {shape} on wse-3 {rows}x{cols}: {cycles} cycles, median {_median(walls):.2f} s"
        )


def bench_gemm_ranking(arch_name: str, sizes: list[int], grids: list[int]) -> None:
    """Markdown rows: size, grid, then cycles (efficiency) per algorithm, and how SUMMA's broadcasts are routed."""
    from wafersim.fabric.costs import vector_cycles
    from wafersim.fabric.dtypes import dtype_named
    from wafersim.fabric.kernels.gemm import summa_broadcast_plan
    from wafersim.fabric.kernels.registry import kernel_cycles

    arch = load_arch(arch_name)
    fp16 = dtype_named("fp16")
    names = ("gemm-summa", "gemm-cannon", "meshgemm")
    print(f"| {arch_name} fp16 | grid | " + " | ".join(names) + " | SUMMA broadcasts (x / y) | wall s |")
    print("|---|---|---|---|---|---|---|")
    for size in sizes:
        for p in grids:
            start = time.perf_counter()
            ideal = -(-size // p) * -(-size // p) * vector_cycles(arch, "fma", fp16, -(-size // p)) * p
            cells = []
            for name in names:
                try:
                    cycles = kernel_cycles(name, arch, p, p, "fp16", m=size, k=size, n=size)
                except WafersimError as error:  # e.g. the blocks do not fit a PE's SRAM
                    cells.append(f"— ({str(error).split(': ')[-1][:40]})")
                    continue
                cells.append(f"{cycles:,} ({ideal / cycles:.0%})")
            plan = summa_broadcast_plan(arch, p, p)
            routing = " / ".join(f"{kind} {len(colors)}c" for kind, colors in (plan["x"], plan["y"]))
            wall = time.perf_counter() - start
            print(f"| {size}^3 | {p}x{p} | " + " | ".join(cells) + f" | {routing} | {wall:.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=("cycle", "fast", "timing", "gemm"), default=None)
    parser.add_argument("--arch", default="wse-2", help="--only gemm: architecture")
    parser.add_argument("--sizes", default="1024,2048", help="--only gemm: M = K = N values")
    parser.add_argument("--grids", default="32,64,128,256", help="--only gemm: P for P x P grids")
    args = parser.parse_args()
    if args.only == "gemm":
        sizes = [int(v) for v in args.sizes.split(",")]
        bench_gemm_ranking(args.arch, sizes, [int(v) for v in args.grids.split(",")])
        return
    if args.only in (None, "cycle"):
        bench_cycle_engine(args.repeats)
    if args.only in (None, "fast"):
        bench_fast_engine(args.repeats)
    if args.only in (None, "timing"):
        bench_timing_only(args.repeats)


if __name__ == "__main__":
    main()
