"""The validation data, the per-group error report, and guards on the calibration."""

import pytest

from wafersim.cli.main import main
from wafersim.perf.calibration import CALIBRATED_DATASET, FAMILIES, _loss, loss_at_catalog, with_efficiency
from wafersim.perf.validation import load_datasets, load_points, run_validation

# Regression guard on the test-only group's median absolute percentage error. The foundation issue's target was
# 15% (14.6% on its 34 points); issue 10 asks for 10%. With the 22 MoE/long-prompt/server points issue 10 added
# the median was 12.9% over 56 points; with the server tail and attention-DP prefill priced it is 10.1%
# (docs/performance.md): not met by a hair. Ten AMD 8 x MI300X vLLM points (fixed lengths, over-predicted
# 12-96%: CDNA3 has no single-GPU calibration point) raise it to 13.1% over 66 points; this guard keeps it
# from getting worse.
TEST_MEDIAN_APE_GUARD = 0.135


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


def test_families_are_reported_with_median_and_worst(report):
    families = report["families"]
    assert {"dense", "moe", "server"} <= set(families)
    for family, stats in families.items():
        errors = [
            p["ape"]
            for p in report["points"]
            if p["group"] == "test" and p["family"] == family and p["ape"] is not None
        ]
        assert stats["points"] == len(errors)
        assert stats["worst_ape"] == pytest.approx(max(errors))
    assert all(p["family"] in ("dense", "moe", "server", "lpu", "wafer") for p in report["points"])


def test_another_area_can_register_its_points(tmp_path, catalog, monkeypatch):
    """A second data file (e.g. the wafer group's) slots in through POINT_FILES and reports per family."""
    from wafersim.perf import validation

    extra = tmp_path / "extra.toml"
    extra.write_text(
        '[[point]]\nid = "extra-one"\ngroup = "test"\nsource = "a test"\ndate = "2025-01-01"\n'
        'model = "llama-3.1-8b"\nsystem = "h100-sxm"\ncount = 1\nprecision = "fp8"\ninput_len = 1000\n'
        'output_len = 1000\nscenario = "offline"\nbatch = 1\nmetric = "output_tokens_per_s_per_user"\n'
        'measured = 150.0\ntp = 1\nfamily = "lpu"\n'
    )
    monkeypatch.setitem(validation.POINT_FILES, "extra", extra)
    points = validation.load_points()
    assert points[-1].id == "extra-one"
    result = validation.run_validation(catalog, [points[-1]])
    assert result["families"]["lpu"]["points"] == 1


def test_dataset_lengths_calibrated_only_on_their_one_point():
    """Each dataset with a fitted input length has exactly one calibration point (the header rule)."""
    points = load_points()
    for name, dataset in load_datasets().items():
        if dataset.calibrated_input_bounds is None:
            continue
        assert sum(p.dataset == name and p.group == "calibration" for p in points) == 1
        low, high = dataset.calibrated_input_bounds
        assert low <= dataset.input_len <= high


def test_test_group_median_does_not_regress(report):
    assert report["median_ape"] <= TEST_MEDIAN_APE_GUARD


def test_stored_factors_are_the_fitted_optimum(catalog):
    """Each Hopper factor in the catalog is a minimum of the calibration loss: moving it by 10% either way
    does not lower the loss (so the numbers came from calibration, not from a hand)."""
    points = [
        p
        for p in load_points()
        if p.group == "calibration" and p.system in FAMILIES["nvidia-hopper"] and p.dataset is None
    ]  # stage 1 of the fit: the exact-length points set the Hopper factors
    stored = loss_at_catalog(catalog, points)
    efficiency = catalog.system("h100-sxm").efficiency
    for name in ("compute", "memory_bw"):
        for scale in (0.9, 1.1):
            factors = {
                "compute": efficiency.compute,
                "memory_bw": efficiency.memory_bw,
                "step_overhead_s": efficiency.step_overhead_s,
            }
            factors[name] = min(factors[name] * scale, 1.0)
            systems = {
                s: with_efficiency(catalog.system(s), factors, "perturbed") for s in FAMILIES["nvidia-hopper"]
            }
            dataset_len = load_datasets()[CALIBRATED_DATASET].input_len
            assert _loss(points, catalog, systems, dataset_len) >= stored - 1e-9


def test_validate_cli_json(shared_cli_json):
    data = shared_cli_json(["validate", "--group", "test"])  # one run, shared with tests/web/test_api.py
    for key in ("points", "median_ape", "p90_ape"):
        assert key in data
    assert all(p["group"] == "test" for p in data["points"])


def test_bad_points_file_is_named(tmp_path, capsys):
    path = tmp_path / "points.toml"
    path.write_text('[[point]]\nid = "x"\n')
    assert main(["validate", "--points", str(path)]) == 2
    assert "points.toml point 1" in capsys.readouterr().err
