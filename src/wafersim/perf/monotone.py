"""The largest value a monotone test accepts: how every batch, chunk and replica size is searched."""

from __future__ import annotations

from collections.abc import Callable


def largest(lo: int, hi: int, ok: Callable[[int], bool]) -> int:
    """Largest x in [lo, hi] with ok(x), for ok monotone (True up to some x, then False); lo - 1 if none.
    Bisection: about log2(hi - lo) calls of ok."""
    if hi < lo or not ok(lo):
        return lo - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo
