"""The HTTP API through FastAPI's TestClient: the same numbers as the CLI, 422s that name the field, the limits
that protect the server, and the job lifecycle (progress, result, cancel)."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from fastapi.testclient import TestClient

from wafersim.cli.main import main
from wafersim.web.app import MAX_BODY_BYTES, create_app
from wafersim.web.jobs import JobRunner, _command


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as client:
        yield client


def _cli_json(capsys, args: list[str]) -> dict:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _wait(client, job_id: str, timeout_s: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job['state']} after {timeout_s} s")


def test_health_catalog_and_openapi(client):
    assert client.get("/api/health").json()["status"] == "ok"
    systems = {s["id"] for s in client.get("/api/catalog/systems").json()["systems"]}
    models = {m["id"] for m in client.get("/api/catalog/models").json()["models"]}
    assert {"h100-sxm", "cs-3"} <= systems and "llama-3.1-70b" in models
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/estimate",
        "/api/compare",
        "/api/serve",
        "/api/capacity",
        "/api/plan",
        "/api/jobs/serve",
    ):
        assert path in paths
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"model": "llama-3.1-70b", "system": "h200-sxm", "count": 8, "input_len": 1000, "output_len": 1000,
         "precision": "fp8"},
        {"model": "llama-3.1-8b", "system": "h100-sxm", "count": 2, "input_len": 2000, "output_len": 300,
         "tp": 2, "batch": 16, "usd_per_kwh": 0.12},
        {"model": "llama-3.1-8b", "system": "cs-3", "count": 1, "input_len": 1000, "output_len": 200, "batch": 1},
    ],
)  # fmt: skip
def test_estimate_returns_the_cli_numbers(client, capsys, body):
    flags = {"usd_per_kwh": "--usd-per-kwh"}
    args = ["estimate"]
    for name, value in body.items():
        args += [flags.get(name, "--" + name.replace("_", "-")), str(value)]
    response = client.post("/api/estimate", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == _cli_json(capsys, args)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"system": "h100-sxm", "count": 1, "input_len": 10, "output_len": 10}, "model"),
        ({"model": "llama-3.1-8b", "system": "h100-sxm", "count": "eight", "input_len": 10, "output_len": 10},
         "count"),
        ({"model": "llama-3.1-8b", "system": "h100-sxm", "count": 0, "input_len": 10, "output_len": 10}, "count"),
        ({"model": "llama-3.1-8b", "system": "h100-sxm", "count": 1, "input_len": 10, "output_len": 10,
          "precision": "fp3"}, "precision"),
        ({"model": "no-such-model", "system": "h100-sxm", "count": 1, "input_len": 10, "output_len": 10}, "model"),
        ({"model": "/etc/passwd", "system": "h100-sxm", "count": 1, "input_len": 10, "output_len": 10}, "model"),
        ({"model": "llama-3.1-8b", "system": "h100-sxm", "count": 1, "input_len": 10, "output_len": 10,
          "colour": "red"}, "colour"),
    ],
)  # fmt: skip
def test_malformed_estimate_body_gets_422_naming_the_field(client, body, field):
    response = client.post("/api/estimate", json=body)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", field]]


def test_limits_protect_the_server(client):
    serve = {"model": "llama-3.1-8b", "system": "h100-sxm", "count": 1}
    too_many = client.post("/api/jobs/serve", json=serve | {"requests": 10**6})
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["loc"] == ["body", "requests"]
    not_shipped = client.post("/api/jobs/serve", json=serve | {"trace": "/etc/hosts"})
    assert not_shipped.status_code == 422 and not_shipped.json()["detail"][0]["loc"] == ["body", "trace"]
    assert client.post("/api/jobs/plan", json={"scenario": "../../x"}).status_code == 422
    big = client.post(
        "/api/estimate", content=b" " * (MAX_BODY_BYTES + 1), headers={"content-type": "application/json"}
    )
    assert big.status_code == 413


def _refusal(response, field: str) -> str:
    """A WafersimError's one line, as a 422 on the field it names (WafersimError.field)."""
    assert response.status_code == 422, response.text
    [item] = response.json()["detail"]
    assert item["loc"] == ["body", field]
    return item["msg"]


def test_a_refused_input_is_one_line(client):
    body = {
        "model": "llama-3.1-8b",
        "system": "h100-sxm",
        "count": 1,
        "input_len": 10,
        "output_len": 10,
        "tp": 4,
    }
    message = _refusal(client.post("/api/estimate", json=body), "tp")
    assert "\n" not in message and "4" in message


def test_an_error_naming_its_field_is_a_422_on_that_field(client):
    body = {"model": "llama-3.1-8b", "system": "h100-sxm", "count": 1, "trace": "azure-code", "requests": 50,
            "input_len": 100, "slo_ttft_s": 1, "slo_tpot_s": 0.1}  # fmt: skip
    response = client.post("/api/capacity", json=body)  # refused by wafersim.capacity, not by the schema
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "input_len"]


def test_serve_job_gives_the_cli_numbers_with_distributions(client, capsys):
    body = {"model": "llama-3.1-8b", "system": "h100-sxm", "count": 1, "trace": "azure-code", "requests": 300}
    submitted = client.post("/api/jobs/serve", json=body)
    assert submitted.status_code == 202
    job = _wait(client, submitted.json()["id"])
    assert job["state"] == "done", job["error"]
    result = job["result"]
    cli = _cli_json(capsys, ["serve", "--model", "llama-3.1-8b", "--system", "h100-sxm", "--count", "1",
                             "--trace", "azure-code", "--requests", "300"])  # fmt: skip
    for key in ("ttft_p50_s", "ttft_p99_s", "tpot_p90_s", "output_tokens_per_s", "completed", "engines"):
        assert result[key] == cli[key]
    assert len(result["per_request"]["ttft_s"]) == cli["completed"]
    kv = result["series"]["kv_tokens"]
    assert len(kv["time_s"]) == len(kv["value"]) > 0
    assert max(kv["value"]) <= cli["kv_capacity_tokens_per_engine"] * cli["engines"]


def test_failed_job_says_why(client):
    body = {"model": "llama-3.1-8b", "system": "h100-sxm", "count": 1, "tp": 2, "requests": 10}
    assert "2" in _refusal(client.post("/api/serve", json=body), "tp")  # a job too, awaited


def test_cancel_stops_the_worker_and_a_full_queue_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("WAFERSIM_CACHE_DIR", str(tmp_path))
    runner = JobRunner(max_running=1, max_active=1)
    with TestClient(create_app(runner)) as client:
        first = client.post("/api/jobs/plan", json={"scenario": "openai-cerebras-750mw", "use_cache": False})
        assert first.status_code == 202
        assert client.post("/api/jobs/plan", json={}).status_code == 429
        job_id = first.json()["id"]
        while client.get(f"/api/jobs/{job_id}").json()["state"] == "queued":
            time.sleep(0.05)
        cancelled = client.delete(f"/api/jobs/{job_id}").json()
        assert cancelled["state"] == "cancelled"
        process = runner.get(job_id).process
        assert process.wait(timeout=10) != 0  # terminated, not finished
        assert client.get("/api/jobs/nope").status_code == 404


def test_plotly_is_served_from_the_package_and_no_page_uses_a_cdn(client):
    script = client.get("/plotly.min.js")
    assert script.status_code == 200 and b"plotly" in script.content[:2000].lower()
    for name in ("/", "/static/app.js", "/static/pages.js", "/docs"):
        text = client.get(name).text
        assert "http://" not in text and "https://" not in text, name


@pytest.mark.parametrize(
    ("method", "path", "body", "args"),
    [
        ("get", "/api/catalog/systems", None, ["catalog", "systems"]),
        ("get", "/api/catalog/models", None, ["catalog", "models"]),
        ("get", "/api/validate?group=test", None, ["validate", "--group", "test"]),
        ("post", "/api/wafer/map", {"model": "llama-3.1-8b", "system": "cs-3", "count": 1},
         ["wafer", "map", "--model", "llama-3.1-8b", "--system", "cs-3", "--count", "1"]),
    ],
)  # fmt: skip
def test_other_answers_are_the_cli_json(client, shared_cli_json, method, path, body, args):
    response = client.post(path, json=body) if method == "post" else client.get(path)
    assert response.status_code == 200, response.text
    assert response.json() == shared_cli_json(args)  # the CLI's run shared with tests/perf/test_validation.py


def test_the_wafer_validation_group_is_offered(client, capsys, monkeypatch, tmp_path):
    """`GET /api/validate?group=wafer` is `wafersim validate --group wafer --json` (on one shipped point, for
    speed: the shipped file is swapped for a file holding only that point)."""
    from wafersim.perf.wafer import validation

    raw = validation.WAFER_POINTS.read_text(encoding="utf-8")
    head, *blocks = raw.split("[[point]]")
    one = tmp_path / "one.toml"
    one.write_text(head + "[[point]]" + next(b for b in blocks if "8b-per-user-later" in b), encoding="utf-8")
    monkeypatch.setattr(validation, "WAFER_POINTS", one)
    response = client.get("/api/validate?group=wafer")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer == _cli_json(capsys, ["validate", "--group", "wafer"])
    assert [p["family"] for p in answer["points"]] == ["wafer"] and answer["groups"]["test"]["points"] == 1


def test_a_capacity_job_reports_each_probe_as_progress():
    body = {"model": "llama-3.1-8b", "system": "h100-sxm", "count": 1, "synthetic_requests": 200,
            "input_len": 500, "output_len": 100, "slo_ttft_s": 1, "slo_tpot_s": 0.05}  # fmt: skip
    lines = subprocess.run(_command("capacity"), input=json.dumps(body), capture_output=True, text=True,
                           check=True, timeout=120).stdout.splitlines()  # fmt: skip
    messages = [json.loads(line) for line in lines]
    assert messages[-1]["state"] == "done"
    probes = [m["stage"] for m in messages if m.get("stage", "").startswith("probe ")]
    assert len(probes) == len(messages[-1]["result"]["probes"]) > 1


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("import sys; sys.stdin.read(); sys.exit(3)", "exit code 3"),
        ("import sys; sys.stdin.read(); print('not json')", "internal error"),
    ],
)
def test_a_worker_that_dies_or_garbles_fails_its_job(monkeypatch, script, expected):
    import sys

    from wafersim.web import jobs

    monkeypatch.setattr(jobs, "_command", lambda kind: [sys.executable, "-c", script])
    job = JobRunner().submit("serve", {})
    deadline = time.monotonic() + 30
    while job.state not in jobs.FINISHED:
        assert time.monotonic() < deadline, f"job still {job.state}"
        time.sleep(0.05)
    assert job.state == "failed" and expected in job.error


def test_frontier_matches_the_cli(client, capsys):
    from wafersim.cli.main import main

    body = {"model": "llama-3.1-8b", "systems": ["h100-sxm"], "input_len": 500, "output_len": 100,
            "slo_tpot_s": 0.05}  # fmt: skip
    response = client.post("/api/frontier", json=body)
    assert response.status_code == 200
    assert main(["frontier", "--model", "llama-3.1-8b", "--system", "h100-sxm", "--input-len", "500",
                 "--output-len", "100", "--slo-tpot", "0.05", "--json"]) == 0  # fmt: skip
    assert response.json()["points"] == json.loads(capsys.readouterr().out)
    bad = client.post("/api/frontier", json=body | {"systems": []})
    assert bad.status_code == 422 and "systems" in bad.text
