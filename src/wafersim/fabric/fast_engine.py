"""The fast engine: executes a program step by step with array operations and analytic timing.

Timing of a step, from the machine model only (hop and ramp latencies, one wavelet per link per cycle):
a stream of n wavelets through stages of h_1..h_k hops (k > 1 for a relay chain, whose middle PEs combine and
forward one wavelet per cycle) takes  sum_i (h_i * hop + 2 * ramp)  cycles of latency plus n cycles of
streaming. When streams share a resource - a directed link, or a PE's ramp in either direction (a PE receives at
most one wavelet per cycle from its router) - the routers serve the competing streams in turns, so a stream is
delayed one cycle for every cycle another stream's demand on the resource overlaps its own (each stream's demand
starts when its first wavelet can reach the resource: equal starts give min(n, m), processor sharing). Compute runs
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


def _stage_starts(flow, hop: int, ramp: int) -> list[int]:
    """Cycle at which each stage's sender pushes its first wavelet (a relay forwards as soon as it receives)."""
    starts = [0]
    for hops in flow.hops[:-1]:
        starts.append(starts[-1] + hops * hop + 2 * ramp)
    return starts


def _axis_loads(step: Step, switched: dict[int, frozenset[int]], hop: int, ramp: int) -> dict:
    """Per axis and resource kind: resource -> (first cycle, wavelets) of each stream using it (one line stands
    for all lines of its axis)."""
    loads: dict[str, dict[str, dict]] = {axis: {"link": {}, "out": {}, "in": {}} for axis in ("x", "y")}
    for number, pattern in enumerate(step.patterns):
        axis_loads = loads[pattern.axis]
        colors = switched.get(number, frozenset())
        for flow in pattern.flows():
            own = _wavelets(flow, colors)
            starts = _stage_starts(flow, hop, ramp)
            for index, link in enumerate(flow.links):
                stage, distance = flow.link_place[index]
                wavelets = flow.n + (flow.link_color(index) in colors)
                axis_loads["link"].setdefault(link, []).append(
                    (starts[stage] + ramp + distance * hop, wavelets)
                )
            for stage, pos in enumerate(flow.ramp_out):
                axis_loads["out"].setdefault(pos, []).append((starts[stage], own, number))
            for index, pos in enumerate(flow.ramp_in):
                stage, hops = flow.in_place[index]
                axis_loads["in"].setdefault(pos, []).append((starts[stage] + ramp + hops * hop, own))
    return loads


def _overlap(first: int, length: int, other_first: int, other_length: int) -> int:
    return max(0, min(first + length, other_first + other_length) - max(first, other_first))


def _delay(users: list[tuple], first: int, length: int) -> int:
    """Cycles a stream wanting a resource from cycle `first` for `length` wavelets loses to the other `users`:
    the routers serve competing streams in turns, so each costs it one cycle per cycle their demands overlap
    (equal starts: min(n, m) per competitor, i.e. processor sharing). `users` includes the stream itself."""
    return sum(_overlap(first, length, user[0], user[1]) for user in users) - length


def _send_delay(
    users: list[tuple[int, int, int]], first: int, length: int, pattern: int, other_axis: bool
) -> int:
    """_delay at a core's ramp towards its router, where the turns start with the earliest pattern of the step
    (the core serves its sends least recently served first, in program order at the start): a stream that goes
    first against an equally early competitor at least as long as itself loses one cycle less."""
    delay = _delay(users, first, length) + (length if other_axis else 0)
    for start, count, number in users:
        if start == first and number > pattern and count >= length:
            delay -= 1
    return delay


class _OtherAxis:
    """The busiest ramp among the other axis' lines (a PE's ramp carries its row's and its column's streams), for
    many stream starts at once: max over positions of the summed demand overlaps, as _delay and _send_delay count
    them, vectorized over the starts (relay chains ask once per stage). Results are cached per step."""

    def __init__(self, loads: dict) -> None:
        self.loads = loads
        self.arrays: dict[tuple[str, str], tuple] = {}
        self.cache: dict[tuple, int] = {}

    def _arrays(self, axis: str, kind: str) -> tuple:
        if (axis, kind) not in self.arrays:
            by_pos = [users for users in self.loads[axis][kind].values() if users]
            flat = [user for users in by_pos for user in users]
            starts = np.array([user[0] for user in flat], dtype=np.int64)
            counts = np.array([user[1] for user in flat], dtype=np.int64)
            numbers = np.array([user[2] if len(user) > 2 else -1 for user in flat], dtype=np.int64)
            offsets = np.cumsum([0] + [len(users) for users in by_pos[:-1]], dtype=np.int64)
            self.arrays[(axis, kind)] = (starts, counts, numbers, offsets)
        return self.arrays[(axis, kind)]

    def _query(self, axis: str, kind: str, firsts: list[int], length: int, pattern: int | None) -> list[int]:
        keys = [(axis, kind, first, length, pattern) for first in firsts]
        missing = sorted({key[2] for key in keys if key not in self.cache})
        if missing:
            starts, counts, numbers, offsets = self._arrays(axis, kind)
            if not len(starts):
                values = np.zeros(len(missing), dtype=np.int64)
            else:
                first = np.array(missing, dtype=np.int64)[:, None]
                overlap = np.minimum(first + length, starts + counts) - np.maximum(first, starts)
                score = np.maximum(overlap, 0)
                if pattern is not None:
                    # the turns start with the earliest pattern (see _send_delay)
                    score = score - ((starts == first) & (numbers > pattern) & (counts >= length))
                values = np.add.reduceat(score, offsets, axis=1).max(axis=1)
            for first, value in zip(missing, values.tolist(), strict=True):
                self.cache[(axis, kind, first, length, pattern)] = int(value)
        return [self.cache[key] for key in keys]

    def busiest(self, axis: str, kind: str, firsts: list[int], length: int) -> list[int]:
        """Per start: max over the other axis' positions of _delay(users, first, length) + length."""
        return self._query(axis, kind, firsts, length, None)

    def send(self, axis: str, firsts: list[int], length: int, pattern: int) -> list[int]:
        """Per start: max over the other axis' positions of _send_delay(users, first, length, pattern, True)."""
        return self._query(axis, "out", firsts, length, pattern)


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
    loads = _axis_loads(step, switched, hop, ramp)
    flow_times = []
    worst = _OtherAxis(loads)

    for number, pattern in enumerate(step.patterns):
        axis_loads = loads[pattern.axis]
        other = "y" if pattern.axis == "x" else "x"
        colors = switched.get(number, frozenset())
        for flow in pattern.flows():
            own = _wavelets(flow, colors)
            starts = _stage_starts(flow, hop, ramp)
            last_stage = len(flow.hops) - 1
            # A delay on the way (link, sender's ramp, relay's ramp) holds up the rest of the stream.
            upstream = 0
            for index, link in enumerate(flow.links):
                stage, distance = flow.link_place[index]
                length = flow.n + (flow.link_color(index) in colors)
                upstream = max(
                    upstream, _delay(axis_loads["link"][link], starts[stage] + ramp + distance * hop, length)
                )
            send_other = worst.send(
                other, [starts[stage] for stage in range(len(flow.ramp_out))], own, number
            )
            for stage, pos in enumerate(flow.ramp_out):
                first = starts[stage]
                same = _send_delay(axis_loads["out"][pos], first, own, number, False)
                upstream = max(upstream, same + send_other[stage])
            in_firsts = [starts[stage] + ramp + hops * hop for stage, hops in flow.in_place]
            in_other = worst.busiest(other, "in", in_firsts, own)
            finals = []
            for index, pos in enumerate(flow.ramp_in):
                stage = flow.in_place[index][0]
                first = in_firsts[index]
                delay = _delay(axis_loads["in"][pos], first, own) + in_other[index]
                if stage == last_stage:
                    finals.append(first + own + delay + ramp)
                else:
                    upstream = max(upstream, delay)
            latency = sum(h * hop + 2 * ramp for h in flow.hops)
            # The most contended resource sets the pace (competing streams slowed once are not slowed again
            # by the same competitors further on), so delays are not added up.
            flow_times.append(max([latency + own + upstream, *finals]))
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
    # Fabric transfers run on the core's data-movement threads, concurrently with its compute (see docs).
    return np.maximum(busy, np.maximum(sent, received))


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
