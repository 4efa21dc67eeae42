"""Route switching by control wavelets.

Routes are static: every (PE, color) configuration a program needs is loaded with the program, as a list of switch
positions in step order. The first configuration of a color on a PE is in place from the start; moving a router to
its next position takes a control wavelet. Here, when a step configures a color differently from the
configuration its PEs currently hold, every source of that color in the step (a stream's sender, or a relay for its
outgoing stage) first sends one control wavelet: it switches each router it reaches, is forwarded along the new
route like data, and is dropped at the receiving PEs' ramps. It costs one wavelet slot on each such stream (the
cycle engine simulates it; the fast engine counts it), and nothing when consecutive steps reuse a configuration.

Tracking is per line position because every line of a pattern is configured alike (SPMD); a color last set by a
pattern along the other axis is assumed to hold a different configuration wherever the two cross.

Route positions are bounded. A router holds, per color, its default route plus a few switch positions
(`router.route_positions_per_color`: 4 on WSE-2/3, SDK tutorial "switches"), loaded with the program, and every
control wavelet a router receives moves that color to its next position, wrapping to the first (ring mode). So the
configurations a (PE, color) takes over a function, one per control wavelet reaching it, must repeat with a period
of at most that many positions. A program that needs more raises a WafersimError naming the PE and the color; the
library kernels stay within the limit by using more colors or by relaying through cores (`RelayCast`), and pay
for it in cycles.
"""

from __future__ import annotations

from wafersim.errors import WafersimError
from wafersim.fabric.program import Program
from wafersim.fabric.routing import describe_pe, pe_of

# color -> axis -> position -> (index of the step that set it, configuration)
_State = dict[int, dict[str, dict[int, tuple[int, tuple]]]]


def switched_colors(program: Program, function: str) -> list[dict[int, frozenset[int]]]:
    """For each step of `function`: {pattern index: colors it must switch with a control wavelet}. Raises a
    WafersimError when a router would need more route positions per color than it holds."""
    result, sequences, where = _plan(program, function)
    _check_positions(program, function, sequences, where)
    return result


def routing_record(program: Program, function: str) -> dict[str, int]:
    """What a function asks of the routers, for a kernel's result: the most route positions any (PE, color)
    needs, the control wavelets sent to switch routes, and the broadcast hops relayed through cores because the
    routes could not be held (RelayCast: PE relay operations and the wavelets they forwarded)."""
    from wafersim.fabric.relays import RelayCast  # relays imports patterns; keep this module light

    result, sequences, _ = _plan(program, function)
    control = relays = relayed = 0
    for step, switched in zip(program.functions[function], result, strict=True):
        for number, pattern in enumerate(step.patterns):
            lines = len(pattern.line_indices(program))
            colors = switched.get(number, frozenset())
            for op in pattern.line_ops():
                control += lines * (op.color_out is not None and op.color_out in colors)
                if isinstance(pattern, RelayCast) and op.kind == "relay":
                    relays += lines
                    relayed += lines * op.n
    return {
        "route_positions_max": max((positions_needed(seq) for seq in sequences.values()), default=0),
        "route_positions_per_color": program.arch.router.route_positions_per_color,
        "colors_used": len(program.colors_used()),
        "control_wavelets": control,
        "relay_operations": relays,
        "relayed_wavelets": relayed,
    }


def _plan(program: Program, function: str):
    state: _State = {}
    newest: dict[tuple[int, str], int] = {}  # (color, axis) -> last step that configured it along that axis
    # (color, axis) -> (ids of the route tables last written, step that wrote them): a step re-applying the very
    # same tables (a GEMM's or a ring's repeated shift) needs no switch and no bookkeeping.
    written: dict[tuple[int, str], tuple[tuple[int, ...], int]] = {}
    # (color, axis, position) -> configurations in the order its router takes them, and a line that uses it.
    sequences: dict[tuple[int, str, int], list] = {}
    where: dict[tuple[int, str, int], tuple[int, int]] = {}
    result = []
    for index, step in enumerate(program.functions[function]):
        switched: dict[int, set[int]] = {}
        updates = []
        for number, pattern in enumerate(step.patterns):
            other_axis = "y" if pattern.axis == "x" else "x"
            by_color: dict[int, list] = {}
            for color, routes in pattern.routes():
                by_color.setdefault(color, []).append(routes)
            for color, tables in by_color.items():
                newest_other = newest.get((color, other_axis), -1)
                ids = tuple(id(table) for table in tables)
                previous_write = written.get((color, pattern.axis))
                if previous_write and previous_write[0] == ids and newest_other <= previous_write[1]:
                    newest[(color, pattern.axis)] = index
                    continue
                same = state.get(color, {}).get(pattern.axis, {})
                for routes in tables:
                    if any(
                        (previous := same.get(pos)) is not None
                        and previous[1] != config
                        or newest_other > (previous[0] if previous else -1)
                        for pos, config in routes.items()
                    ):
                        switched.setdefault(number, set()).add(color)
                        break
                updates.append((number, color, pattern.axis, tables, ids, pattern.line_indices(program)[0]))
        for number, color, axis, tables, ids, line in updates:
            positions = state.setdefault(color, {}).setdefault(axis, {})
            advanced = color in switched.get(number, ())
            for routes in tables:
                for pos, config in routes.items():
                    positions[pos] = (index, config)
                    sequence = sequences.setdefault((color, axis, pos), [])
                    # A control wavelet moves every router it reaches one position on; otherwise a first use
                    # is the configuration loaded with the program.
                    if advanced or not sequence:
                        sequence.append(config)
                        where[(color, axis, pos)] = (line, index)
            newest[(color, axis)] = index
            written[(color, axis)] = (ids, index)
        result.append({number: frozenset(colors) for number, colors in switched.items()})
    return result, sequences, where


def positions_needed(sequence: list) -> int:
    """Switch positions a router needs to take `sequence` in order, wrapping around (ring mode): its shortest
    period."""
    for period in range(1, len(sequence)):
        if all(sequence[i] == sequence[i - period] for i in range(period, len(sequence))):
            return period
    return len(sequence)


def _check_positions(program: Program, function: str, sequences: dict, where: dict) -> None:
    limit = program.arch.router.route_positions_per_color
    for (color, axis, pos), sequence in sequences.items():
        if len(sequence) <= limit:
            continue
        needed = positions_needed(sequence)
        if needed > limit:
            line, step = where[(color, axis, pos)]
            name = program.functions[function][step].name
            raise WafersimError(
                f"function '{function}': {describe_pe(*pe_of(axis, line, pos))} needs {needed} route positions on "
                f"color {color} (by step '{name}'; {len(set(sequence))} distinct configurations, one per control "
                f"wavelet) but a router holds {limit} per color; spread the paths over more colors or relay them "
                "through cores"
            )
