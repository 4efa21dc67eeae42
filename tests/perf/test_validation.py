"""The validation data, the per-group error report, and guards on the calibration."""

import json

import pytest

from wafersim.cli.main import main
from wafersim.perf.calibration import CALIBRATED_DATASET, FAMILIES, _loss, loss_at_catalog, with_efficiency
from wafersim.perf.validation import load_datasets, load_points, run_validation

# The foundation issue's target for the test-only group's median absolute percentage error (10% is the goal).
# This commit achieves 14.6% (docs/performance.md): met, with little margin.
TEST_MEDIAN_APE_GUARD = 0.15


@pytest.fixture(scope="module")
def report(catalog):
    return run_validation(catalog)


def test_enough_sourced_points():
    points = load_points()
    assert len(points) >= 30
    for point in points:
        assert point.source.strip() and point.date and point.measured > 0
    assert {"calibration", "test"} == {p.group for p in points}


def test_at_least_thirty_points_are_predicted(report):
    assert sum(p["ape"] is not None for p in report["points"]) >= 30
    for point in report["points"]:
        assert (point["ape"] is None) == (point["skipped"] is not None)


def test_groups_are_reported_separately(report):
    assert report["groups"]["calibration"]["points"] > 0
    assert report["groups"]["test"]["points"] >= 30
    assert report["median_ape"] == report["groups"]["test"]["median_ape"]


def test_test_group_median_does_not_regress(report):
    assert report["median_ape"] <= TEST_MEDIAN_APE_GUARD


def test_stored_factors_are_the_fitted_optimum(catalog):
    """Each Hopper factor in the catalog is a minimum of the calibration loss: moving it by 10% either way
    does not lower the loss (so the numbers came from calibration, not from a hand)."""
    points = [p for p in load_points() if p.group == "calibration" and p.system in FAMILIES["nvidia-hopper"]]
    stored = loss_at_catalog(catalog, points)
    efficiency = catalog.system("h100-sxm").efficiency
    for name in ("compute", "memory_bw"):
        for scale in (0.9, 1.1):
            factors = {
                "compute": efficiency.compute,
                "moe_compute": efficiency.moe_compute,
                "memory_bw": efficiency.memory_bw,
                "step_overhead_s": efficiency.step_overhead_s,
            }
            factors[name] = min(factors[name] * scale, 1.0)
            systems = {
                s: with_efficiency(catalog.system(s), factors, "perturbed") for s in FAMILIES["nvidia-hopper"]
            }
            dataset_len = load_datasets()[CALIBRATED_DATASET].input_len
            assert _loss(points, catalog, systems, dataset_len) >= stored - 1e-9


def test_validate_cli_json(capsys):
    assert main(["validate", "--group", "test", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("points", "median_ape", "p90_ape"):
        assert key in data
    assert all(p["group"] == "test" for p in data["points"])


def test_bad_points_file_is_named(tmp_path, capsys):
    path = tmp_path / "points.toml"
    path.write_text('[[point]]\nid = "x"\n')
    assert main(["validate", "--points", str(path)]) == 2
    assert "points.toml point 1" in capsys.readouterr().err
