"""Line-level building blocks shared by the patterns and both engines: the core operations a pattern asks of a
PE (LineOp), the streams it puts on the fabric for analytic timing (Flow), and the vectorized data movement along
rows (axis 'x') or columns (axis 'y') that the fast engine performs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wafersim.errors import WafersimError
from wafersim.fabric.dtypes import DType
from wafersim.fabric.routing import step_port

Offset = int | np.ndarray  # element offset, the same on every PE or one per PE (rows, cols)


@dataclass(frozen=True)
class LineOp:
    """A core operation at position `pos` of every line. kind: 'send' | 'recv' | 'relay'.

    send: stream sym[off:off+n] out on color_out. recv: take n wavelets from color_in into sym[off:], combined as
    op(own[own_off+i], incoming) when `own` is set, else stored (op None) or op(sym, incoming).
    relay: take a wavelet from color_in, combine op(sym[off+i], incoming), send the result on color_out.
    """

    kind: str
    pos: int
    n: int
    sym: str
    off: Offset = 0
    color_in: int | None = None
    color_out: int | None = None
    op: str | None = None
    own: str | None = None
    own_off: Offset = 0


@dataclass(frozen=True)
class Flow:
    """One stream for analytic timing: `n` wavelets through pipelined stages of `hops` each.

    Where and when it loads the fabric: `links` (with the stage each belongs to and its distance in hops from
    that stage's sender), `ramp_out` (the sender of each stage, in order) and `ramp_in` (each receiving PE with
    its stage and distance; the last stage's receivers are the final ones, earlier ones are relays)."""

    n: int
    hops: tuple[int, ...]
    links: tuple[tuple[int, str], ...]  # (position the link leaves, port) on the line
    ramp_out: tuple[int, ...]
    ramp_in: tuple[int, ...]
    first_color: int = -1  # color of the first stage (a route switch on it delays the whole stream)
    link_colors: tuple[int, ...] = ()  # color of the stage each link belongs to (default: first_color)
    link_place: tuple[tuple[int, int], ...] = ()  # (stage, hops from the stage's sender) per link
    in_place: tuple[tuple[int, int], ...] = ()  # (stage, hops from the stage's sender) per ramp_in entry

    def link_color(self, index: int) -> int:
        return self.link_colors[index] if self.link_colors else self.first_color


def placed_links(axis: str, a: int, b: int, stage: int = 0):
    links = line_links(axis, a, b)
    return links, tuple((stage, abs(pos - a)) for pos, _ in links)


def combine(dtype: DType, op: str, own: np.ndarray, incoming: np.ndarray) -> np.ndarray:
    if op == "add":
        return dtype.add(own, incoming)
    if op == "max":
        return dtype.max(own, incoming)
    raise WafersimError(f"unknown combine op '{op}' (add, max)")


def offset_at(off: Offset, y: int, x: int) -> int:
    return int(off) if np.ndim(off) == 0 else int(off[y, x])


def compact_grid(array: np.ndarray) -> np.ndarray:
    """A broadcast (rows, cols) offset grid reduced to its distinct axes (size 1 where it is broadcast), so
    whole-wafer checks do not touch a million equal entries."""
    return array[tuple(slice(0, 1) if stride == 0 else slice(None) for stride in array.strides)]


def lines_view(array: np.ndarray, axis: str) -> np.ndarray:
    """(lines, positions, ...) view of a (rows, cols, ...) array."""
    return array if axis == "x" else array.swapaxes(0, 1)


def gather(array: np.ndarray, axis: str, positions: Sequence[int], off: Offset, n: int) -> np.ndarray:
    sub = lines_view(array, axis)[:, list(positions), :]
    if np.ndim(off) == 0:
        return sub[:, :, int(off) : int(off) + n]
    index = lines_view(np.asarray(off), axis)[:, list(positions), None] + np.arange(n)
    return np.take_along_axis(sub, index, axis=2)


def scatter(array: np.ndarray, axis: str, positions: Sequence[int], off: Offset, n: int, values) -> None:
    view = lines_view(array, axis)
    positions = list(positions)
    if np.ndim(off) == 0:
        view[:, positions, int(off) : int(off) + n] = values
        return
    sub = view[:, positions, :]
    index = lines_view(np.asarray(off), axis)[:, positions, None] + np.arange(n)
    np.put_along_axis(sub, index, np.broadcast_to(values, index.shape).astype(sub.dtype), axis=2)
    view[:, positions, :] = sub


def line_links(axis: str, a: int, b: int) -> tuple[tuple[int, str], ...]:
    step = 1 if b > a else -1
    port = step_port(axis, step)
    return tuple((pos, port) for pos in range(a, b, step))
