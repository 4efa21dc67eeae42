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
"""

from __future__ import annotations

from wafersim.fabric.program import Program

# color -> axis -> position -> (index of the step that set it, configuration)
_State = dict[int, dict[str, dict[int, tuple[int, tuple]]]]


def switched_colors(program: Program, function: str) -> list[dict[int, frozenset[int]]]:
    """For each step of `function`: {pattern index: colors it must switch with a control wavelet}."""
    state: _State = {}
    newest: dict[tuple[int, str], int] = {}  # (color, axis) -> last step that configured it along that axis
    # (color, axis) -> (ids of the route tables last written, step that wrote them): a step re-applying the very
    # same tables (a GEMM's or a ring's repeated shift) needs no switch and no bookkeeping.
    written: dict[tuple[int, str], tuple[tuple[int, ...], int]] = {}
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
                updates.append((color, pattern.axis, tables, ids))
        for color, axis, tables, ids in updates:
            positions = state.setdefault(color, {}).setdefault(axis, {})
            for routes in tables:
                for pos, config in routes.items():
                    positions[pos] = (index, config)
            newest[(color, axis)] = index
            written[(color, axis)] = (ids, index)
        result.append({number: frozenset(colors) for number, colors in switched.items()})
    return result
