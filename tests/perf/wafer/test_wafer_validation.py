"""The `wafer` validation group: its data file, the calibration rule and the CLI."""

import json

import pytest

from wafersim.catalog import load_catalog
from wafersim.cli.main import main
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


def test_validate_wafer_group_cli(tmp_path, capsys):
    raw = (load_wafer_points.__globals__["WAFER_POINTS"]).read_text(encoding="utf-8")
    head, _, _ = raw.partition("# ---------- calibration ----------")
    keep = [
        block
        for block in raw.split("[[point]]")[1:]
        if '"cerebras-cs3-llama3.1-8b-per-user-later"' in block or "qwen2-72b" in block
    ]
    path = tmp_path / "points.toml"
    path.write_text(head + "".join("[[point]]" + b for b in keep), encoding="utf-8")
    assert main(["validate", "--group", "wafer", "--points", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["groups"]["test"]["points"] == 1 and report["skipped"] == 1
    assert main(["validate", "--group", "wafer", "--points", str(path)]) == 0
    out = capsys.readouterr().out
    assert "worst APE" in out and "not expressed: waferllm-wse2-qwen2-72b-decode" in out
