"""The fast engine: executes a program step by step with array operations and analytic timing.

Timing of a step, from the machine model only (hop and ramp latencies, one wavelet per link per cycle):
a stream of n wavelets through stages of h_1..h_k hops (k > 1 for a relay chain, whose middle PEs combine and
forward one wavelet per cycle) takes  sum_i (h_i * hop + 2 * ramp)  cycles of latency plus n cycles of
streaming. When streams share a resource - a directed link, or a PE's ramp in either direction (a PE receives at
most one wavelet per cycle from its router) - the routers serve the competing streams in turns, so a stream of n
is delayed by min(n, m) for every other stream of m on the resource (processor sharing). Compute runs
concurrently; a step lasts as long as its longest part. Rows and columns are identical in structure (SPMD), so loads are computed on one line of each axis. A stream
whose route must be switched first carries one control wavelet (switching.py), counted like data.
"""

from __future__ import annotations

import numpy as np

from wafersim.errors import WafersimError
from wafersim.fabric.program import Memory, Program, Step
from wafersim.fabric.stats import LINK_DIRECTIONS, RunStats
from wafersim.fabric.switching import switched_colors


def _wavelets(flow, switched: frozenset[int]) -> int:
    """Wavelets a flow puts on the fabric: its data, plus a leading control wavelet when its route switches."""
    return flow.n + (flow.first_color in switched)


def _axis_loads(step: Step, switched: dict[int, frozenset[int]]) -> dict[str, dict[str, dict]]:
    """Per axis and resource kind: resource -> sizes of the streams using it (one line stands for all)."""
    loads: dict[str, dict[str, dict]] = {axis: {"link": {}, "out": {}, "in": {}} for axis in ("x", "y")}
    for number, pattern in enumerate(step.patterns):
        axis_loads = loads[pattern.axis]
        for flow in pattern.flows():
            colors = switched.get(number, frozenset())
            wavelets = _wavelets(flow, colors)
            for index, link in enumerate(flow.links):
                axis_loads["link"].setdefault(link, []).append(flow.n + (flow.link_color(index) in colors))
            for pos in flow.ramp_out:
                axis_loads["out"].setdefault(pos, []).append(wavelets)
            for pos in flow.ramp_in:
                axis_loads["in"].setdefault(pos, []).append(wavelets)
    return loads


def _shared(sizes: list[int], own: int) -> int:
    """Cycles until a stream of `own` wavelets is through a resource it shares, served in turns, with streams of
    `sizes` (its own included): every stream advances one wavelet per turn, so each other stream delays it by
    at most its own length (processor sharing with simultaneous starts)."""
    return sum(min(size, own) for size in sizes)


_STEP_CACHE: dict[tuple, tuple[int, list[int]]] = {}
_STEP_CACHE_LIMIT = 4096


def step_cycles(
    program: Program, step: Step, switched: dict[int, frozenset[int]] | None = None
) -> tuple[int, list[int]]:
    """Cycles of one step and the per-flow times (for inspection). `switched`: see switching.py.

    GEMMs repeat one shift step P times: steps with equal timing keys are timed once."""
    switched = switched or {}
    compute = max((int(c.cycles_grid(program.rows, program.cols).max()) for c in step.computes), default=0)
    router = program.arch.router
    key = (
        router.hop_latency_cycles,
        router.ramp_latency_cycles,
        compute,
        tuple(p.timing_key() for p in step.patterns),
        tuple(sorted((k, tuple(sorted(v))) for k, v in switched.items())),
    )
    if key not in _STEP_CACHE:
        if len(_STEP_CACHE) >= _STEP_CACHE_LIMIT:
            _STEP_CACHE.clear()
        _STEP_CACHE[key] = _step_cycles(program, step, switched, compute)
    return _STEP_CACHE[key]


def _step_cycles(
    program: Program, step: Step, switched: dict[int, frozenset[int]], compute: int
) -> tuple[int, list[int]]:
    hop = program.arch.router.hop_latency_cycles
    ramp = program.arch.router.ramp_latency_cycles
    loads = _axis_loads(step, switched)
    flow_times = []
    worst: dict[tuple[str, str, int], int] = {}  # (other axis, ramp direction, stream size) -> delay

    def worst_other(axis: str, kind: str, own: int) -> int:
        """Delay from the busiest ramp of the other axis' lines (a PE's ramp carries its row's and its column's
        streams); cached because all streams of a pattern usually have one size."""
        key = (axis, kind, own)
        if key not in worst:
            worst[key] = max((_shared(sizes, own) for sizes in loads[axis][kind].values()), default=0)
        return worst[key]

    for number, pattern in enumerate(step.patterns):
        axis_loads = loads[pattern.axis]
        other_axis = "y" if pattern.axis == "x" else "x"
        for flow in pattern.flows():
            own = _wavelets(flow, switched.get(number, frozenset()))
            other_out = worst_other(other_axis, "out", own)
            other_in = worst_other(other_axis, "in", own)
            streaming = max(
                own,
                max((_shared(axis_loads["link"][link], own) for link in flow.links), default=0),
                max(_shared(axis_loads["out"][p], own) + other_out for p in flow.ramp_out),
                max(_shared(axis_loads["in"][p], own) + other_in for p in flow.ramp_in),
            )
            latency = sum(h * hop + 2 * ramp for h in flow.hops)
            flow_times.append(latency + streaming)
    return max([compute, *flow_times]), flow_times


def step_busy(program: Program, step: Step) -> np.ndarray:
    rows, cols = program.rows, program.cols
    busy = np.zeros((rows, cols), dtype=np.int64)
    for compute in step.computes:
        busy += compute.cycles_grid(rows, cols)
    sent = np.zeros((rows, cols), dtype=np.int64)
    received = np.zeros((rows, cols), dtype=np.int64)
    for pattern in step.patterns:
        lines = pattern.line_indices(program)
        for op in pattern.line_ops():
            target = (lines, op.pos) if pattern.axis == "x" else (op.pos, lines)
            if op.kind in ("send", "relay"):
                sent[target] += op.n
            if op.kind in ("recv", "relay"):
                received[target] += op.n
    return busy + np.maximum(sent, received)


def step_link_wavelets(program: Program, step: Step, switched: dict[int, frozenset[int]]) -> np.ndarray:
    """Wavelets leaving each PE's router per direction (rows, cols, 4): one line's loads, on every line."""
    loads = np.zeros((program.rows, program.cols, len(LINK_DIRECTIONS)), dtype=np.int64)
    for number, pattern in enumerate(step.patterns):
        colors = switched.get(number, frozenset())
        lines = pattern.line_indices(program)
        for flow in pattern.flows():
            for index, (pos, port) in enumerate(flow.links):
                target = (lines, pos) if pattern.axis == "x" else (pos, lines)
                # data plus, on a stage whose route switches, its control wavelet
                loads[(*target, LINK_DIRECTIONS.index(port))] += flow.n + (flow.link_color(index) in colors)
    return loads


def run_fast(program: Program, memory: Memory, function: str, trace: bool = False) -> RunStats:
    stats = RunStats(program.rows, program.cols)
    switches = switched_colors(program, function)
    for step, switched in zip(program.functions[function], switches, strict=True):
        for pattern in step.patterns:
            problem = getattr(pattern, "static_deadlock", lambda _program: None)(program)
            if problem:
                raise WafersimError(f"deadlock in step '{step.name}' (found before running): {problem}")
        cycles, _ = step_cycles(program, step, switched)
        for pattern in step.patterns:
            pattern.apply(memory, program)
        for compute in step.computes:
            compute.fn(memory, *compute.slices(program.rows, program.cols))
        busy = step_busy(program, step)
        if trace:
            for y in range(program.rows):
                for x in range(program.cols):
                    if busy[y, x]:
                        stats.trace_events.append(
                            _event(step.name, stats.cycles, int(busy[y, x]), y, x, program)
                        )
        stats.busy_cycles += busy
        stats.link_wavelets += step_link_wavelets(program, step, switched)
        stats.add_step(step.name, cycles)
    return stats


def _event(name: str, start: int, duration: int, y: int, x: int, program: Program) -> dict:
    # Chrome trace format: ts/dur in microseconds; one "thread" per PE.
    return {
        "name": name,
        "ph": "X",
        "ts": start,
        "dur": duration,
        "pid": 0,
        "tid": y * program.cols + x,
        "args": {"x": x, "y": y},
    }
