"""The `wafer` validation group: its data file, the calibration rule and the CLI."""

import json

import pytest

import wafersim
from wafersim.catalog import load_catalog
from wafersim.cli.main import main
from wafersim.errors import WafersimError
from wafersim.perf.wafer.validation import (
    calibrate_service,
    load_wafer_points,
    predict_wafer,
    summarize_wafer,
)

CATALOG = load_catalog()
POINTS = load_wafer_points()
BY_ID = {p.id: p for p in POINTS}


def test_every_point_is_sourced_and_expressed_or_says_why_not():
    assert len(POINTS) >= 8
    for p in POINTS:
        assert p.source and p.date
        assert p.cannot_express is None or len(p.cannot_express) > 20
    # The rule in the file header: exactly these two set the service constants; everything else tests.
    assert {p.id for p in POINTS if p.group == "calibration"} == {
        "cerebras-cs3-llama3.1-8b-per-user-2024-08",
        "cerebras-cs3-llama3.1-405b-ttft-2024-11",
    }


def test_catalog_service_constants_are_what_the_calibration_points_give():
    """The cs-3 constants are the closed-form fit on the calibration points (rounded to 3 figures)."""
    fitted = calibrate_service(CATALOG, "cs-3")
    service = CATALOG.system("cs-3").service
    assert service.host_round_trip_s == pytest.approx(fitted.host_round_trip_s, rel=5e-3)
    assert service.request_latency_s == pytest.approx(fitted.request_latency_s, rel=5e-3)


def test_test_points_never_move_the_constants():
    """Changing a test point's measurement leaves the calibration alone."""
    moved = [p.model_copy(update={"measured": p.measured * 3}) if p.group == "test" else p for p in POINTS]
    point = BY_ID["cerebras-cs3-llama3.1-8b-per-user-2024-08"]
    only_speed = [q for q in moved if q.metric != "client_ttft_s"] + [
        point.model_copy(update={"id": "ttft", "metric": "client_ttft_s", "measured": 0.3})
    ]
    a = calibrate_service(CATALOG, "cs-3", only_speed)
    b = calibrate_service(CATALOG, "cs-3", [q for q in only_speed if q.group == "calibration"])
    assert a == b


def test_summary_reports_median_worst_and_points_not_expressed():
    chosen = [BY_ID["cerebras-cs3-llama3.1-8b-per-user-later"], BY_ID["waferllm-wse2-qwen2-72b-decode"]]
    results = [predict_wafer(p, CATALOG) for p in chosen]
    summary = summarize_wafer(results)["test"]
    assert summary["points"] == 1
    assert summary["median_ape"] == summary["max_ape"] == results[0].ape
    assert [x["id"] for x in summary["not_expressed"]] == ["waferllm-wse2-qwen2-72b-decode"]


FAST = ("cerebras-cs3-llama3.1-8b-per-user-later", "waferllm-wse2-qwen2-72b-decode")  # one predicted, one not


def _two_point_file(tmp_path):
    raw = (load_wafer_points.__globals__["WAFER_POINTS"]).read_text(encoding="utf-8")
    head, _, _ = raw.partition("# ---------- calibration ----------")
    keep = [block for block in raw.split("[[point]]")[1:] if any(f'"{i}"' in block for i in FAST)]
    path = tmp_path / "points.toml"
    path.write_text(head + "".join("[[point]]" + b for b in keep), encoding="utf-8")
    return path


def test_validate_wafer_group_cli(tmp_path, capsys):
    path = _two_point_file(tmp_path)
    assert main(["validate", "--group", "wafer", "--points", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["groups"]["test"]["points"] == 1 and report["skipped"] == 1
    assert main(["validate", "--group", "wafer", "--points", str(path)]) == 0
    out = capsys.readouterr().out
    assert "worst APE" in out and "not expressed: waferllm-wse2-qwen2-72b-decode" in out


def test_api_wafer_group_is_the_cli_json(tmp_path, capsys):
    """`wafersim.validate(group="wafer")` answers what `wafersim validate --group wafer --json` prints."""
    path = _two_point_file(tmp_path)
    report = wafersim.validate(path, group="wafer")
    assert main(["validate", "--group", "wafer", "--points", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(report))
    assert report["test_median_ape_target"] == 0.20
    assert report["groups"]["test"]["worst_ratio"] == pytest.approx(2200 / report["points"][0]["predicted"])


def test_wafer_report_has_every_key_of_the_gpu_report():
    """One report family: the wafer group's report and points carry every key the GPU groups' do (and add)."""
    gpu = wafersim.validate(group="test", ids=["mlperf-v4.1-b200x1-llama2-70b-offline"])
    wafer = wafersim.validate(group="wafer", ids=list(FAST))
    assert set(gpu) <= set(wafer) and set(gpu["groups"]["test"]) <= set(wafer["groups"]["test"])
    assert set(gpu["points"][0]) == set(wafer["points"][0])
    assert [p["id"] for p in wafer["points"]] == list(FAST)
    assert set(wafer["families"]) == {"wafer"} and wafer["families"]["wafer"]["points"] == 1
    assert gpu["points"][0]["count_predicted_on"] == gpu["points"][0]["count"]


def test_ids_outside_the_group_are_named(capsys):
    with pytest.raises(WafersimError, match="no validation point 'nope'") as error:
        wafersim.validate(group="wafer", ids=["cerebras-cs3-llama3.1-8b-per-user-later", "nope"])
    assert error.value.field == "ids"
    with pytest.raises(
        WafersimError, match="group 'calibration'"
    ):  # a test point is not in the calibration group
        wafersim.validate(group="calibration", ids=[FAST[0]])
    assert main(["validate", "--group", "wafer", "--point", "nope"]) == 2
    assert "--point" in capsys.readouterr().err
