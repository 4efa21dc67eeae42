"""Scenario files: the shipped ones load; bad ones are named by file and field, and the CLI exits 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wafersim.cli.main import main
from wafersim.errors import WafersimError
from wafersim.fleet.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
SMALL = ROOT / "scenarios" / "small-test.yaml"


def test_shipped_scenarios_load_and_the_deal_is_there(catalog):
    assert any("750" in path.name for path in SCENARIOS)
    for path in SCENARIOS:
        scenario = load_scenario(path, catalog)
        assert scenario.periods and scenario.options


def test_packaged_copies_match_the_repository_files():
    data = ROOT / "src" / "wafersim" / "fleet" / "data"
    for path in SCENARIOS:
        assert (data / path.name).read_text() == path.read_text(), f"copy {path.name} into {data}"


def test_deal_scenario_states_the_750_mw_and_900m_users(catalog):
    scenario = load_scenario(next(p for p in SCENARIOS if "750" in p.name), catalog)
    assert scenario.periods[-1].power_mw == 750
    assert scenario.demand.weekly_active_users == 9e8
    assert {o.system for o in scenario.options} >= {"cs-3", "gb200", "mi355x"}


def _write(tmp_path, change) -> Path:
    data = yaml.safe_load(SMALL.read_text())
    change(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["options"][1].update(system="h900"), "options.1.system"),
        (lambda d: d["models"][0].update(id="gpt-9"), "models.0.id"),
        (lambda d: d["demand"].update(peak_to_mean=0.5), "demand.peak_to_mean"),
        (lambda d: d["options"][0].update(colour="red"), "options.0.colour"),
        (lambda d: d["models"][0].update(share=0.5), "(top level)"),
        (lambda d: d["options"][0].update(replica_accelerators=3), "options.0"),
        (
            lambda d: d["options"][0].update(replica_accelerators_by_model={"x": 1}),
            "options.0.replica_accelerators_by_model.x",
        ),
        (lambda d: d["power"].update(basis="wall"), "power.basis"),
        (lambda d: d["periods"][0].update(power_mw=float("inf")), "periods.0.power_mw"),
        (lambda d: d.pop("slo"), "slo"),
    ],
)
def test_bad_fields_are_named(tmp_path, catalog, change, field):
    path = _write(tmp_path, change)
    with pytest.raises(WafersimError) as error:
        load_scenario(path, catalog)
    assert str(path) in str(error.value)
    assert f"field '{field}" in str(error.value)


def test_malformed_yaml_names_the_line(tmp_path, catalog):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ndemand: [1, 2\nmodels: []\n")
    with pytest.raises(WafersimError, match=r"broken\.yaml:\d+: not valid YAML"):
        load_scenario(path, catalog)


def test_missing_file_and_non_mapping(tmp_path, catalog):
    with pytest.raises(WafersimError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.yaml", catalog)
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(WafersimError, match="expected a mapping"):
        load_scenario(path, catalog)


def test_cli_reports_bad_input_with_exit_2(tmp_path, capsys):
    path = _write(tmp_path, lambda d: d["options"][0].update(system="h900"))
    assert main(["plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "options.0.system" in err and "Traceback" not in err


def test_facility_budgets_leave_it_power_after_pue_and_users_grow(catalog):
    data = yaml.safe_load(SMALL.read_text())
    data["power"] = {"basis": "facility", "pue": 1.25}
    data["periods"][1]["weekly_active_users"] = 7.0e7
    from wafersim.fleet.scenario import scenario_from_dict

    scenario = scenario_from_dict(data)
    assert scenario.it_budget_w(0) == pytest.approx(0.2e6 / 1.25)
    assert scenario.users(0) == data["demand"]["weekly_active_users"]
    assert scenario.users(1) == 7.0e7  # an explicit period figure beats the growth rule
    data["periods"][1].pop("weekly_active_users")
    grown = scenario_from_dict(data)
    assert grown.users(1) == pytest.approx(
        data["demand"]["weekly_active_users"] * data["demand"]["growth_per_period"]
    )


def test_missing_trace_is_named_and_bad_workers_refused(tmp_path, capsys):
    path = _write(tmp_path, lambda d: d["demand"].update(lengths={"trace": str(tmp_path / "none.csv")}))
    assert main(["plan", str(path), "--cache-dir", str(tmp_path / "cache")]) == 2
    assert "demand.lengths.trace" in capsys.readouterr().err
    assert main(["plan", str(SMALL), "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err
