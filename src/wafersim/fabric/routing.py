"""Router geometry: ports, per-PE/per-color route configurations, color assignment and ring layouts.

A route configuration for one PE and one color is a pair (rx, tx) of port sets, as in the vendor SDK: a wavelet of
that color arriving from any port in rx is forwarded to every port in tx (several = multicast). Two uses of one
color on one PE that need different (rx, tx) pairs conflict: the program must use another color.
"""

from __future__ import annotations

from collections.abc import Iterable

from wafersim.errors import WafersimError

OPPOSITE = {"N": "S", "S": "N", "E": "W", "W": "E"}
# Moving to a higher position along an axis leaves by this port ('x': East, 'y': South).
FORWARD = {"x": "E", "y": "S"}
BACKWARD = {"x": "W", "y": "N"}

RouteConfig = tuple[frozenset[str], frozenset[str]]
LineRoutes = dict[int, RouteConfig]  # position along the line -> config


def step_port(axis: str, delta: int) -> str:
    return FORWARD[axis] if delta > 0 else BACKWARD[axis]


def pe_of(axis: str, line: int, pos: int) -> tuple[int, int]:
    """(y, x) of position `pos` on line `line` of a pattern along `axis`."""
    return (line, pos) if axis == "x" else (pos, line)


def describe_pe(y: int, x: int) -> str:
    return f"PE (x={x}, y={y})"


def stream_route(axis: str, src: int, dst: int) -> LineRoutes:
    """Configs for a point-to-point stream from `src` to `dst` along one line."""
    if src == dst:
        raise WafersimError(f"stream from position {src} to itself along axis {axis}")
    out = step_port(axis, dst - src)
    back = OPPOSITE[out]
    routes: LineRoutes = {src: (frozenset({"RAMP"}), frozenset({out}))}
    step = 1 if dst > src else -1
    for pos in range(src + step, dst, step):
        routes[pos] = (frozenset({back}), frozenset({out}))
    routes[dst] = (frozenset({back}), frozenset({"RAMP"}))
    return routes


def multicast_route(axis: str, root: int, lo: int, hi: int) -> LineRoutes:
    """Configs for a multicast from `root` to every other position of [lo, hi] along one line."""
    tx = set()
    if root < hi:
        tx.add(FORWARD[axis])
    if root > lo:
        tx.add(BACKWARD[axis])
    routes: LineRoutes = {root: (frozenset({"RAMP"}), frozenset(tx))}
    for pos in range(root + 1, hi + 1):
        onward = {"RAMP", FORWARD[axis]} if pos < hi else {"RAMP"}
        routes[pos] = (frozenset({BACKWARD[axis]}), frozenset(onward))
    for pos in range(lo, root):
        onward = {"RAMP", BACKWARD[axis]} if pos > lo else {"RAMP"}
        routes[pos] = (frozenset({FORWARD[axis]}), frozenset(onward))
    return routes


def merge_routes(table: LineRoutes, extra: LineRoutes) -> int | None:
    """Merge `extra` into `table`; return the first conflicting position (nothing merged then) or None."""
    for pos, config in extra.items():
        if pos in table and table[pos] != config:
            return pos
    table.update(extra)
    return None


def assign_colors(streams: Iterable[LineRoutes], palette: tuple[int, ...], what: str) -> list[int]:
    """Greedily give each stream the first color of `palette` whose routes do not conflict on the line."""
    tables: dict[int, LineRoutes] = {color: {} for color in palette}
    colors = []
    for index, routes in enumerate(streams):
        for color in palette:
            if merge_routes(tables[color], routes) is None:
                colors.append(color)
                break
        else:
            raise WafersimError(
                f"{what}: stream {index} (positions {min(routes)}..{max(routes)}) conflicts with the routes of "
                f"every color in its palette {list(palette)}; give the pattern more colors"
            )
    return colors


def interleaved_ring(n: int) -> list[int]:
    """Physical positions in logical ring order with every ring neighbour at most 2 hops away.

    WaferLLM (He et al., OSDI 2025), MeshGEMM: even positions ascending, then odd positions descending, so
    logical i and i+1 sit 2 apart except at the two turn-arounds, which are 1 apart.
    """
    return list(range(0, n, 2)) + sorted(range(1, n, 2), reverse=True)


def check_step_routes(program, step, where: str) -> None:
    """Two patterns of one step may share a color only if their PEs are disjoint (else routes conflict)."""
    by_color: dict[int, list] = {}
    for pattern in step.patterns:
        for color in pattern.colors:
            by_color.setdefault(color, []).append(pattern)
    for color, users in by_color.items():
        for i, first in enumerate(users):
            for second in users[i + 1 :]:
                pe = _shared_pe(first, second, color, program)
                if pe is not None:
                    raise WafersimError(
                        f"{where}: conflicting routes at {describe_pe(*pe)} on color {color}: patterns "
                        f"'{first.name}' and '{second.name}' both configure it"
                    )


def _shared_pe(first, second, color: int, program) -> tuple[int, int] | None:
    a = first.footprint(color)
    b = second.footprint(color)
    if not a or not b:
        return None
    if first.axis == second.axis:
        common = sorted(set(a) & set(b))
        lines = sorted(set(first.line_indices(program)) & set(second.line_indices(program)))
        return pe_of(first.axis, lines[0], common[0]) if common and lines else None
    row_pattern, col_pattern = (first, second) if first.axis == "x" else (second, first)
    row_positions, col_positions = (a, b) if first.axis == "x" else (b, a)
    # A row pattern touches (y in its lines, x in its positions); a column pattern (y in positions, x in lines).
    ys = sorted(set(row_pattern.line_indices(program)) & set(col_positions))
    xs = sorted(set(col_pattern.line_indices(program)) & set(row_positions))
    return (ys[0], xs[0]) if ys and xs else None
