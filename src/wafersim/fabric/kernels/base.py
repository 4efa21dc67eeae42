"""What every kernel provides and returns.

A kernel is built for an architecture, a grid and a shape into a `Built`: the Program, how to draw random inputs,
how to place them on the PEs and read results back (host memcpy), and the NumPy reference. `run_built` runs it on
an engine and returns a `KernelResult`; `estimate_cycles` only times the program (fast engine, no data), which is
what a mapping layer needs to derive speed from a kernel's shape and grid.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from wafersim.errors import WafersimError
from wafersim.fabric.fast_engine import step_cycles
from wafersim.fabric.program import Program
from wafersim.fabric.runtime import HOST_MEMORY_FRACTION, Runtime, host_memory_bytes
from wafersim.fabric.stats import RunStats
from wafersim.fabric.switching import switched_colors

Arrays = dict[str, np.ndarray]


@dataclass
class Built:
    program: Program
    function: str
    make_inputs: Callable[[np.random.Generator], Arrays]
    load: Callable[[Runtime, Arrays], None]
    unload: Callable[[Runtime], Arrays]
    reference: Callable[[Arrays], Arrays]
    shape: dict[str, int] = field(default_factory=dict)
    # Peak host memory the inputs take while being drawn, tiled and rounded (checked before drawing them).
    host_input_bytes: int = 0


@dataclass(frozen=True)
class KernelResult:
    kernel: str
    arch: str
    grid: tuple[int, int]
    engine: str
    dtype: str
    seed: int | None
    shape: dict[str, int]
    cycles: int
    time_s: float
    clock_hz: float
    outputs: Arrays
    reference: Arrays
    max_rel_err: float
    sram_peak_bytes_per_pe: int
    busy_cycles: np.ndarray
    host_io_cycles: int
    sim_wall_s: float
    stats: RunStats

    def to_dict(self) -> dict:
        """JSON-ready summary, as `wafersim fabric run` prints it."""
        return self.summary()

    def summary(self) -> dict:
        """JSON-ready summary (what `to_dict` returns)."""
        return {
            "kernel": self.kernel,
            "arch": self.arch,
            "grid": f"{self.grid[0]}x{self.grid[1]}",
            "engine": self.engine,
            "dtype": self.dtype,
            "seed": self.seed,
            **self.shape,
            "cycles": self.cycles,
            "time_s": self.time_s,
            "clock_hz": self.clock_hz,
            "max_rel_err": self.max_rel_err,
            "sram_peak_bytes_per_pe": self.sram_peak_bytes_per_pe,
            "busy_fraction_mean": float(self.busy_cycles.mean() / self.cycles) if self.cycles else 0.0,
            "link_utilisation": self.stats.link_utilisation,
            "max_link_utilisation": float(self.stats.link_utilisation_per_pe().max()),
            "host_io_cycles": self.host_io_cycles,
            "sim_wall_s": self.sim_wall_s,
        }


def max_rel_err(outputs: Arrays, reference: Arrays) -> float:
    """max |out - ref| / max |ref| over all outputs (normwise, so that near-zero entries do not dominate)."""
    worst = 0.0
    for name, ref in reference.items():
        ref64 = np.asarray(ref, dtype=np.float64)
        diff = np.abs(np.asarray(outputs[name], dtype=np.float64) - ref64)
        scale = float(np.max(np.abs(ref64))) or 1.0
        worst = max(worst, float(np.max(diff)) / scale)
    return worst


def run_built(
    built: Built,
    kernel: str,
    engine: str,
    seed: int | None,
    inputs: Arrays | None = None,
    trace: bool = False,
) -> KernelResult:
    start = time.perf_counter()
    runtime = Runtime(built.program, engine, trace=trace)
    if engine == "cycle":
        _check_cycle_engine_effort(built, kernel)
    budget = HOST_MEMORY_FRACTION * host_memory_bytes()
    if built.host_input_bytes > budget:
        raise WafersimError(
            f"{kernel} {built.shape}: its inputs need about {built.host_input_bytes / 2**30:.1f} GiB of host memory "
            f"to prepare; this machine allows {budget / 2**30:.1f} GiB: use a smaller shape (kernel_cycles gives "
            "the cycle count without moving data)"
        )
    try:
        if inputs is None:
            inputs = built.make_inputs(np.random.default_rng(seed))
        built.load(runtime, inputs)
        runtime.launch(built.function)
        outputs = built.unload(runtime)
        wall = time.perf_counter() - start
        reference = built.reference(inputs)
    except MemoryError:
        raise WafersimError(
            f"{kernel} {built.shape} on {built.program.rows}x{built.program.cols} PEs: not enough host memory to "
            "hold the inputs; use a smaller shape (kernel_cycles gives the cycle count without moving data)"
        ) from None
    program = built.program
    return KernelResult(
        kernel=kernel,
        arch=program.arch.name,
        grid=(program.rows, program.cols),
        engine=engine,
        dtype=program.dtype.name,
        seed=seed,
        shape=dict(built.shape),
        cycles=runtime.cycles,
        time_s=runtime.time_s,
        clock_hz=program.arch.clock_hz,
        outputs=outputs,
        reference=reference,
        max_rel_err=max_rel_err(outputs, reference),
        sram_peak_bytes_per_pe=program.sram_bytes_per_pe,
        busy_cycles=runtime.stats.busy_cycles,
        host_io_cycles=runtime.host_io_cycles,
        sim_wall_s=wall,
        stats=runtime.stats,
    )


# Above this many PE-cycles of fabric activity the cycle engine (5e4-2e5 PE-cycles/s) would run for 3-10 minutes.
CYCLE_ENGINE_MAX_PE_CYCLES = 3e7


def _check_cycle_engine_effort(built: Built, kernel: str) -> None:
    """Refuse, with the fast engine's estimate, runs the cycle engine would take far too long on. Steps with
    only local computation are skipped over by the cycle engine, so only communication steps count."""
    program = built.program
    switches = switched_colors(program, built.function)
    steps = program.functions[built.function]
    fabric_cycles = sum(
        step_cycles(program, step, switched)[0]
        for step, switched in zip(steps, switches, strict=True)
        if step.patterns
    )
    effort = fabric_cycles * program.rows * program.cols
    if effort > CYCLE_ENGINE_MAX_PE_CYCLES:
        raise WafersimError(
            f"engine fast (or a smaller shape) is needed for {kernel} {built.shape} on {program.rows}x"
            f"{program.cols}: about {fabric_cycles} cycles of fabric activity x {program.rows * program.cols} PEs = "
            f"{effort:.2g} PE-cycles, beyond the cycle engine's {CYCLE_ENGINE_MAX_PE_CYCLES:.0e}",
            field="engine",
        )


def program_cycles(program: Program, function: str) -> int:
    """Cycles of a function from the fast engine's timing alone (no data is moved)."""
    program.validate()
    switches = switched_colors(program, function)
    steps = program.functions[function]
    return sum(
        step_cycles(program, step, switched)[0] for step, switched in zip(steps, switches, strict=True)
    )


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def tile(matrix: np.ndarray, rows: int, cols: int, rb: int, cb: int) -> np.ndarray:
    """Zero-pad `matrix` to (rows*rb, cols*cb) and cut it into blocks: a (rows, cols, rb, cb) view when no
    padding is needed (whole-wafer inputs are large; copies are avoided where they can be)."""
    matrix = np.asarray(matrix)
    if matrix.shape != (rows * rb, cols * cb):
        padded = np.zeros((rows * rb, cols * cb), dtype=matrix.dtype)
        padded[: matrix.shape[0], : matrix.shape[1]] = matrix
        matrix = padded
    return matrix.reshape(rows, rb, cols, cb).swapaxes(1, 2)


def untile(blocks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    rows, cols, rb, cb = blocks.shape
    return blocks.swapaxes(1, 2).reshape(rows * rb, cols * cb)[: shape[0], : shape[1]]
