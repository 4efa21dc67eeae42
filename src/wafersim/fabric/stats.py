"""What running a function on either engine reports."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LINK_DIRECTIONS = ("N", "E", "S", "W")


@dataclass
class RunStats:
    """Cycles and activity of one launched function (or an accumulation of several).

    busy_cycles per PE: per step, the larger of its compute cycles and the wavelets the core sent or received
    (sending, receiving and computing run concurrently); idle = cycles - busy. link_wavelets[y, x, d] counts the wavelets
    that left PE (x, y)'s router towards direction d (LINK_DIRECTIONS: N, E, S, W); their sum, wavelet_hops, is
    the numerator of link utilisation.
    """

    rows: int
    cols: int
    cycles: int = 0
    step_cycles: list[tuple[str, int]] = field(default_factory=list)
    busy_cycles: np.ndarray | None = None
    link_wavelets: np.ndarray | None = None
    trace_events: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.busy_cycles is None:
            self.busy_cycles = np.zeros((self.rows, self.cols), dtype=np.int64)
        if self.link_wavelets is None:
            self.link_wavelets = np.zeros((self.rows, self.cols, len(LINK_DIRECTIONS)), dtype=np.int64)

    def add_step(self, name: str, cycles: int) -> None:
        self.step_cycles.append((name, int(cycles)))
        self.cycles += int(cycles)

    def merge(self, other: RunStats) -> None:
        offset = self.cycles
        for name, cycles in other.step_cycles:
            self.add_step(name, cycles)
        self.busy_cycles = self.busy_cycles + other.busy_cycles
        self.link_wavelets = self.link_wavelets + other.link_wavelets
        for event in other.trace_events:
            self.trace_events.append({**event, "ts": event["ts"] + offset})

    @property
    def wavelet_hops(self) -> int:
        return int(self.link_wavelets.sum())

    def link_utilisation_per_pe(self) -> np.ndarray:
        """Per PE, the busiest of its four outgoing links: wavelets sent on it / cycles."""
        if not self.cycles:
            return np.zeros((self.rows, self.cols))
        return self.link_wavelets.max(axis=2) / self.cycles

    @property
    def directed_links(self) -> int:
        return 2 * (self.rows * (self.cols - 1) + self.cols * (self.rows - 1))

    @property
    def link_utilisation(self) -> float:
        """Fraction of router-to-router link-cycles that carried a wavelet."""
        capacity = self.directed_links * self.cycles
        return self.wavelet_hops / capacity if capacity else 0.0
