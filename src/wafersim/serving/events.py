"""A minimal discrete-event core: a heap of timed events; handlers return the events they cause (as in Vidur).

It knows nothing about LLMs. Ties at the same time run in the order they were scheduled, so a run is a pure
function of its inputs. A handler may also cancel an event it scheduled earlier by keeping its token.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Event:
    time_s: float
    order: int = 0
    kind: str = ""
    payload: Any = None
    cancelled: bool = False


Handler = Callable[[Event], Iterable[Event] | None]


class EventLoop:
    def __init__(self) -> None:
        # Entries are (time, order, event): tuples compare in C, and order breaks ties by scheduling order.
        self._heap: list[tuple[float, int, Event]] = []
        self._order = 0
        self.now_s = 0.0
        self.handled = 0

    def schedule(self, time_s: float, kind: str, payload: Any = None) -> Event:
        return self.push(Event(time_s, 0, kind, payload))

    def push(self, event: Event) -> Event:
        """Queue `event` itself (a handler that keeps it may cancel it later); its order is set here."""
        time_s = event.time_s
        if time_s < self.now_s:
            raise ValueError(f"event {event.kind!r} at {time_s} s is before the current time {self.now_s} s")
        event.order = order = self._order
        heapq.heappush(self._heap, (time_s, order, event))
        self._order = order + 1
        return event

    def __len__(self) -> int:
        return len(self._heap)

    def run(self, handlers: dict[str, Handler]) -> None:
        """Pop events in time order and hand each to the handler of its kind until none are left."""
        heap = self._heap
        pop = heapq.heappop
        while heap:
            event = pop(heap)[2]
            if event.cancelled:
                continue
            self.now_s = event.time_s
            self.handled += 1
            caused = handlers[event.kind](event)
            if caused:
                for new in caused:  # in the order the handler gives them: ties run in that order
                    self.push(new)
