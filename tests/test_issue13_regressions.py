"""Issue 13: every bad input it lists ends in exit status 2 and one clear line naming the file, field or value
(never a traceback, a hang or a silent answer); the Python API refuses the same with a WafersimError."""

from __future__ import annotations

import json
import math
import signal
import tomllib
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

import wafersim
from wafersim.catalog.catalog import DATA_DIR
from wafersim.cli.main import main
from wafersim.errors import WafersimError

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "scenarios" / "small-test.yaml"
EST = ["estimate", "--model", "llama-3.1-8b", "--system", "h100-sxm", "--count", "1", "--input-len", "100",
       "--output-len", "10"]  # fmt: skip
SERVE = ["serve", "--model", "llama-3.1-8b", "--system", "h100-sxm", "--count", "1"]
CAPACITY = ["capacity", "--model", "llama-3.1-8b", "--system", "h100-sxm", "--count", "1", "--slo-ttft", "1",
            "--slo-tpot", "0.1"]  # fmt: skip
BINARY = b"\xff\xfe\x00\x81 not text"


@contextmanager
def time_limit(seconds: int):
    """A hang fails the test instead of the suite."""

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run(capsys, args: list[str], seconds: int = 60) -> tuple[int, str, str]:
    with time_limit(seconds):
        code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def bad_input(capsys, args, *needles: str, seconds: int = 60) -> str:
    code, out, err = run(capsys, args, seconds)
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err and err.startswith("error: "), err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def hf_config(**changes) -> dict:
    data = tomllib.loads((DATA_DIR / "models" / "llama-3.1-8b.toml").read_text())["hf_config"]
    return {**data, **changes}


def write(path: Path, content: bytes | str | dict) -> Path:
    if isinstance(content, dict):
        content = json.dumps(content)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def scenario(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load(SMALL.read_text())
    edit(data)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


# --- tracebacks --------------------------------------------------------------------------------------------


def test_non_utf8_files_are_named(capsys, tmp_path):
    config = write(tmp_path / "config.json", BINARY)
    bad_input(capsys, [*EST[:2], config, *EST[3:]], str(config), "not UTF-8")
    catalog = tmp_path / "cat"
    catalog.mkdir()
    write(catalog / "x.toml", BINARY)
    bad_input(capsys, ["catalog", "systems", "--catalog", catalog], "x.toml", "not UTF-8")
    arch = write(tmp_path / "arch.toml", BINARY)
    bad_input(
        capsys, ["fabric", "run", "gemv", "--arch", arch, "--m", "8", "--n", "8"], "arch.toml", "not UTF-8"
    )
    points = write(tmp_path / "points.toml", BINARY)
    bad_input(capsys, ["validate", "--points", points], "points.toml", "not UTF-8")
    trace = write(tmp_path / "t.jsonl", BINARY)
    bad_input(capsys, [*SERVE, "--trace", trace], "t.jsonl", "not UTF-8")


def test_unreadable_file_is_named(capsys, tmp_path, monkeypatch):
    trace = write(tmp_path / "t.jsonl", '{"arrival_s": 0, "prompt_tokens": 5, "output_tokens": 5}\n')
    real = Path.read_bytes

    def denied(self):  # chmod 000 does not stop root, so the OS error is raised here
        if self == trace:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    bad_input(capsys, [*SERVE, "--trace", trace], "t.jsonl", "permission denied")


def test_directory_as_trace(capsys, tmp_path):
    bad_input(capsys, [*SERVE, "--trace", tmp_path], str(tmp_path), "is a directory")


def test_zero_attention_heads(capsys, tmp_path):
    config = write(tmp_path / "config.json", hf_config(num_attention_heads=0))
    bad_input(capsys, [*EST[:2], config, *EST[3:]], "num_attention_heads", "must be ≥ 1")


def test_trace_with_equal_timestamps_runs(capsys, tmp_path):
    lines = "".join('{"arrival_s": 5, "prompt_tokens": 20, "output_tokens": 4}\n' for _ in range(3))
    trace = write(tmp_path / "burst.jsonl", lines)
    code, out, err = run(capsys, [*SERVE, "--trace", trace, "--json"])
    assert code == 0, err
    summary = json.loads(out)
    assert summary["completed"] == 3 and summary["offered_rate_rps"] is None


@pytest.mark.parametrize("name", ["missing/map.png", "map.txt"])
def test_plot_path_checked_first(capsys, tmp_path, name):
    args = [
        "wafer",
        "map",
        "--model",
        "llama-3.1-8b",
        "--system",
        "cs-3",
        "--count",
        "1",
        "--plot",
        tmp_path / name,
    ]
    bad_input(capsys, args, name.split("/")[-1] if "/" not in name else "does not exist")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--rate", "inf", "--duration", "10"], "rate_rps must be a finite number"),
        (["--rate", "1e18", "--duration", "10"], "rate_rps must be ≤"),
        (["--rate", "10", "--duration", "1e18"], "duration_s must be ≤"),
        (["--rate", "1e7", "--duration", "100"], "GB of memory"),  # 10^9 synthetic requests
        (["--rate", "100000", "--duration", "100"], "--allow-large"),  # 10^7: was silent for minutes
        (["--rate", "200000", "--duration", "1", "--replicas", "200000"], "behind 200,000 engines"),  # fuzz
    ],
)
def test_serve_sizes_refused_up_front(capsys, args, needle):
    bad_input(capsys, [*SERVE, *args], needle, seconds=20)


def test_capacity_billion_synthetic_requests(capsys):
    bad_input(capsys, [*CAPACITY, "--synthetic-requests", "1000000000"], "synthetic_requests", "GB of memory")


def test_scenario_with_ten_thousand_periods(capsys, tmp_path):
    text = SMALL.read_text().split("periods:")[0] + "options: []\nperiods:\n"
    text += "".join(f"  - {{name: p{i}, years: 1, power_mw: 1}}\n" for i in range(10_000))
    path = write(tmp_path / "s.yaml", text)
    bad_input(capsys, ["plan", path], "periods", "at most 100")


# --- hangs -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        [*EST[:5], "--count", str(10**18), *EST[7:]],
        ["compare", "--systems", f"h100-sxm:{10**18}"],
        ["wafer", "map", "--model", "llama-3.1-70b", "--system", "cs-3", "--count", str(10**18)],
    ],
)
def test_huge_counts(capsys, args):
    bad_input(capsys, args, "count must be ≤ 1,000,000", seconds=20)


@pytest.mark.parametrize(
    ("change", "field"),
    [({"num_hidden_layers": 1e12}, "num_hidden_layers"), ({"hidden_size": 1e18}, "hidden_size")],
)
def test_huge_model_shapes(capsys, tmp_path, change, field):
    config = write(tmp_path / "config.json", hf_config(**change))
    bad_input(capsys, [*EST[:2], config, *EST[3:]], field, "must be ≤", seconds=20)


def test_plan_replica_of_a_million(capsys, tmp_path):
    def edit(data):
        data["options"][0]["replica_accelerators"] = 1_000_000

    bad_input(capsys, ["plan", scenario(tmp_path, edit)], "options.0.replica_accelerators", seconds=20)


# --- silently wrong ----------------------------------------------------------------------------------------


def test_huge_batch(capsys):
    bad_input(capsys, [*EST, "--batch", str(10**18)], "batch must be ≤")
    bad_input(capsys, [*EST, "--batch", "1e18"], "--batch")


def test_nan_max_tpot(capsys):
    bad_input(capsys, [*EST, "--max-tpot", "nan"], "max_tpot_s must be a finite number", "--max-tpot")


def test_plan_power_of_1e18_mw(capsys, tmp_path):
    def edit(data):
        data["periods"][0]["power_mw"] = 1e18

    bad_input(capsys, ["plan", scenario(tmp_path, edit)], "periods.0.power_mw", "must be ≤")


# --- nonsense accepted -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--tp", "0"], ("tp must be ≥ 1", "--tp")),
        (["--pue", "nan"], ("pue", "finite")),
        (["--life-years", "nan"], ("life_years", "finite")),
        (["--usd-per-kwh", "inf"], ("usd_per_kwh", "finite")),
    ],
)
def test_estimate_nonsense(capsys, args, needles):
    bad_input(capsys, [*EST, *args], *needles)


def test_catalog_bandwidth_inf(capsys, tmp_path):
    text = (DATA_DIR / "systems" / "h100-sxm.toml").read_text()
    lines = [
        ("bw_bytes_per_s = inf" if line.startswith("bw_bytes_per_s") else line) for line in text.splitlines()
    ]
    folder = tmp_path / "cat"
    folder.mkdir()
    write(folder / "h100-sxm.toml", "\n".join(lines))
    bad_input(capsys, ["catalog", "systems", "--catalog", folder], "bw_bytes_per_s", "finite")


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"architectures": ["MambaForCausalLM"], "model_type": "mamba"}, "attention transformers only"),
        ({"state_size": 16}, "state-space"),
        ({"num_local_experts": 0, "num_experts_per_tok": 2}, "num_local_experts"),
        ({"hidden_size": "4096x"}, "hidden_size"),
    ],
)
def test_configs_that_are_not_what_they_seem(capsys, tmp_path, change, needle):
    config = write(tmp_path / "config.json", hf_config(**change))
    bad_input(capsys, [*EST[:2], config, *EST[3:]], needle)


def test_serve_negative_slo_and_zero_prefill_count(capsys):
    bad_input(
        capsys, [*SERVE, "--rate", "1", "--duration", "5", "--slo-ttft", "-1"], "slo_ttft_s", "--slo-ttft"
    )
    err = bad_input(
        capsys, [*SERVE, "--rate", "1", "--duration", "5", "--prefill-count", "0"], "prefill_count"
    )
    assert "--prefill-count" in err and "option --count" not in err  # the flag given, not another


def test_compare_system_without_count(capsys):
    bad_input(capsys, ["compare", "--systems", "h100-sxm"], "h100-sxm", "has no count")


def test_empty_points_file(capsys, tmp_path):
    points = write(tmp_path / "points.toml", "")
    bad_input(capsys, ["validate", "--points", points], "points.toml", "no [[point]]")


def test_missing_model_path_is_not_an_unknown_id(capsys, tmp_path):
    err = bad_input(capsys, [*EST[:2], tmp_path / "nope" / "config.json", *EST[3:]], "no such")
    assert "unknown model id" not in err


# --- Python API --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"input_len": math.nan}, "input_len"),
        ({"input_len": 1000.5}, "input_len"),
        ({"precision": "fp7"}, "precision"),
        ({"count": 10**18}, "count"),
        ({"model": "llama-3.1-8b"}, "model"),
        ({"system": "h100-sxm"}, "system"),
        ({"count": True}, "count"),
    ],
)
def test_api_refuses_with_the_field(catalog, change, field):
    args = {"model": catalog.model("llama-3.1-8b"), "system": catalog.system("h100-sxm"), "count": 1,
            "input_len": 100, "output_len": 10, **change}  # fmt: skip
    with time_limit(10), pytest.raises(WafersimError) as caught:
        wafersim.estimate(wafersim.EstimateRequest(**args))
    assert caught.value.field == field and field in str(caught.value)


def test_api_integral_floats_become_ints(catalog):
    request = wafersim.EstimateRequest(
        model=catalog.model("llama-3.1-8b"), system=catalog.system("h100-sxm"), count=1.0, input_len=100.0,
        output_len=10,
    )  # fmt: skip
    assert type(request.count) is int and type(request.input_len) is int


# --- exit codes and streams ----------------------------------------------------------------------------------


def test_json_errors_go_to_stderr_as_json(capsys):
    code, out, err = run(capsys, [*EST[:5], "--count", "0", *EST[7:], "--json"])
    assert code == 2 and out == ""
    assert json.loads(err) == {"error": "count must be ≥ 1, got 0 (option --count)", "field": "count"}
    code, out, err = run(capsys, [*EST, "--json", "--count", "many"])  # a usage error
    assert code == 2 and json.loads(err)["field"] == "--count"


def test_internal_error_is_one_line_and_a_report_request(capsys, monkeypatch):
    import wafersim.cli.estimate as command

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(command, "run_estimate", broken)
    code, _, err = run(capsys, EST)
    assert code == 1 and "Traceback" not in err
    assert "internal error (ZeroDivisionError: division by zero)" in err and "please report" in err
    code, _, err = run(capsys, ["--debug", *EST])
    assert code == 1 and "Traceback" in err
    code, _, err = run(capsys, [*EST, "--json"])
    assert code == 1 and json.loads(err)["field"] is None


def test_every_command_takes_json(capsys):
    code, out, _ = run(capsys, ["fabric", "list", "--json"])
    assert code == 0 and {"name", "shape_params", "summary"} <= set(json.loads(out)["kernels"][0])
