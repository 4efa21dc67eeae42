"""Wafer replicas in a plan sized by an objective (`replica_objective`), and saying so."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wafersim.catalog import load_catalog
from wafersim.errors import WafersimError
from wafersim.fleet import plan as plan_module
from wafersim.fleet.scenario import scenario_from_dict
from wafersim.perf.wafer.sizing import Sized

SMALL = Path(__file__).resolve().parents[2] / "scenarios" / "small-test.yaml"


def _scenario(objective):
    data = yaml.safe_load(SMALL.read_text())
    for option in data["options"]:
        if option["system"] == "cs-3":
            option["replica_objective"] = objective
    return scenario_from_dict(data, "small-test.yaml")


def test_wafer_replicas_are_sized_by_the_objective_at_the_scenarios_slo(monkeypatch):
    """The plan asks the sizing (perf/wafer/sizing.py, tested there) for each wafer option with an objective, at
    the scenario's mean lengths and p90 TPOT target; GPU options keep their configured replica."""
    asked = []

    def fake(request, objective):
        asked.append((request, objective))
        return Sized(3, None, objective, ((1, 2.0), (3, 1.0)), 1)

    monkeypatch.setattr(plan_module, "size_wafers", fake)
    scenario = _scenario("usd-per-mtok")
    sized = plan_module.replica_sizes(scenario, load_catalog())
    o = next(i for i, opt in enumerate(scenario.options) if opt.system == "cs-3")
    assert set(sized) == {(o, 0)} and sized[o, 0].count == 3
    ((request, objective),) = asked
    assert objective == "usd-per-mtok" and request.system.id == "cs-3"
    assert request.max_tpot_s == scenario.slo.tpot_p90_s
    assert (request.input_len, request.output_len) == (512, 64)  # the scenario's fixed lengths
    rows = [{"option": opt.id} for opt in scenario.options]
    assert "usd-per-mtok" in plan_module._with_sizing(rows, sized, scenario)[o]["replica_sizing"]["why"]


def test_unknown_replica_objective_is_named_with_its_field():
    with pytest.raises(WafersimError, match=r"options\.2.*replica_objective 'cheapest'"):
        _scenario("cheapest")
