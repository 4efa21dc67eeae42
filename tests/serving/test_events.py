import pytest

from wafersim.serving.events import Event, EventLoop


def test_events_run_in_time_order_and_ties_in_scheduling_order():
    loop = EventLoop()
    seen = []
    loop.schedule(2.0, "x", "late")
    loop.schedule(1.0, "x", "first")
    loop.schedule(1.0, "x", "second")
    loop.run({"x": lambda e: seen.append((e.time_s, e.payload))})
    assert seen == [(1.0, "first"), (1.0, "second"), (2.0, "late")]


def test_handlers_return_the_events_they_cause_and_cancelled_ones_are_skipped():
    loop = EventLoop()
    seen = []
    doomed = loop.schedule(5.0, "x", "cancelled")

    def handle(event):
        seen.append(event.payload)
        if event.payload == "start":
            doomed.cancelled = True
            return [Event(3.0, kind="x", payload="caused")]
        return None

    loop.schedule(1.0, "x", "start")
    loop.run({"x": handle})
    assert seen == ["start", "caused"]
    assert loop.now_s == 3.0


def test_an_event_in_the_past_is_refused():
    loop = EventLoop()

    def handle(event):
        loop.schedule(0.5, "x")

    loop.schedule(1.0, "x")
    with pytest.raises(ValueError, match="before the current time"):
        loop.run({"x": handle})
