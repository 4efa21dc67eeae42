"""Announced systems: an option cannot be bought before its `available_from` period."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from wafersim.errors import WafersimError
from wafersim.fleet.optimize import OptionData, Problem, solve
from wafersim.fleet.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def _problem(options) -> Problem:
    return Problem(
        options=tuple(options), models=("m",), period_names=("p0", "p1"), period_years=(1.0, 1.0),
        it_budget_w=(1e6, 1e6), users=(1e6, 1e6), demand_peak_rps=((300.0,), (300.0,)), peak_to_mean=1.5,
        pue=1.2, output_tokens_per_request=200.0,
    )  # fmt: skip


def test_late_option_is_bought_only_from_its_period():
    old = OptionData("old", 10e3, 100e3, 5.0, 0.08, 1.0, 0, (100.0,), (2e4,))
    new = replace(old, id="new", price_usd=50e3, first_period=1)  # cheaper, but only from p1
    fleet = solve(_problem([old, new]), "min_cost")
    assert fleet.feasible
    assert fleet.systems[1, 0, 0] == 0 and fleet.systems[0, 0, 0] == 3  # p0 on the old option
    alone = solve(_problem([new]), "min_cost")
    assert not alone.feasible  # nothing can serve p0
    users = solve(_problem([new]), "max_users")
    assert users.served_share[0] == 0 and users.served_share[1] > 0


def test_deal_scenario_dates_every_option(catalog):
    scenario = load_scenario(ROOT / "scenarios" / "openai-cerebras-750mw.yaml", catalog)
    systems = {o.system: o for o in scenario.options}
    assert {"vera-rubin", "mi450", "gb300", "gb200", "mi355x", "cs-3"} <= set(systems)
    assert all(o.available_source for o in scenario.options)
    assert scenario.first_period(systems["vera-rubin"]) == 1 and scenario.first_period(systems["gb300"]) == 0
    # Every option is priced: by the catalog or stated in the scenario with its source.
    for option in scenario.options:
        assert option.price_usd_per_system or catalog.system(option.system).price is not None


def test_unknown_available_from_is_named(tmp_path, catalog):
    data = yaml.safe_load((ROOT / "scenarios" / "small-test.yaml").read_text())
    data["options"][0]["available_from"] = "2099"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(WafersimError, match=r"available_from.*'2099' is not a period"):
        load_scenario(path, catalog)
