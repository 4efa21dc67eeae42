"""The CLI contract: flags, JSON keys, exit codes, and clear errors instead of tracebacks."""

import json

import pytest

from wafersim.cli.main import main


def run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_estimate_json(capsys):
    code, out, _ = run(
        capsys,
        "estimate",
        "--model",
        "llama-3.1-70b",
        "--system",
        "h100-sxm",
        "--count",
        "8",
        "--precision",
        "fp8",
        "--input-len",
        "1000",
        "--output-len",
        "200",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert data["fits"] is True and data["tp"] * data["pp"] * data["dp"] == 8
    assert data["output_tokens_per_s"] > data["output_tokens_per_s_per_user"]


def test_estimate_fixed_layout_and_batch(capsys):
    code, out, _ = run(
        capsys,
        "estimate",
        "--model",
        "llama-3.1-8b",
        "--system",
        "b200",
        "--count",
        "2",
        "--tp",
        "2",
        "--pp",
        "1",
        "--batch",
        "4",
        "--input-len",
        "100",
        "--output-len",
        "50",
        "--json",
    )
    data = json.loads(out)
    assert code == 0 and data["tp"] == 2 and data["batch"] == 4 and data["dp"] == 1


def test_estimate_table_output(capsys):
    code, out, _ = run(
        capsys,
        "estimate",
        "--model",
        "llama-3.1-8b",
        "--system",
        "h100-sxm",
        "--count",
        "1",
        "--input-len",
        "100",
        "--output-len",
        "50",
    )
    assert code == 0 and "tokens/s per user" in out and "decode step by operator" in out


def test_not_fitting_is_an_answer_not_an_error(capsys):
    code, out, _ = run(
        capsys,
        "estimate",
        "--model",
        "llama-3.1-405b",
        "--system",
        "h100-sxm",
        "--count",
        "1",
        "--input-len",
        "100",
        "--output-len",
        "50",
        "--json",
    )
    data = json.loads(out)
    assert code == 0 and data["fits"] is False and "GiB" in data["reason"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "llama-3.1-7b"], "closest: llama-3.1-70b"),
        (["--system", "h10-sxm"], "closest: h100-sxm"),
        (["--tp", "3"], "does not divide"),
        (["--batch", "many"], "--batch must be a positive integer or 'auto'"),
        (["--count", "0"], "count must be ≥ 1, got 0 (option --count)"),
    ],
)
def test_bad_input_is_a_clear_error(capsys, args, message):
    base = {
        "--model": "llama-3.1-70b",
        "--system": "h100-sxm",
        "--count": "8",
        "--input-len": "100",
        "--output-len": "10",
    }
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = ["estimate"] + [item for pair in base.items() for item in pair]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out


def test_malformed_config_path(capsys, tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"hidden_size": 10}')
    code, _, err = run(
        capsys,
        "estimate",
        "--model",
        str(path),
        "--system",
        "h100-sxm",
        "--count",
        "1",
        "--input-len",
        "10",
        "--output-len",
        "10",
    )
    assert code == 2 and "config.json" in err and "num_hidden_layers" in err


def test_catalog_lists(capsys):
    code, out, _ = run(capsys, "catalog", "systems", "--json")
    assert code == 0 and any(s["id"] == "cs-3" for s in json.loads(out)["systems"])
    code, out, _ = run(capsys, "catalog", "models", "--json")
    assert code == 0 and any(m["id"] == "deepseek-v3" for m in json.loads(out)["models"])
    code, out, _ = run(capsys, "catalog", "models")
    assert code == 0 and "llama-4-maverick" in out


def test_compare_json(capsys):
    code, out, _ = run(
        capsys, "compare", "--model", "llama-3.1-8b", "--systems", "h100-sxm:1,groq-lpu:0,cs-3:1", "--json"
    )
    data = json.loads(out)
    assert code == 0
    rows = {row["system"]: row for row in data["deployments"]}
    assert rows["h100-sxm"]["single_user"]["fits"]
    assert rows["groq-lpu"]["count"] > 30  # 8B weights over 230 MB chips
    assert rows["cs-3"]["single_user"]["fits"] and rows["cs-3"]["single_user"]["wafers_used"] == 1


def test_compare_bad_systems_spec(capsys):
    code, _, err = run(capsys, "compare", "--systems", "h100-sxm:eight")
    assert code == 2 and "SYSTEM:COUNT" in err


def test_estimate_wafer_grid_flags(capsys):
    base = [
        "estimate",
        "--model",
        "llama-3.1-8b",
        "--system",
        "cs-3",
        "--count",
        "1",
        "--input-len",
        "100",
        "--output-len",
        "50",
        "--batch",
        "1",
        "--json",
    ]
    code, out, _ = run(capsys, *base, "--decode-grid", "256x256")
    assert code == 0
    data = json.loads(out)
    assert data["fits"] and data["wafers_used"] == 1
    code, _, err = run(capsys, *base, "--grid", "abc")
    assert code == 2 and "grid 'abc'" in err and "(option --grid)" in err
    code, _, err = run(
        capsys,
        "estimate",
        "--model",
        "llama-3.1-8b",
        "--system",
        "h100-sxm",
        "--count",
        "1",
        "--input-len",
        "10",
        "--output-len",
        "10",
        "--grid",
        "8x8",
    )
    assert code == 2 and "wafer-scale systems" in err


def test_missing_optional_extras_are_named(capsys, monkeypatch, tmp_path):
    """A broken install without SciPy or matplotlib (core dependencies) says which package to install."""
    import sys

    for name in [m for m in sys.modules if m.startswith("wafersim.fleet")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    code, _, err = run(capsys, "plan", "small-test")
    assert code == 2 and "pip install scipy" in err
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = run(
        capsys,
        "wafer",
        "map",
        "--model",
        "llama-3.1-8b",
        "--system",
        "cs-3",
        "--count",
        "1",
        "--plot",
        str(tmp_path / "m.png"),
    )
    assert code == 2 and "pip install matplotlib" in err


def test_estimate_lengths_default_as_compare_and_405b_needs_22_wafers(capsys):
    """Issue 9's command as written: lengths default to compare's 1,000 in / 1,000 out, and Llama 3.1 405B on one
    CS-3 is an answer (fits: false) with the wafers it needs."""
    code, out, _ = run(
        capsys, "estimate", "--system", "cs-3", "--count", "1", "--model", "llama-3.1-405b", "--json"
    )
    data = json.loads(out)
    assert code == 0 and data["fits"] is False and data["accelerators_needed"] == 22
    assert (data["input_len"], data["output_len"]) == (1000, 1000)
