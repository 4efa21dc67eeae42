"""Sweeps: spec validation, the results store, resuming, engines agreeing, SQL and the report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wafersim.errors import WafersimError
from wafersim.parallel import Engine
from wafersim.sweep import load_spec, parse_spec, point_id, query, run_sweep
from wafersim.sweep.store import read_journal

pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

SMALL = {
    "task": "estimate",
    "grid": {"model": ["llama-3.1-8b"], "system": ["h100-sxm:1", "b200:1"], "input_len": [500, 1000]},
    "fixed": {"output_len": 100, "batch": 1},
    "seed": 3,
}


def rows(out: Path) -> list[dict]:
    return sorted(pq.read_table(out / "results.parquet").to_pylist(), key=lambda r: r["point_id"])


@pytest.mark.parametrize(
    "change, message",
    [
        ({"task": "train"}, "unknown task 'train'"),
        ({"grid": {"model": [], "system": ["h100-sxm:1"]}}, "grid.model: an empty list"),
        ({"grid": {"modle": ["llama-3.1-8b"]}}, "grid.modle: not a parameter of task 'estimate'"),
        ({"fixed": {"output_len": 100, "colour": 1}}, "fixed.colour"),
        ({"fixed": {"batch": 1}}, "needs output_len"),
        ({"fixed": {"output_len": 100, "input_len": 5}}, "input_len: both in grid and fixed"),
        ({"seed": -1}, "seed"),
        ({"grid": {"model": ["a", "a"], "system": ["h100-sxm:1"]}}, "grid.model: a value is listed twice"),
    ],
)
def test_bad_specs_name_the_field(change, message):
    with pytest.raises(WafersimError, match=message):
        parse_spec(SMALL | change, "spec.yaml")


def test_huge_grids_need_confirmation():
    grid = {
        "model": ["m"],
        "system": ["s:1"],
        "input_len": list(range(1001)),
        "output_len": list(range(1000)),
    }
    big = SMALL | {"grid": grid, "fixed": {}}
    with pytest.raises(WafersimError, match="1,001,000 points .* confirm"):
        parse_spec(big, "big.yaml")
    assert parse_spec(big, "big.yaml", allow_large=True).size == 1_001_000


def test_spec_files_are_read_with_their_name_in_errors(tmp_path):
    with pytest.raises(WafersimError, match="missing.yaml: cannot read"):
        load_spec(tmp_path / "missing.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00task")
    with pytest.raises(WafersimError, match="binary.yaml: cannot read"):
        load_spec(binary)
    broken = tmp_path / "broken.yaml"
    broken.write_text("task: [estimate\n")
    with pytest.raises(WafersimError, match="broken.yaml: not valid YAML"):
        load_spec(broken)
    with pytest.raises(WafersimError, match="cannot read"):
        load_spec(tmp_path)  # a folder


def test_point_ids_ignore_key_order():
    assert point_id("estimate", {"a": 1, "b": "x"}) == point_id("estimate", {"b": "x", "a": 1})
    assert point_id("estimate", {"a": 1}) != point_id("capacity", {"a": 1})


def test_a_sweep_stores_every_point_and_resumes(tmp_path):
    spec = parse_spec(SMALL, "spec")
    first = run_sweep(spec, tmp_path, Engine(workers=1))
    assert (first.points, first.computed, first.reused, first.failed) == (4, 4, 0, 0)
    table = rows(tmp_path)
    assert len(table) == 4 and {r["param_system"] for r in table} == {"h100-sxm:1", "b200:1"}
    assert all(r["fits"] and r["output_tokens_per_s_per_user"] > 0 and r["seed"] == 3 for r in table)
    assert isinstance(json.loads(table[0]["breakdown"]), dict)  # nested outputs kept as JSON text
    again = run_sweep(spec, tmp_path, Engine(workers=1))
    assert (again.computed, again.reused) == (0, 4)
    assert rows(tmp_path) == table
    assert json.loads((tmp_path / "summary.json").read_text())["reused"] == 4


def test_failed_points_are_recorded_and_do_not_stop_the_sweep(tmp_path):
    spec = parse_spec(SMALL | {"grid": SMALL["grid"] | {"model": ["llama-3.1-8b", "no-such-model"]}}, "s")
    summary = run_sweep(spec, tmp_path, Engine(workers=1))
    assert (summary.points, summary.failed) == (8, 4)
    failed = [r for r in rows(tmp_path) if r["error"]]
    assert len(failed) == 4 and all("no-such-model" in r["error"] for r in failed)


def test_a_changed_code_hash_recomputes(tmp_path, monkeypatch):
    spec = parse_spec(SMALL, "spec")
    run_sweep(spec, tmp_path, Engine(workers=1))
    monkeypatch.setattr("wafersim.sweep.run.code_hash", lambda task: "changed")
    again = run_sweep(spec, tmp_path, Engine(workers=1))
    assert (again.computed, again.reused) == (4, 0)
    assert {r["code_hash"] for r in rows(tmp_path)} == {"changed"}


def test_a_line_cut_short_by_a_kill_is_ignored(tmp_path):
    spec = parse_spec(SMALL, "spec")
    run_sweep(spec, tmp_path, Engine(workers=1))
    journal = tmp_path / "journal.jsonl"
    text = journal.read_text()
    journal.write_text(text[: len(text) - 40])  # the last record loses its tail
    assert len(read_journal(tmp_path)) == 3
    again = run_sweep(spec, tmp_path, Engine(workers=1))
    assert (again.computed, again.reused) == (1, 3)
    assert len(rows(tmp_path)) == 4


def test_kill_9_resumes_without_recomputing_and_leaves_no_workers(tmp_path):
    spec_path = tmp_path / "spec.yaml"
    grid = SMALL["grid"] | {"input_len": [200, 400, 600, 800, 1000, 1200]}
    spec_path.write_text(json.dumps(SMALL | {"grid": grid}))  # JSON is YAML
    out = tmp_path / "out"
    command = [sys.executable, "-m", "wafersim.cli.main", "sweep", str(spec_path), "--out", str(out),
               "--workers", "2"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline and len(read_journal(out)) < 2:
        time.sleep(0.05)
    children = _children(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = len(read_journal(out))
    time.sleep(1.5)  # the workers notice their parent is gone within 0.5 s
    assert all(not _alive(pid) for pid in children), "pool workers outlived a killed sweep"
    summary = run_sweep(load_spec(spec_path), out, Engine(workers=1))
    assert summary.reused == done and summary.computed == 12 - done
    table = rows(out)
    assert len(table) == 12 and len({r["point_id"] for r in table}) == 12


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def test_local_pool_and_ray_give_identical_rows(tmp_path):
    pytest.importorskip("ray")
    spec = parse_spec(SMALL, "spec")
    run_sweep(spec, tmp_path / "pool", Engine("local", workers=2))
    run_sweep(spec, tmp_path / "ray", Engine("ray", workers=2))
    assert rows(tmp_path / "pool") == rows(tmp_path / "ray")


def test_sql_over_the_results(tmp_path):
    pytest.importorskip("duckdb")
    run_sweep(parse_spec(SMALL, "spec"), tmp_path, Engine(workers=1))
    columns, found = query(
        tmp_path,
        "SELECT system, max(output_tokens_per_s_per_user) AS best FROM results GROUP BY system ORDER BY best DESC",
    )
    assert columns == ["system", "best"] and {row[0] for row in found} == {"h100-sxm", "b200"}
    with pytest.raises(WafersimError, match="query: "):
        query(tmp_path, "SELECT nonsense FROM results")
    with pytest.raises(WafersimError, match="no results here"):
        query(tmp_path / "empty", "SELECT 1")


def test_capacity_points(tmp_path):
    spec = parse_spec(
        {
            "task": "capacity",
            "grid": {"model": ["llama-3.1-8b"], "system": ["h100-sxm:1", "h100-sxm:0"]},
            "fixed": {
                "slo_ttft_s": 2.0,
                "slo_tpot_s": 0.1,
                "input_len": 500,
                "output_len": 100,
                "synthetic_requests": 200,
            },
        },  # fmt: skip
        "cap",
    )
    summary = run_sweep(spec, tmp_path, Engine(workers=1))
    assert (summary.points, summary.failed) == (2, 1)
    ok, bad = sorted(rows(tmp_path), key=lambda r: r["error"] is not None)
    assert ok["max_rate_rps"] > 0 and ok["slo_tpot_s"] == 0.1
    assert "count ≥ 1" in bad["error"]


def test_cli_sweep_query_and_report(tmp_path, capsys):
    from wafersim.cli.main import main

    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(json.dumps(SMALL | {"fixed": SMALL["fixed"] | {"trace": "azure-conv"}}))
    assert main(["sweep", str(spec_path), "--out", str(tmp_path / "out"), "--workers", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["points"] == 4 and summary["unused"] == ["trace"]
    assert (
        main(["sweep", "--query", str(tmp_path / "out"), "SELECT count(*) AS n FROM results", "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out) == [{"n": 4}]
    report = tmp_path / "report.html"
    assert main(["sweep", "--report", str(tmp_path / "out"), "--out", str(report)]) == 0
    text = report.read_text()
    assert "Best system per model" in text and text.count("data:image/png;base64") == 2
    assert main(["sweep", str(spec_path)]) == 2  # no --out
    assert "usage" in capsys.readouterr().err
