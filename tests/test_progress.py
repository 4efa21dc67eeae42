"""Long work reports progress through a plain callback (the core), drawn as a bar only by the CLI on a TTY."""

from __future__ import annotations

import numpy as np

from wafersim.cli.common import ProgressBar
from wafersim.serving.capacity import CapacitySearch, find_capacity
from wafersim.serving.metrics import SLO
from wafersim.serving.simulator import simulate

from .serving.test_simulator import LinearReplica, make_workload


def test_simulation_reports_arrivals_up_to_all():
    calls = []
    n = 50
    workload = make_workload(np.arange(n) * 0.01, [20] * n, [4] * n)
    simulate(workload, LinearReplica(), progress=lambda done, total, what: calls.append((done, total)))
    assert calls[0] == (0, n) and calls[-1] == (n, n)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_capacity_search_reports_each_probe():
    calls = []
    workload = make_workload(np.arange(30) * 0.1, [20] * 30, [4] * 30)
    search = CapacitySearch(SLO(1.0, 0.5), start_rps=5.0)
    found = find_capacity(
        workload.at_rate,
        lambda w: simulate(w, LinearReplica()),
        search,
        progress=lambda d, t, w: calls.append((d, t)),
    )
    assert len(calls) == len(found.probes) and all(total == search.max_probes for _, total in calls)


def test_bar_is_silent_off_a_terminal(capsys):
    with ProgressBar("work") as progress:  # pytest's streams are not terminals
        progress(1, 2, "half")
        assert progress.bar is None
    assert capsys.readouterr().err == ""
