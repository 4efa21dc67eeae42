"""The planner end to end on the small scenario: cache, CLI contract, infeasible answers, the HTML report."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from wafersim.cli.main import main
from wafersim.fleet.plan import plan
from wafersim.fleet.scenario import load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "scenarios" / "small-test.yaml"
FIGURES = ("capacity-vs-power", "cost-by-option", "fleet-mix", "sensitivity-tornado")
CONTRACT = ("systems", "power_mw", "output_tokens_per_s", "users_served", "usd_per_million_tokens", "capex_usd",
            "feasible")  # fmt: skip


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("fleet-cache")


@pytest.fixture(scope="module")
def small(catalog, cache):
    return plan(load_scenario(SMALL, catalog), catalog, cache_dir=cache, workers=1).to_dict()


def _without_cache_flags(result):
    result = json.loads(json.dumps(result))
    result.pop("timing")
    for row in result["capacity"]:
        row.pop("cached")
    return result


def test_cached_and_uncached_answers_agree(catalog, cache, small):
    warm = plan(load_scenario(SMALL, catalog), catalog, cache_dir=cache, workers=1).to_dict()
    assert warm["timing"]["capacity_cached"] == 3  # H100, A100 and CS-3 capacities
    assert warm["timing"]["capacity_simulated"] == 0
    seen = []
    cold = plan(load_scenario(SMALL, catalog), catalog, cache_dir=cache, use_cache=False, workers=1,
                progress=lambda done, total: seen.append((done, total))).to_dict()  # fmt: skip
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert cold["timing"]["capacity_cached"] == 0
    assert _without_cache_flags(warm) == _without_cache_flags(small) == _without_cache_flags(cold)
    assert (cache / ".gitignore").read_text() == "*\n"


def test_cache_key_changes_with_the_slo(catalog, cache, small):
    data = yaml.safe_load(SMALL.read_text())
    data["slo"]["tpot_p90_s"] = 0.025
    result = plan(scenario_from_dict(data), catalog, cache_dir=cache, workers=1).to_dict()
    assert result["timing"]["capacity_simulated"] == 3
    # The GPUs' capacities are set by the SLO; the small scenario's 1,000 requests are too few to span two
    # request lifetimes on a CS-3 (8B on a wafer), whose figure is flagged span-limited (a lower bound).
    gpu = [r for r in result["capacity"] + small["capacity"] if r["option"] != "cs-3"]
    assert gpu and not any(r["span_limited"] for r in gpu)
    tight = {r["option"]: r["requests_per_s_per_system"] for r in result["capacity"]}
    loose = {r["option"]: r["requests_per_s_per_system"] for r in small["capacity"]}
    assert tight["h100-node"] <= loose["h100-node"]


def test_small_plan_meets_demand_within_budget(small):
    chosen = small["chosen"]
    assert small["feasible"] and chosen["feasible"] and chosen["solver"] == "optimal"
    for key in CONTRACT:
        assert key in chosen
        for option in small["options"]:
            assert key in option
    for period, info in zip(chosen["periods"], small["periods"], strict=True):
        assert period["power_mw"] <= info["power_mw"] + 1e-9
        for model, demand in period["demand_peak_rps"].items():
            assert period["capacity_rps"][model] >= demand
        assert period["users_served"] >= info["weekly_active_users"]


def test_wafer_and_unpriced_options_say_why(small):
    by_id = {o["id"]: o for o in small["options"]}
    # CS-3 is simulated but cannot meet the first year's demand within 0.2 MW: the reason says what would.
    assert not by_id["cs-3"]["feasible"] and "raise the y1 IT budget" in by_id["cs-3"]["reason"]
    assert not by_id["a100-node"]["feasible"] and "unpriced" in by_id["a100-node"]["reason"]
    assert by_id["a100-node"]["plans"]["max_users"]["feasible"]  # it can still serve users
    assert by_id["a100-node"]["capex_usd"] is None


def test_sensitivity_moves_the_answer_the_right_way(small):
    rows = {(r["parameter"], r["factor"]): r for r in small["sensitivity"] if r["objective"] == "min_cost"}
    assert rows[("baseline", 1.0)]["total_cost_usd"] == pytest.approx(
        small["mixed"]["min_cost"]["total_cost_usd"]
    )
    more = {(r["parameter"], r["factor"]): r for r in small["sensitivity"] if r["objective"] == "max_users"}
    assert more[("power", 0.8)]["users_served"] >= more[("power", 1.2)]["users_served"]
    assert rows[("price", 1.2)]["total_cost_usd"] > rows[("price", 0.8)]["total_cost_usd"]
    assert rows[("demand", 1.2)]["systems"] >= rows[("demand", 0.8)]["systems"]
    assert rows[("efficiency", 1.2)]["systems"] <= rows[("efficiency", 0.8)]["systems"]


def test_infeasible_scenario_reports_the_shortfall(catalog, cache):
    data = yaml.safe_load(SMALL.read_text())
    for period in data["periods"]:
        period["power_mw"] = 0.02  # one H100 node, well short of the demand
    result = plan(scenario_from_dict(data), catalog, cache_dir=cache, workers=1).to_dict()
    assert result["feasible"] is False
    shortfall = result["chosen"]["shortfall"]["periods"]
    assert all(p["users_short"] > 0 and p["power_needed_it_mw"] > 0.02 for p in shortfall)
    assert "raise the y1 IT budget" in shortfall[0]["close_by"]


def test_cli_json_contract(tmp_path, cache, capsys):
    assert main(["plan", str(SMALL), "--json", "--cache-dir", str(cache)]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in CONTRACT:
        assert key in result["chosen"]
    assert main(["plan", "small-test", "--cache-dir", str(cache)]) == 0  # shipped name
    assert "h100-node" in capsys.readouterr().out


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def test_html_report_renders_in_headless_chromium(tmp_path, cache, capsys):
    report = tmp_path / "plan.html"
    assert main(["plan", str(SMALL), "--cache-dir", str(cache), "--report", str(report)]) == 0
    text = report.read_text()
    assert (
        text.count("data:image/png;base64,") == len(FIGURES) and "http" not in text
    )  # one self-contained file
    browser = _chromium()
    if browser is None:
        pytest.skip(
            "no chromium binary on PATH (CI: apt-get install -y chromium) — report rendering unchecked"
        )
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    for figure in FIGURES:
        assert f'id="{figure}"' in dom
    assert dom.count("<img") == len(FIGURES)
    for table in ("fleets", "capacity", "sensitivity"):
        assert f'<table id="{table}"' in dom
    assert "h100-node" in dom and "cs-3" in dom and "raise the y1 IT budget" in dom
    shot = tmp_path / "plan.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,1600",
         f"--screenshot={shot}", report.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] > 1000 and pixels.std() > 0.05  # the page drew something, not a blank canvas


def test_plan_is_typed_and_its_dict_is_the_json(catalog, cache, small):
    import dataclasses

    from wafersim.fleet.result import Plan

    typed = plan(load_scenario(SMALL, catalog), catalog, cache_dir=cache, workers=1)  # cached: fast
    assert isinstance(typed, Plan) and typed.chosen.feasible == small["chosen"]["feasible"]
    assert [option.id for option in typed.options] == [option["id"] for option in small["options"]]
    assert typed.capacity[0].system == small["capacity"][0]["system"]
    assert Plan.from_dict(typed.to_dict()) == typed
    with pytest.raises(dataclasses.FrozenInstanceError):
        typed.feasible = False  # type: ignore[misc]
