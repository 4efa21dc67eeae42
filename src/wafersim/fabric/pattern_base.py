"""What every communication pattern is (patterns.py, relays.py): the base class with its common checks and
cached readings; what a line broadcast is, however it travels (routed multicast or relayed by the cores); and the
pipelined chain of stages that a chain reduction and a relayed broadcast share (each middle PE receives a
wavelet, combines or stores it, and sends it on to the next stage).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from wafersim.errors import WafersimError
from wafersim.fabric.lines import Flow, LineOp, Offset, gather, placed_links, scatter
from wafersim.fabric.routing import LineRoutes


def _cached(method):
    """Compute a pure pattern method once per pattern instance."""
    attribute = f"_cached_{method.__name__}"

    @functools.wraps(method)
    def wrapper(self):
        if attribute not in self.__dict__:
            object.__setattr__(self, attribute, method(self))
        return self.__dict__[attribute]

    return wrapper


class Pattern:
    """Common checks. Subclasses set name, axis, n, src, dst and colors; a pattern reads its source symbol and
    writes its destination.

    flows() and line_ops() are pure; the engines ask for them several times per step, so they are computed once
    per pattern (see _cached)."""

    name: str
    axis: str
    n: int
    src: str
    dst: str
    colors: tuple[int, ...]

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.src,)

    @property
    def writes(self) -> tuple[str, ...]:
        return (self.dst,)

    def line_length(self, program) -> int:
        return program.cols if self.axis == "x" else program.rows

    def line_indices(self, program) -> list[int]:
        """The lines (rows for axis 'x', columns for 'y') the pattern runs on: all, unless it names some."""
        lines = getattr(self, "lines", None)
        count = program.rows if self.axis == "x" else program.cols
        return list(range(count)) if lines is None else list(lines)

    def _check_common(
        self, program, positions: Sequence[int], accesses: Sequence[tuple[str, Offset]]
    ) -> None:
        if self.axis not in ("x", "y"):
            raise WafersimError(f"pattern '{self.name}': axis must be 'x' or 'y', got {self.axis!r}")
        if self.n < 1:
            raise WafersimError(f"pattern '{self.name}': n must be >= 1, got {self.n}")
        length = self.line_length(program)
        bad = [p for p in positions if not 0 <= p < length]
        if bad:
            raise WafersimError(
                f"pattern '{self.name}': position {bad[0]} is outside the line of {length} PEs along axis {self.axis}"
            )
        for sym, off in accesses:
            size = program.symbols[sym].elems_per_pe if sym in program.symbols else None
            if size is None:
                raise WafersimError(f"pattern '{self.name}': undeclared symbol '{sym}'")
            top = int(np.max(off)) + self.n
            if int(np.min(off)) < 0 or top > size:
                raise WafersimError(
                    f"pattern '{self.name}': access {sym}[{int(np.min(off))}..{top}) is outside the symbol's "
                    f"{size} elements per PE"
                )

    def timing_key(self) -> tuple:
        """Everything the analytic timing of this pattern depends on (equal keys, equal timing). Which lines run
        it does not matter: every line is timed alike and lines run in parallel."""
        return (type(self).__name__, self.axis, self.n, tuple(self.flows()))

    def footprint(self, color: int) -> list[int]:
        return sorted({pos for c, routes in self.routes() if c == color for pos in routes})

    def routes(self) -> list[tuple[int, LineRoutes]]:
        raise NotImplementedError


class LineBroadcast(Pattern):
    """A broadcast along every line: the PE at `root` sends src[src_off:+n] and every other PE of the line (of
    `length` PEs) stores it in dst[dst_off:+n]. Subclasses say how it travels (routes, line_ops, flows)."""

    root: int
    length: int
    src_off: Offset
    dst_off: Offset

    def _others(self) -> list[int]:
        return [p for p in range(self.length) if p != self.root]

    def check(self, program) -> None:
        if self.length != self.line_length(program):
            raise WafersimError(
                f"pattern '{self.name}': built for lines of {self.length} PEs, program has "
                f"{self.line_length(program)}"
            )
        self._check_common(program, [self.root], [(self.src, self.src_off), (self.dst, self.dst_off)])

    def apply(self, memory, program) -> None:
        if self.length == 1:
            return
        values = gather(memory[self.src], self.axis, [self.root], self.src_off, self.n)
        scatter(memory[self.dst], self.axis, self._others(), self.dst_off, self.n, values)


Chains = Iterable[tuple[Sequence[int], Sequence[int]]]  # (PEs of a chain, color of each of its stages)


def chain_line_ops(
    chains: Chains, n: int, send: tuple[str, Offset], relay: dict[str, Any], recv: dict[str, Any]
) -> list[LineOp]:
    """The core operations of pipelined chains: in each, chain[0] sends `send` (symbol, offset) on colors[0];
    each middle PE relays from colors[i - 1] to colors[i] (LineOp fields in `relay`: sym, off, op); the last PE
    receives from colors[-1] (fields in `recv`)."""
    ops = []
    for chain, colors in chains:
        ops.append(LineOp("send", chain[0], n, *send, color_out=colors[0]))
        for i, pos in enumerate(chain[1:-1], start=1):
            ops.append(LineOp("relay", pos, n, color_in=colors[i - 1], color_out=colors[i], **relay))
        ops.append(LineOp("recv", chain[-1], n, color_in=colors[-1], **recv))
    return ops


def chain_flows(axis: str, n: int, chains: Chains) -> list[Flow]:
    """Each chain's stream for analytic timing: stage i runs chain[i] -> chain[i + 1] on colors[i], each stage's
    links placed by the stage and their distance from its sender."""
    return [_chain_flow(axis, n, chain, colors) for chain, colors in chains]


def _chain_flow(axis: str, n: int, chain: Sequence[int], colors: Sequence[int]) -> Flow:
    pairs = list(zip(chain, chain[1:], strict=False))
    hops = tuple(abs(b - a) for a, b in pairs)
    stages = [placed_links(axis, a, b, i) for i, (a, b) in enumerate(pairs)]
    links = tuple(link for stage_links, _ in stages for link in stage_links)
    place = tuple(spot for _, stage_place in stages for spot in stage_place)
    link_colors = tuple(
        color for (stage_links, _), color in zip(stages, colors, strict=True) for _ in stage_links
    )
    return Flow(
        n,
        hops,
        links,
        tuple(chain[:-1]),
        tuple(chain[1:]),
        colors[0],
        link_colors,
        place,
        tuple(enumerate(hops)),
    )
