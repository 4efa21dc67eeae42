"""Communication patterns along rows (axis 'x') or columns (axis 'y'), identical on every line (SPMD).

Each pattern is one description with three readings, which is what keeps the two engines on one program:
- `routes()` and `line_ops()`: the per-PE router configurations and core operations (send, receive, relay) that the
  cycle engine executes wavelet by wavelet;
- `flows()`: the streams with their hop counts and the links and ramps they load, from which the fast engine
  derives timing analytically;
- `apply()`: the data movement and arithmetic, vectorized over all lines, that the fast engine performs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from wafersim.errors import WafersimError
from wafersim.fabric.lines import (  # noqa: F401  (LineOp, Offset, combine, offset_at: re-exported)
    Flow,
    LineOp,
    Offset,
    combine,
    compact_grid,
    gather,
    line_links,
    lines_view,
    offset_at,
    placed_links,
    scatter,
)
from wafersim.fabric.pattern_base import LineBroadcast, Pattern, _cached, chain_flows, chain_line_ops
from wafersim.fabric.routing import assign_colors, multicast_route, stream_route


@functools.lru_cache(maxsize=256)
def _cached_shift_layout(axis: str, dest: tuple[int, ...], palette: tuple[int, ...]):
    streams = tuple(stream_route(axis, p, q) for p, q in enumerate(dest) if q >= 0)
    return streams, tuple(assign_colors(streams, palette, "shift"))


def _shift_layout(axis: str, dest: tuple[int, ...], palette: tuple[int, ...], name: str):
    """Routes and colors of a shift (read-only); cached because a GEMM repeats one shift in every round."""
    try:
        return _cached_shift_layout(axis, dest, palette)
    except WafersimError as error:
        raise WafersimError(str(error).replace("shift:", f"pattern '{name}':", 1)) from None


@functools.lru_cache(maxsize=256)
def _shift_flows(axis: str, dest: tuple[int, ...], colors: tuple[int, ...], n: int) -> list[Flow]:
    pairs = [(p, q) for p, q in enumerate(dest) if q >= 0]
    flows = []
    for (p, q), color in zip(pairs, colors, strict=True):
        links, place = placed_links(axis, p, q)
        flows.append(
            Flow(n, (abs(q - p),), links, (p,), (q,), color, link_place=place, in_place=((0, abs(q - p)),))
        )
    return flows


@dataclass(frozen=True, eq=False)
class Multicast(LineBroadcast):
    """Every line: the PE at `root` sends src[src_off:+n] to dst[dst_off:+n] of every other PE on the line."""

    name: str
    axis: str
    root: int
    src: str
    dst: str
    n: int
    color: int
    length: int
    src_off: int = 0
    dst_off: int = 0

    @property
    def colors(self) -> tuple[int, ...]:
        return (self.color,)

    def routes(self):
        if self.length == 1:
            return []
        return [(self.color, multicast_route(self.axis, self.root, 0, self.length - 1))]

    @_cached
    def line_ops(self) -> list[LineOp]:
        if self.length == 1:
            return []
        ops = [LineOp("send", self.root, self.n, self.src, self.src_off, color_out=self.color)]
        ops += [
            LineOp("recv", p, self.n, self.dst, self.dst_off, color_in=self.color) for p in self._others()
        ]
        return ops

    @_cached
    def flows(self) -> list[Flow]:
        if self.length == 1:
            return []
        reach = max(self.length - 1 - self.root, self.root)
        links = line_links(self.axis, self.root, self.length - 1) + line_links(self.axis, self.root, 0)
        place = tuple((0, abs(pos - self.root)) for pos, _ in links)
        others = tuple(self._others())
        in_place = tuple((0, abs(p - self.root)) for p in others)
        return [
            Flow(
                self.n, (reach,), links, (self.root,), others, self.color, link_place=place, in_place=in_place
            )
        ]


@dataclass(frozen=True, eq=False)
class Shift(Pattern):
    """Every line: position p sends src[src_off:+n] to position dest[p] (-1: none), stored or combined (op).

    Colors come from `palette`, assigned greedily so that no PE needs two configurations of one color.
    """

    name: str
    axis: str
    dest: tuple[int, ...]
    src: str
    dst: str
    n: int
    palette: tuple[int, ...]
    src_off: Offset = 0
    dst_off: Offset = 0
    op: str | None = None
    lines: tuple[int, ...] | None = None  # run on these lines only (e.g. Cannon's skew); offsets then scalar

    def __post_init__(self) -> None:
        targets = [q for q in self.dest if q >= 0]
        if len(set(targets)) != len(targets):
            raise WafersimError(f"pattern '{self.name}': two positions send to the same destination")
        if any(q == p for p, q in enumerate(self.dest)):
            raise WafersimError(f"pattern '{self.name}': a position sends to itself")
        streams, colors = _shift_layout(self.axis, tuple(self.dest), tuple(self.palette), self.name)
        object.__setattr__(self, "_stream_routes", streams)
        object.__setattr__(self, "_colors", colors)

    def _pairs(self) -> list[tuple[int, int]]:
        return [(p, q) for p, q in enumerate(self.dest) if q >= 0]

    @property
    def colors(self) -> tuple[int, ...]:
        return tuple(sorted(set(self._colors)))

    def check(self, program) -> None:
        if len(self.dest) != self.line_length(program):
            raise WafersimError(
                f"pattern '{self.name}': dest has {len(self.dest)} entries, line has "
                f"{self.line_length(program)} PEs"
            )
        self._check_common(
            program, [q for q in self.dest if q >= 0], [(self.src, self.src_off), (self.dst, self.dst_off)]
        )
        if self.lines is not None:
            count = program.rows if self.axis == "x" else program.cols
            if (
                not self.lines
                or len(set(self.lines)) != len(self.lines)
                or not all(0 <= line < count for line in self.lines)
            ):
                raise WafersimError(
                    f"pattern '{self.name}': lines {list(self.lines)} are not distinct lines of "
                    f"0..{count - 1}"
                )
            if np.ndim(self.src_off) or np.ndim(self.dst_off):
                raise WafersimError(f"pattern '{self.name}': a shift on some lines takes scalar offsets")
        if self.src == self.dst:
            # In place only on disjoint windows (ring collectives send one chunk while receiving another).
            shape = (program.rows, program.cols)
            gap = np.abs(
                compact_grid(np.broadcast_to(self.src_off, shape))
                - compact_grid(np.broadcast_to(self.dst_off, shape))
            )
            if gap.min() < self.n:
                y, x = np.unravel_index(int(np.argmin(gap)), gap.shape)
                y, x = (y if gap.shape[0] > 1 else 0), (x if gap.shape[1] > 1 else 0)
                raise WafersimError(
                    f"pattern '{self.name}': PE (x={x}, y={y}) would send and receive overlapping windows of "
                    f"'{self.src}'; double-buffer the shift"
                )

    def routes(self):
        return list(zip(self._colors, self._stream_routes, strict=True))

    @_cached
    def line_ops(self) -> list[LineOp]:
        ops = []
        for (p, q), color in zip(self._pairs(), self._colors, strict=True):
            ops.append(LineOp("send", p, self.n, self.src, self.src_off, color_out=color))
            ops.append(LineOp("recv", q, self.n, self.dst, self.dst_off, color_in=color, op=self.op))
        return ops

    @_cached
    def flows(self) -> list[Flow]:
        return _shift_flows(self.axis, tuple(self.dest), self._colors, self.n)

    def timing_key(self) -> tuple:
        # The flows follow from these; hashing them is much cheaper than hashing the flows of a long line.
        return ("Shift", self.axis, self.n, tuple(self.dest), self._colors)

    def apply(self, memory, program) -> None:
        pairs = self._pairs()
        if not pairs:
            return
        src, dst, axis = memory[self.src], memory[self.dst], self.axis
        if self.lines is not None:
            # Work on copies of the named lines, line-major (so axis 'x'), and write them back.
            lines = list(self.lines)
            src, dst, axis = lines_view(src, self.axis)[lines], lines_view(dst, self.axis)[lines], "x"
        sources = [p for p, _ in pairs]
        targets = [q for _, q in pairs]
        values = gather(src, axis, sources, self.src_off, self.n)
        if self.op is not None:
            values = combine(
                program.symbols[self.dst].dtype,
                self.op,
                gather(dst, axis, targets, self.dst_off, self.n),
                values,
            )
        scatter(dst, axis, targets, self.dst_off, self.n, values)
        if self.lines is not None:
            lines_view(memory[self.dst], self.axis)[list(self.lines)] = dst


@dataclass(frozen=True, eq=False)
class ChainReduce(Pattern):
    """Every line, every chain [p0, .., pk]: pipelined reduction toward pk (the vendor's pipelined reduce).

    p0 streams its src; each middle PE combines its own src with the incoming wavelet and forwards the result
    wavelet by wavelet; pk stores op(own src, incoming) into dst, or only the incoming partial when `last_own` is
    False (a second chain ending on a PE another chain already reduces into; K-tree, collectives.py). Chains may
    skip PEs (K-tree level 2).
    """

    name: str
    axis: str
    chains: tuple[tuple[int, ...], ...]
    src: str
    dst: str
    n: int
    palette: tuple[int, ...]
    op: str = "add"
    src_off: int = 0
    dst_off: int = 0
    last_own: bool = True

    def __post_init__(self) -> None:
        streams = []
        for chain in self.chains:
            if len(chain) < 2:
                raise WafersimError(
                    f"pattern '{self.name}': a chain needs at least two PEs, got {list(chain)}"
                )
            streams += [stream_route(self.axis, a, b) for a, b in zip(chain, chain[1:], strict=False)]
        object.__setattr__(self, "_stream_routes", streams)
        object.__setattr__(self, "_colors", assign_colors(streams, self.palette, f"pattern '{self.name}'"))

    @property
    def colors(self) -> tuple[int, ...]:
        return tuple(sorted(set(self._colors)))

    def check(self, program) -> None:
        self._check_common(
            program,
            [p for chain in self.chains for p in chain],
            [(self.src, self.src_off), (self.dst, self.dst_off)],
        )

    def routes(self):
        return list(zip(self._colors, self._stream_routes, strict=True))

    def _stage_colors(self):
        colors = iter(self._colors)
        for chain in self.chains:
            yield chain, [next(colors) for _ in chain[1:]]

    @_cached
    def line_ops(self) -> list[LineOp]:
        relay = {"sym": self.src, "off": self.src_off, "op": self.op}
        recv = {"sym": self.dst, "off": self.dst_off, "op": self.op, "own": self.src, "own_off": self.src_off}
        if not self.last_own:
            recv = {"sym": self.dst, "off": self.dst_off}
        return chain_line_ops(self._stage_colors(), self.n, (self.src, self.src_off), relay, recv)

    @_cached
    def flows(self) -> list[Flow]:
        return chain_flows(self.axis, self.n, self._stage_colors())

    def apply(self, memory, program) -> None:
        src = memory[self.src]
        dtype = program.symbols[self.dst].dtype
        for chain in self.chains:
            acc = gather(src, self.axis, [chain[0]], self.src_off, self.n)
            for pos in chain[1:] if self.last_own else chain[1:-1]:
                acc = combine(dtype, self.op, gather(src, self.axis, [pos], self.src_off, self.n), acc)
            scatter(memory[self.dst], self.axis, [chain[-1]], self.dst_off, self.n, acc)


@dataclass(frozen=True, eq=False)
class Stream(Pattern):
    """Every line: one point-to-point stream of n wavelets from `src_pos` to `dst_pos` on `color`.

    The receiver takes `recv_n` wavelets (default n). A mismatch is a program bug: the cycle engine finds it as a
    deadlock at run time; the fast engine, which has no run-time wavelets to watch, reports it before running.
    """

    name: str
    axis: str
    src_pos: int
    dst_pos: int
    src: str
    dst: str
    n: int
    color: int
    recv_n: int | None = None

    @property
    def colors(self) -> tuple[int, ...]:
        return (self.color,)

    @property
    def _received(self) -> int:
        return self.n if self.recv_n is None else self.recv_n

    def check(self, program) -> None:
        self._check_common(program, [self.src_pos, self.dst_pos], [(self.src, 0), (self.dst, 0)])
        if self._received > program.symbols[self.dst].elems_per_pe:
            raise WafersimError(
                f"pattern '{self.name}': receives {self._received} elements into '{self.dst}' "
                f"of {program.symbols[self.dst].elems_per_pe}"
            )

    def static_deadlock(self, program) -> str | None:
        if self._received == self.n:
            return None
        y, x = (0, self.dst_pos) if self.axis == "x" else (self.dst_pos, 0)
        if self._received > self.n:
            return (
                f"PE (x={x}, y={y}) waits to receive {self._received} wavelets on color {self.color} but only "
                f"{self.n} are sent to it"
            )
        return (
            f"{self.n - self._received} wavelets on color {self.color} reach PE (x={x}, y={y}) and no "
            "operation receives them"
        )

    def routes(self):
        return [(self.color, stream_route(self.axis, self.src_pos, self.dst_pos))]

    @_cached
    def line_ops(self) -> list[LineOp]:
        return [
            LineOp("send", self.src_pos, self.n, self.src, 0, color_out=self.color),
            LineOp("recv", self.dst_pos, self._received, self.dst, 0, color_in=self.color),
        ]

    @_cached
    def flows(self) -> list[Flow]:
        links = line_links(self.axis, self.src_pos, self.dst_pos)
        hops = (abs(self.dst_pos - self.src_pos),)
        place = tuple((0, abs(pos - self.src_pos)) for pos, _ in links)
        return [
            Flow(
                self.n,
                hops,
                links,
                (self.src_pos,),
                (self.dst_pos,),
                self.color,
                link_place=place,
                in_place=((0, hops[0]),),
            )
        ]

    def apply(self, memory, program) -> None:
        values = gather(memory[self.src], self.axis, [self.src_pos], 0, self.n)
        scatter(memory[self.dst], self.axis, [self.dst_pos], 0, self.n, values)
