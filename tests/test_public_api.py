"""The curated API: every public name resolves, `import wafersim` stays light, results match the CLI's JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import wafersim
from wafersim.cli.main import main


def cli_json(capsys, *args: str) -> dict:
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.mark.parametrize("name", wafersim.__all__)
def test_every_public_name_resolves(name):
    assert getattr(wafersim, name) is not None and name in dir(wafersim)


def test_layer_packages_list_their_names():
    import wafersim.fabric
    import wafersim.fleet
    import wafersim.serving

    for package in (wafersim.fabric, wafersim.fleet, wafersim.serving, wafersim.perf, wafersim.catalog):
        assert package.__all__ and all(getattr(package, name) is not None for name in package.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = wafersim.serving.nothing


def test_import_wafersim_loads_no_layer_beyond_the_errors():
    code = "import json, sys, wafersim; print(json.dumps(sorted(m for m in sys.modules if 'wafersim.' in m)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out)
    assert loaded == ["wafersim._exports", "wafersim.errors"]


def test_estimate_takes_ids_or_a_request_and_matches_the_cli(capsys, catalog):
    by_ids = wafersim.estimate(
        model="llama-3.1-8b", system="h100-sxm", count=1, input_len=500, output_len=100
    )
    request = wafersim.EstimateRequest(model=catalog.model("llama-3.1-8b"), system=catalog.system("h100-sxm"),
                                       count=1, input_len=500, output_len=100)  # fmt: skip
    assert wafersim.estimate(request) == by_ids
    cli = cli_json(capsys, "estimate", "--model", "llama-3.1-8b", "--system", "h100-sxm", "--count", "1",
                   "--input-len", "500", "--output-len", "100")  # fmt: skip
    assert json.loads(json.dumps(by_ids.to_dict())) == cli


def test_compare_matches_the_cli(capsys):
    result = wafersim.compare("llama-3.1-8b", "h100-sxm:1,groq-lpu:0", input_len=200, output_len=100)
    cli = cli_json(capsys, "compare", "--model", "llama-3.1-8b", "--systems", "h100-sxm:1,groq-lpu:0",
                   "--input-len", "200", "--output-len", "100")  # fmt: skip
    assert json.loads(json.dumps(result.to_dict())) == cli
    assert result.deployments[1].count > 1  # SRAM-only chips: as many as the weights need


def _without_wall_time(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "sim_wall_s"}


def test_serve_matches_the_cli(capsys):
    result = wafersim.serve("llama-3.1-8b", "h100-sxm", 1, trace="azure-code", requests=200, slo_ttft_s=1.0)
    cli = cli_json(capsys, "serve", "--model", "llama-3.1-8b", "--system", "h100-sxm", "--count", "1",
                   "--trace", "azure-code", "--requests", "200", "--slo-ttft", "1")  # fmt: skip
    assert _without_wall_time(result.to_dict()) == _without_wall_time(cli)
    assert result.completed == 200 and result.to_dict()["goodput_rps"] > 0
    with pytest.raises(TypeError):  # results are read-only
        result.metrics["completed"] = 0


def test_capacity_matches_the_cli(capsys):
    kwargs = dict(slo_ttft_s=1.0, slo_tpot_s=0.05, input_len=300, output_len=50, synthetic_requests=200)
    seen = []
    found = wafersim.capacity("llama-3.1-8b", "h100-sxm", 1, on_probe=seen.append, **kwargs)
    assert [dict(p) for p in found.probes] == seen  # progress, one probe at a time
    cli = cli_json(capsys, "capacity", "--model", "llama-3.1-8b", "--system", "h100-sxm", "--count", "1",
                   "--slo-ttft", "1", "--slo-tpot", "0.05", "--input-len", "300", "--output-len", "50",
                   "--synthetic-requests", "200")  # fmt: skip
    assert found.to_dict() == cli
    assert found.max_rate_rps > 0 and found.requests_per_s_per_mw == cli["requests_per_s_per_mw"]


def test_fabric_run_matches_the_cli(capsys):
    result = wafersim.fabric.run("gemv", grid="2x2", m=32, n=32)
    cli = cli_json(capsys, "fabric", "run", "gemv", "--grid", "2x2", "--m", "32", "--n", "32")
    assert _without_wall_time(result.to_dict()) == _without_wall_time(cli)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: wafersim.estimate(model="llama-3.1-8b", system="h100-sxm", count=0, input_len=1, output_len=1),
         "count"),
        (lambda: wafersim.estimate(model="llama-3.1-8b", system="h100-sxm", count=1, input_len=1, output_len=1,
                                   max_tpot_s=-1), "max_tpot_s"),
        (lambda: wafersim.serve("llama-3.1-8b", "h100-sxm", 1, trace="azure-code", requests=0), "requests"),
        (lambda: wafersim.serve("llama-3.1-8b", "h100-sxm", 1, rate_rps=1.0), "duration_s"),
        (lambda: wafersim.serve("llama-3.1-8b", "h100-sxm", 1, trace="azure-code", router="nearest"), "router"),
        (lambda: wafersim.serve("llama-3.1-8b", "h100-sxm", 1, trace="azure-code", colour=1), "colour"),
        (lambda: wafersim.fabric.run("gemv", grid="2by2"), "grid"),
        (lambda: wafersim.fabric.run("broadcast", k=3), "k"),
    ],
)  # fmt: skip
def test_errors_name_the_field(call, field):
    with pytest.raises(wafersim.WafersimError) as raised:
        call()
    assert raised.value.field == field and field in str(raised.value)
