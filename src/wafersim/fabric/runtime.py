"""Host side, shaped like the vendor SDK's runtime: memcpy_h2d / memcpy_d2h into named PE symbols over a rectangle,
and launch(function). Host transfers are timed separately from the kernels (`host_io_cycles`).

Edge I/O model: host data enters (or leaves) through the west edge of the program rectangle, one wavelet per
element, every row of the rectangle streaming in parallel through its own edge link; the transfer takes the
longer of that fabric time (elements per row + hops to the far PE + ramp latencies) and the system I/O time
(bytes over the system's host bandwidth, converted to cycles at the run's clock).
"""

from __future__ import annotations

import os

import numpy as np

from wafersim.errors import WafersimError
from wafersim.fabric.cycle_engine import DEFAULT_DEADLOCK_WINDOW_CYCLES, run_cycle
from wafersim.fabric.fast_engine import run_fast
from wafersim.fabric.program import Program
from wafersim.fabric.stats import RunStats

ENGINES = ("cycle", "fast")
# The cycle engine simulates every router; beyond this many PEs it is too slow to be useful.
CYCLE_ENGINE_MAX_PES = 64 * 64
# A trace has one thread per PE: beyond this it is too big for the trace viewers.
TRACE_MAX_PES = 64 * 64


# The simulation keeps every PE's SRAM image in host memory (plus inputs and a reference); refuse up front,
# with a message, what would otherwise end in an allocation failure or the OOM killer.
HOST_MEMORY_FRACTION = 0.5


def host_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _check_host_memory(program: Program) -> None:
    per_pe = sum(s.elems_per_pe * np.dtype(s.dtype.storage).itemsize for s in program.symbols.values())
    needed = per_pe * program.rows * program.cols
    budget = HOST_MEMORY_FRACTION * host_memory_bytes()
    if needed > budget:
        raise WafersimError(
            f"simulating '{program.name}' on {program.rows}x{program.cols} PEs needs {needed / 2**30:.1f} GiB of host "
            f"memory for the PEs' SRAM images alone; this machine allows {budget / 2**30:.1f} GiB: use a smaller "
            "shape or grid (kernel_cycles gives the cycle count without moving data)"
        )


class Runtime:
    def __init__(
        self,
        program: Program,
        engine: str = "fast",
        trace: bool = False,
        deadlock_window_cycles: int = DEFAULT_DEADLOCK_WINDOW_CYCLES,
    ):
        if engine not in ENGINES:
            raise WafersimError(f"unknown engine '{engine}'; choose one of {list(ENGINES)}")
        if engine == "cycle" and program.rows * program.cols > CYCLE_ENGINE_MAX_PES:
            raise WafersimError(
                f"engine fast is needed for {program.rows}x{program.cols}: the cycle engine runs grids up to "
                f"{CYCLE_ENGINE_MAX_PES} PEs (64x64)",
                field="engine",
            )
        if trace and program.rows * program.cols > TRACE_MAX_PES:
            raise WafersimError(
                f"trace export is for grids up to {TRACE_MAX_PES} PEs; {program.rows}x{program.cols} is too large"
            )
        router = program.arch.router
        if engine == "cycle" and (
            router.hop_latency_cycles,
            router.ramp_latency_cycles,
            router.link_wavelets_per_cycle,
        ) != (1, 1, 1):
            # Its routers move a wavelet one queue per cycle: other latencies would need pipeline stages.
            raise WafersimError(
                f"{program.arch.name}: the cycle engine models 1-cycle hops and ramps and 1 wavelet per link per "
                f"cycle; this architecture has hop_latency_cycles={router.hop_latency_cycles}, "
                f"ramp_latency_cycles={router.ramp_latency_cycles}, "
                f"link_wavelets_per_cycle={router.link_wavelets_per_cycle}"
            )
        program.validate()
        _check_host_memory(program)
        self.program = program
        self.engine = engine
        self.trace = trace
        self.deadlock_window_cycles = deadlock_window_cycles
        self.memory = program.new_memory()
        self.stats = RunStats(program.rows, program.cols)
        self.host_io_cycles = 0

    def _rectangle(self, symbol: str, x0: int, y0: int, w: int, h: int) -> np.ndarray:
        if symbol not in self.program.symbols:
            raise WafersimError(f"memcpy: no symbol '{symbol}' in program '{self.program.name}'")
        if w < 1 or h < 1 or x0 < 0 or y0 < 0 or x0 + w > self.program.cols or y0 + h > self.program.rows:
            raise WafersimError(
                f"memcpy: rectangle x0={x0} y0={y0} w={w} h={h} is outside the {self.program.rows}x"
                f"{self.program.cols} program (rows x cols)"
            )
        return self.memory[symbol]

    def _charge_io(self, x0: int, w: int, h: int, elems_per_pe: int, itemsize_bytes: int) -> None:
        arch = self.program.arch
        per_row = w * elems_per_pe
        fabric = per_row + (x0 + w - 1) * arch.router.hop_latency_cycles + 2 * arch.router.ramp_latency_cycles
        host_s = h * per_row * itemsize_bytes * 8 / arch.host_io.bandwidth_bits_per_s
        self.host_io_cycles += max(fabric, int(np.ceil(host_s * arch.clock_hz)))

    def memcpy_h2d(
        self,
        symbol: str,
        array: np.ndarray,
        x0: int,
        y0: int,
        w: int,
        h: int,
        elems_per_pe: int | None = None,
    ) -> None:
        """Copy `array` (shape (h, w, elems) or flat in that order) into symbol[0:elems] of each PE."""
        target = self._rectangle(symbol, x0, y0, w, h)
        data = np.asarray(array)
        elems = elems_per_pe if elems_per_pe is not None else data.size // (w * h)
        if data.size != w * h * elems or elems > target.shape[2]:
            raise WafersimError(
                f"memcpy_h2d '{symbol}': {data.size} values do not fill {h}x{w} PEs x {elems} elements "
                f"(symbol holds {target.shape[2]} per PE)"
            )
        sym = self.program.symbols[symbol]
        target[y0 : y0 + h, x0 : x0 + w, :elems] = sym.dtype.round(data.reshape(h, w, elems))
        self._charge_io(x0, w, h, elems, sym.dtype.itemsize_bytes)

    def memcpy_d2h(
        self, symbol: str, x0: int, y0: int, w: int, h: int, elems_per_pe: int | None = None
    ) -> np.ndarray:
        """Return symbol[0:elems] of each PE of the rectangle, shape (h, w, elems)."""
        source = self._rectangle(symbol, x0, y0, w, h)
        elems = elems_per_pe if elems_per_pe is not None else source.shape[2]
        sym = self.program.symbols[symbol]
        self._charge_io(x0, w, h, elems, sym.dtype.itemsize_bytes)
        return source[y0 : y0 + h, x0 : x0 + w, :elems].copy()

    def launch(self, function: str) -> RunStats:
        """Run a function of the program on every PE; returns its stats and adds them to `self.stats`."""
        if function not in self.program.functions:
            raise WafersimError(
                f"launch: program '{self.program.name}' has no function '{function}' "
                f"(has {sorted(self.program.functions)})"
            )
        if self.engine == "cycle":
            stats = run_cycle(self.program, self.memory, function, self.trace, self.deadlock_window_cycles)
        else:
            stats = run_fast(self.program, self.memory, function, self.trace)
        self.stats.merge(stats)
        return stats

    @property
    def cycles(self) -> int:
        return self.stats.cycles

    @property
    def time_s(self) -> float:
        return self.cycles / self.program.arch.clock_hz
