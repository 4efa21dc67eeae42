"""Software-relayed line broadcast: what a broadcast costs when its routes cannot be held by the routers.

A multicast from a root that moves (SUMMA: a different root every panel) needs a different route configuration
at each PE for every root position relative to it, and a router holds only `route_positions_per_color`
configurations per color (see switching.py). Past what the colors and positions can hold, the paths go through
the cores instead (WaferLLM, He et al., OSDI 2025: the PLMR model's beta * r term, one software routing stage per
relaying core): every PE's core receives the block from its neighbour, stores it and sends it on. The routes are
then one-hop streams that do not depend on the root, so they are loaded once and never switched: stage p -> p+1
uses color east[p % 2], stage p -> p-1 west[p % 2] (four colors per axis, neighbouring stages alternating as CSL
programs do). Each hop pays a link hop and two ramp crossings instead of one hop, and each relaying core streams
the block in and out.
"""

from __future__ import annotations

from dataclasses import dataclass

from wafersim.errors import WafersimError
from wafersim.fabric.lines import Flow, LineOp
from wafersim.fabric.pattern_base import LineBroadcast, _cached, chain_flows, chain_line_ops
from wafersim.fabric.routing import stream_route


@dataclass(frozen=True, eq=False)
class RelayCast(LineBroadcast):
    """Every line: the PE at `root` sends src[src_off:+n]; every other PE stores it in dst[dst_off:+n] and, unless
    it ends the line, relays it to its next neighbour away from the root. `palette`: (east0, east1, west0, west1).
    """

    name: str
    axis: str
    root: int
    src: str
    dst: str
    n: int
    palette: tuple[int, int, int, int]
    length: int
    src_off: int = 0
    dst_off: int = 0

    def __post_init__(self) -> None:
        if len(self.palette) != 4 or len(set(self.palette)) != 4:
            raise WafersimError(f"pattern '{self.name}': a relayed broadcast needs 4 distinct colors")

    @property
    def colors(self) -> tuple[int, ...]:
        return tuple(sorted(self.palette)) if self.length > 1 else ()

    def _chains(self) -> list[tuple[list[int], list[int]]]:
        """(positions from the root outward, color of each stage) for the eastward and westward chains."""
        east = list(range(self.root, self.length))
        west = list(range(self.root, -1, -1))
        chains = []
        if len(east) > 1:
            chains.append((east, [self.palette[p % 2] for p in east[:-1]]))
        if len(west) > 1:
            chains.append((west, [self.palette[2 + p % 2] for p in west[:-1]]))
        return chains

    def routes(self):
        return [
            (color, stream_route(self.axis, a, b))
            for chain, colors in self._chains()
            for a, b, color in zip(chain, chain[1:], colors, strict=False)
        ]

    @_cached
    def line_ops(self) -> list[LineOp]:
        # Relays (op None) store the incoming wavelet and forward it unchanged.
        stored = {"sym": self.dst, "off": self.dst_off}
        return chain_line_ops(self._chains(), self.n, (self.src, self.src_off), stored, stored)

    @_cached
    def flows(self) -> list[Flow]:
        return chain_flows(self.axis, self.n, self._chains())

    def timing_key(self) -> tuple:
        return ("RelayCast", self.axis, self.n, self.root, self.length, self.palette)
