"""The cycle engine: the reference. Every router and every PE core advances cycle by cycle.

Per cycle, using the state at the start of the cycle:
- each router forwards the head wavelet of each non-empty input queue (one per input port and color) to every
  port of its route's tx set (multicast) if each of those output ports is still free this cycle (one wavelet per
  link per cycle per direction) and each target queue has room (bounded queues: back-pressure); a wavelet moves
  one hop per cycle; competing queues are served in rotating order;
- each core advances its fabric operations: a send pushes one wavelet to its router's RAMP queue (one per cycle per
  core: the ramp is a link too), a receive takes one from its color's queue, a relay takes one, combines it with
  its own element (or stores it, for a relayed broadcast) and pushes the result in the same cycle; local
  computations count down their cycles.
A step ends when every operation is done and the fabric is empty. If nothing moves for `deadlock_window_cycles`
while work is pending, the engine stops with an error naming a blocked PE and color.
"""

from __future__ import annotations

from collections import Counter, deque

import numpy as np

from wafersim.errors import WafersimError
from wafersim.fabric.dtypes import DType, round_bf16
from wafersim.fabric.patterns import offset_at
from wafersim.fabric.program import Memory, Program, Step
from wafersim.fabric.routing import pe_of
from wafersim.fabric.stats import RunStats
from wafersim.fabric.switching import switched_colors

PORT_IDS = {"N": 0, "E": 1, "S": 2, "W": 3, "RAMP": 4}
PORT_NAMES = {v: k for k, v in PORT_IDS.items()}
RAMP = 4
# Neighbour in the direction of an output port, and the input port the wavelet arrives on there.
STEP_YX = {0: (-1, 0), 1: (0, 1), 2: (1, 0), 3: (0, -1)}
ARRIVES_ON = {0: 2, 1: 3, 2: 0, 3: 1}

DEFAULT_DEADLOCK_WINDOW_CYCLES = 256
CONTROL = object()  # a control wavelet: switches routers on its way and is dropped at the receiving ramp


def scalar_combiner(dtype: DType, op: str):
    """One-wavelet arithmetic, bit-identical to patterns.combine on arrays (float64 then one rounding to the
    type; bf16 through float32 as DType.round does) but on Python scalars, which is several times faster."""
    if op == "max":
        # numpy.maximum itself: its handling of NaN and of -0.0 vs 0.0 differs between float16 and float32.
        return np.maximum
    if op != "add":
        raise WafersimError(f"unknown combine op '{op}' (add, max)")
    storage = dtype.storage
    if dtype.name == "bf16":
        return lambda a, b: round_bf16(np.float32(float(a) + float(b)))[()]
    return lambda a, b: storage(float(a) + float(b))


class _Op:
    __slots__ = (
        "kind",
        "n",
        "done",
        "array",
        "off",
        "cin",
        "cout",
        "op",
        "own",
        "own_off",
        "dtype",
        "combine",
        "control",
        "in_queue",
        "out_queue",
        "out_key",
    )

    def __init__(self, line_op, program: Program, memory: Memory, y: int, x: int, control: bool):
        # control: send a control wavelet (route switch, see switching.py) before the first data wavelet.
        self.control = control
        self.dtype = program.symbols[line_op.sym].dtype
        self.combine = scalar_combiner(self.dtype, line_op.op) if line_op.op else None
        self.kind = line_op.kind
        self.n = line_op.n
        self.done = 0
        self.array = memory[line_op.sym][y, x]
        self.off = offset_at(line_op.off, y, x)
        self.cin = line_op.color_in
        self.cout = line_op.color_out
        self.op = line_op.op
        self.own = memory[line_op.own][y, x] if line_op.own else None
        self.own_off = offset_at(line_op.own_off, y, x)


def _pe(y: int, x: int) -> str:
    return f"PE (x={x}, y={y})"


def _build_routes(program: Program, step: Step) -> dict:
    routes: dict[tuple[int, int, int], tuple[frozenset, frozenset]] = {}
    for pattern in step.patterns:
        lines = pattern.line_indices(program)
        for color, line_routes in pattern.routes():
            for pos, (rx, tx) in line_routes.items():
                config = (frozenset(PORT_IDS[p] for p in rx), frozenset(PORT_IDS[p] for p in tx))
                for line in lines:
                    y, x = pe_of(pattern.axis, line, pos)
                    known = routes.setdefault((y, x, color), config)
                    if known != config:
                        raise WafersimError(
                            f"step '{step.name}': conflicting routes at {_pe(y, x)} on color {color}: "
                            f"pattern '{pattern.name}' needs a different rx/tx set than an earlier one"
                        )
    return routes


class _StepSim:
    def __init__(
        self,
        program: Program,
        memory: Memory,
        step: Step,
        window: int,
        trace: bool,
        switched: dict[int, frozenset[int]],
    ):
        self.program, self.memory, self.step = program, memory, step
        self.depth = program.arch.router.input_queue_depth_wavelets
        self.window = window
        self.routes = _build_routes(program, step)
        self.router_q: dict[tuple, deque] = {}
        self.pe_q: dict[tuple, deque] = {}
        self.plans: dict[tuple, list] = {}  # router queue -> where its head goes (routes are fixed in a step)
        self.active: dict[tuple, None] = {}  # non-empty router queues, insertion-ordered for determinism
        self.ops: dict[tuple[int, int], list[_Op]] = {}
        self.done_ops: dict[tuple[int, int], list[_Op]] = {}
        for number, pattern in enumerate(step.patterns):
            lines = pattern.line_indices(program)
            colors = switched.get(number, frozenset())
            for line_op in pattern.line_ops():
                control = line_op.color_out is not None and line_op.color_out in colors
                for line in lines:
                    y, x = pe_of(pattern.axis, line, line_op.pos)
                    op = _Op(line_op, program, memory, y, x, control)
                    # Each operation keeps its queues at hand: the core reads its color's queue and writes
                    # its router's RAMP input queue for the outgoing color.
                    op.in_queue = (
                        self.pe_q.setdefault((y, x, op.cin), deque()) if op.cin is not None else None
                    )
                    op.out_key = (y, x, RAMP, op.cout) if op.cout is not None else None
                    op.out_queue = self.router_q.setdefault(op.out_key, deque()) if op.out_key else None
                    self.ops.setdefault((y, x), []).append(op)
        self.remaining_ops = sum(len(ops) for ops in self.ops.values())
        self.pe_left = {pe: len(ops) for pe, ops in self.ops.items()}
        self.queued_at_cores = 0  # wavelets delivered to cores' color queues and not yet taken
        self.compute_busy = np.zeros((program.rows, program.cols), dtype=np.int64)
        self.computes: list[tuple[int, int, int, object]] = []  # (finish_cycle, y, x, compute)
        for compute in step.computes:
            grid = compute.cycles_grid(program.rows, program.cols)
            self.compute_busy += grid
            ys, xs = compute.slices(program.rows, program.cols)
            for y in range(ys.start, ys.stop):
                for x in range(xs.start, xs.stop):
                    self.computes.append((int(grid[y, x]) - 1, y, x, compute))
        self.computes.sort(key=lambda item: item[0])
        self.link_counts: Counter = Counter()  # (y, x, output port id) -> wavelets sent on that link
        self.trace = trace
        self.first_active: dict[tuple[int, int], int] = {}
        self.last_active: dict[tuple[int, int], int] = {}

    # -- router phase -------------------------------------------------------------------------------------
    def _plan(self, key: tuple) -> list:
        """Targets of the head of router queue `key`: (output-port id, is_ramp, target queue, target key)."""
        y, x, port, color = key
        rows, cols = self.program.rows, self.program.cols
        config = self.routes.get((y, x, color))
        if config is None or port not in config[0]:
            expected = sorted(PORT_NAMES[p] for p in config[0]) if config else "nothing (no route)"
            raise WafersimError(
                f"step '{self.step.name}': a wavelet on color {color} reached {_pe(y, x)} from port "
                f"{PORT_NAMES[port]}, but that PE's route for color {color} receives from {expected}"
            )
        plan = []
        for out in sorted(config[1]):
            if out == RAMP:
                target = (y, x, color)
                plan.append(((y, x, out), True, self.pe_q.setdefault(target, deque()), target))
                continue
            dy, dx = STEP_YX[out]
            ny, nx = y + dy, x + dx
            if not (0 <= ny < rows and 0 <= nx < cols):
                raise WafersimError(
                    f"step '{self.step.name}': route at {_pe(y, x)} on color {color} sends "
                    f"{PORT_NAMES[out]} off the edge of the {rows}x{cols} program"
                )
            target = (ny, nx, ARRIVES_ON[out], color)
            plan.append(((y, x, out), False, self.router_q.setdefault(target, deque()), target))
        self.plans[key] = plan
        return plan

    # -- router phase -------------------------------------------------------------------------------------
    def _route_moves(self, cycle: int) -> list:
        moves = []
        used: set[tuple[int, int, int]] = set()
        depth = self.depth
        plans = self.plans
        # self.active is kept in least-recently-served order, so contending queues take turns.
        for key in list(self.active):
            plan = plans.get(key) or self._plan(key)
            for port_key, _, queue, _ in plan:
                if port_key in used or len(queue) >= depth:
                    break
            else:
                for port_key, _, _, _ in plan:
                    used.add(port_key)
                moves.append((key, plan))
        return moves

    def _apply_moves(self, moves) -> None:
        active = self.active
        for key, plan in moves:
            queue = self.router_q[key]
            wavelet = queue.popleft()
            del active[key]
            if queue:
                active[key] = None  # served: to the back of the line
            for port_key, is_ramp, target_queue, target in plan:
                if is_ramp:
                    if wavelet is CONTROL:
                        continue  # it has switched this router; the core never sees it
                    target_queue.append(wavelet)
                    self.queued_at_cores += 1
                else:
                    target_queue.append(wavelet)
                    self.link_counts[port_key] += 1
                    active[target] = None

    # -- core phase ---------------------------------------------------------------------------------------
    def _push(self, op: _Op, wavelet) -> None:
        op.out_queue.append(wavelet)
        self.active[op.out_key] = None

    def _core_phase(self, cycle: int) -> bool:
        progress = False
        depth = self.depth
        finished = []
        pe_left = self.pe_left
        for pe, ops in self.ops.items():
            ramp_free = True
            served = -1
            for position, op in enumerate(ops):
                index = op.done
                if index >= op.n:
                    continue
                if op.control:
                    if ramp_free and len(op.out_queue) < depth:
                        self._push(op, CONTROL)
                        ramp_free = False
                        served = position
                        op.control = False
                        progress = True
                    continue
                kind = op.kind
                if kind == "send":
                    if not ramp_free or len(op.out_queue) >= depth:
                        continue
                    self._push(op, op.array[op.off + index])
                    ramp_free = False
                    served = position
                else:
                    queue = op.in_queue
                    if not queue:
                        continue
                    if kind == "relay":
                        if not ramp_free or len(op.out_queue) >= depth:
                            continue
                        incoming = queue.popleft()
                        if op.combine is None:  # store and forward (a relayed broadcast, relays.py)
                            op.array[op.off + index] = incoming
                            self._push(op, incoming)
                        else:
                            self._push(op, op.combine(op.array[op.off + index], incoming))
                        ramp_free = False
                        served = position
                    else:
                        incoming = queue.popleft()
                        if op.op is None:
                            op.array[op.off + index] = incoming
                        else:
                            base = (
                                op.own[op.own_off + index] if op.own is not None else op.array[op.off + index]
                            )
                            op.array[op.off + index] = op.combine(base, incoming)
                    self.queued_at_cores -= 1
                op.done = index + 1
                if index + 1 == op.n:
                    self.remaining_ops -= 1
                    pe_left[pe] -= 1
                    if pe_left[pe] == 0:
                        finished.append(pe)
                progress = True
                if self.trace:
                    self.first_active.setdefault(pe, cycle)
                    self.last_active[pe] = cycle
            if served >= 0:
                # The core's ramp is shared by its sending operations: the one served goes to the back.
                ops.append(ops.pop(served))
        for pe in finished:
            self.done_ops.setdefault(pe, []).extend(self.ops.pop(pe))
        return progress

    def fabric_busy(self) -> np.ndarray:
        """Per PE, the larger of the wavelets its core sent and received (relays do both), once the step is done."""
        sent = np.zeros_like(self.compute_busy)
        received = np.zeros_like(self.compute_busy)
        for (y, x), ops in self.done_ops.items():
            for op in ops:
                if op.kind in ("send", "relay"):
                    sent[y, x] += op.done
                if op.kind in ("recv", "relay"):
                    received[y, x] += op.done
        return np.maximum(sent, received)

    def _deadlock(self, cycle: int) -> WafersimError:
        for (y, x), ops in self.ops.items():
            for op in ops:
                if op.done < op.n:
                    color = op.cin if op.kind in ("recv", "relay") else op.cout
                    verb = {"recv": "receive", "relay": "relay", "send": "send"}[op.kind]
                    stuck = ""
                    if self.active:
                        sy, sx, port, scolor = next(iter(self.active))
                        stuck = (
                            f"; wavelets are stuck at {_pe(sy, sx)} (from port {PORT_NAMES[port]}, "
                            f"color {scolor})"
                        )
                    return WafersimError(
                        f"deadlock in step '{self.step.name}' at cycle {cycle}: no progress for {self.window} "
                        f"cycles; {_pe(y, x)} still waits to {verb} {op.n - op.done} of {op.n} wavelets on "
                        f"color {color}{stuck}"
                    )
        if self.active:
            sy, sx, port, scolor = next(iter(self.active))
            return WafersimError(
                f"deadlock in step '{self.step.name}' at cycle {cycle}: wavelets on color {scolor} are stuck at "
                f"{_pe(sy, sx)} (from port {PORT_NAMES[port]}) and no PE receives them"
            )
        (sy, sx, scolor), _ = next((key, q) for key, q in self.pe_q.items() if q)
        return WafersimError(
            f"deadlock in step '{self.step.name}' at cycle {cycle}: {_pe(sy, sx)} was delivered wavelets on color "
            f"{scolor} that no operation of the step receives"
        )

    def run(self) -> int:
        cycle = 0
        stalled = 0
        next_compute = 0
        computes = self.computes
        # Computes with zero cycles take effect at once.
        while next_compute < len(computes) and computes[next_compute][0] < 0:
            self._finish_compute(computes[next_compute])
            next_compute += 1
        while True:
            fabric_busy = bool(self.active) or self.queued_at_cores > 0 or self.remaining_ops > 0
            if not fabric_busy and next_compute >= len(computes):
                return cycle
            if not fabric_busy:
                # Only local computation is left: jump to the cycle it ends (nothing else can happen meanwhile).
                cycle = max(cycle, computes[next_compute][0])
            moves = self._route_moves(cycle)
            progress = self._core_phase(cycle)
            self._apply_moves(moves)
            while next_compute < len(computes) and computes[next_compute][0] <= cycle:
                self._finish_compute(computes[next_compute])
                next_compute += 1
            compute_running = next_compute < len(computes)
            if moves or progress or compute_running:
                stalled = 0
            else:
                stalled += 1
                if stalled >= self.window:
                    raise self._deadlock(cycle)
            cycle += 1

    def _finish_compute(self, item) -> None:
        _, y, x, compute = item
        compute.fn(self.memory, slice(y, y + 1), slice(x, x + 1))


def run_cycle(
    program: Program,
    memory: Memory,
    function: str,
    trace: bool = False,
    deadlock_window_cycles: int = DEFAULT_DEADLOCK_WINDOW_CYCLES,
) -> RunStats:
    stats = RunStats(program.rows, program.cols)
    switches = switched_colors(program, function)
    for step, switched in zip(program.functions[function], switches, strict=True):
        sim = _StepSim(program, memory, step, deadlock_window_cycles, trace, switched)
        with np.errstate(over="ignore"):  # per-wavelet rounding may overflow to inf, as IEEE rounding does
            cycles = sim.run()
        stats.busy_cycles += np.maximum(sim.compute_busy, sim.fabric_busy())  # concurrent, as fast_engine
        for (y, x, port), count in sim.link_counts.items():
            stats.link_wavelets[y, x, port] += count  # port ids 0..3 are N, E, S, W as in LINK_DIRECTIONS
        if trace:
            for (y, x), first in sim.first_active.items():
                stats.trace_events.append(
                    {
                        "name": f"{step.name} (fabric)",
                        "ph": "X",
                        "ts": stats.cycles + first,
                        "dur": sim.last_active[(y, x)] - first + 1,
                        "pid": 0,
                        "tid": y * program.cols + x,
                        "args": {"x": x, "y": y},
                    }
                )
            for finish, y, x, compute in sim.computes:
                if finish >= 0:
                    stats.trace_events.append(
                        {
                            "name": compute.name,
                            "ph": "X",
                            "ts": stats.cycles,
                            "dur": finish + 1,
                            "pid": 0,
                            "tid": y * program.cols + x,
                            "args": {"x": x, "y": y},
                        }
                    )
        stats.add_step(step.name, cycles)
    return stats
