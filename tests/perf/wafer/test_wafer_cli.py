"""`wafersim wafer ...` and wafers in `wafersim estimate` / `compare`: JSON keys, picture, exit codes."""

import json

import pytest

from wafersim.cli.main import main


def run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_estimate_on_cs3_has_gpu_keys_plus_wafer_keys(capsys):
    code, out, _ = run(
        capsys, "estimate", "--system", "cs-3", "--count", "1", "--model", "llama-3.1-8b",
        "--input-len", "1000", "--output-len", "1000", "--batch", "1", "--json",
    )  # fmt: skip
    data = json.loads(out)
    assert code == 0 and data["fits"]
    for key in ("ttft_s", "tpot_s", "output_tokens_per_s_per_user", "power_w", "joules_per_token",
                "wafers_used", "sram_bytes_used", "breakdown"):  # fmt: skip
        assert key in data, key
    assert data["wafers_used"] == 1 and 0 < data["sram_bytes_used"] <= 44e9


def test_map_json_and_picture(capsys, tmp_path):
    picture = tmp_path / "map.png"
    code, out, _ = run(
        capsys, "wafer", "map", "--model", "llama-3.1-70b", "--count", "4", "--json", "--plot", str(picture)
    )
    data = json.loads(out)
    assert code == 0 and data["wafers_used"] == 4
    layers = sorted(
        i for r in data["regions"] if r["kind"] == "layers" for i in range(r["layers"][0], r["layers"][1] + 1)
    )
    assert sorted(set(layers)) == list(range(80))  # every layer placed (a layer may span two regions)
    assert all(sum(r["sram_bytes_per_pe"].values()) <= 49152 for r in data["regions"])
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_map_table(capsys):
    code, out, _ = run(capsys, "wafer", "map", "--model", "llama-3.1-8b")
    assert code == 0 and "layers 0-" in out and "head" in out


def test_wafer_estimate_options(capsys):
    code, out, _ = run(
        capsys, "wafer", "estimate", "--model", "llama-3.1-8b", "--decode-grid", "234x108",
        "--prefill-grid", "293x108", "--json",
    )  # fmt: skip
    placement = json.loads(out)["placement"]
    assert code == 0
    assert (placement["region_rows"], placement["region_cols"]) == (234, 108)
    assert (placement["prefill_region_rows"], placement["prefill_region_cols"]) == (293, 108)
    assert placement["relayout_s"] > 0


def test_sweep_marks_the_fastest_region(capsys):
    code, out, _ = run(capsys, "wafer", "sweep", "--model", "llama-3.1-8b", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) > 3
    fastest = min(rows, key=lambda r: r["cycles"])
    assert rows[0]["cycles"] > fastest["cycles"] < rows[-1]["cycles"]


def test_compare_puts_wafers_beside_gpus(capsys):
    code, out, _ = run(
        capsys,
        "compare",
        "--model",
        "llama-3.1-70b",
        "--systems",
        "h100-sxm:8,cs-3:0",
        "--precision",
        "bf16",
        "--objective",
        "fewest",
        "--json",
    )
    rows = {row["system"]: row for row in json.loads(out)["deployments"]}
    assert code == 0
    assert rows["cs-3"]["count"] == 4 and rows["cs-3"]["single_user"]["fits"]
    assert rows["cs-3"]["sizing"]["objective"] == "fewest" and "fewest" in rows["cs-3"]["sizing"]["why"]
    assert (
        rows["cs-3"]["single_user"]["output_tokens_per_s_per_user"]
        > rows["h100-sxm"]["single_user"]["output_tokens_per_s_per_user"]
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["wafer", "estimate", "--model", "llama-3.1-8b", "--grid", "10"], "grid '10'"),
        (["wafer", "estimate", "--model", "llama-3.1-8b", "--grid", "2000x10"], "exceeds"),
        (["wafer", "estimate", "--model", "llama-3.1-8b", "--system", "h100-sxm"], "not a wafer-scale"),
        (["wafer", "estimate", "--model", "llama-3.1-8b", "--draft", "llama-3.1-8b"], "--acceptance"),
        (
            [
                "wafer",
                "estimate",
                "--model",
                "llama-3.1-8b",
                "--draft",
                "mixtral-8x7b",
                "--acceptance",
                "0.5",
            ],
            "tokenizer",
        ),
        (
            ["wafer", "estimate", "--model", "llama-3.1-8b", "--draft", "llama-3.1-8b", "--acceptance", "2"],
            "[0, 1]",
        ),
        (["wafer", "map", "--model", "llama-3.1-405b", "--count", "2"], "needs"),
        (
            ["wafer", "map", "--model", "llama-3.1-8b", "--draft", "llama-3.1-8b", "--acceptance", "-0.5"],
            "got -0.5",
        ),
        (
            [
                "estimate",
                "--model",
                "llama-3.1-8b",
                "--system",
                "cs-3",
                "--count",
                "1",
                "--input-len",
                "8",
                "--output-len",
                "8",
                "--draft",
                "llama-3.1-8b",
                "--acceptance",
                "0.5",
                "--draft-tokens",
                "0",
            ],
            "draft-tokens",
        ),
        (["wafer", "sweep", "--model", "llama-3.1-8b", "--context", "0"], "--context"),
        (
            [
                "estimate",
                "--system",
                "cs-3",
                "--model",
                "llama-3.1-8b",
                "--input-len",
                "10",
                "--output-len",
                "10",
                "--count",
                "1",
                "--tp",
                "2",
            ],
            "wafer-scale",
        ),  # fmt: skip
    ],
)
def test_bad_input_is_an_error_not_a_traceback(capsys, args, message):
    code, _, err = run(capsys, *args)
    assert code == 2 and err.startswith("error:") and message in err


def test_compare_runs_wafer_rows_with_speculative_decoding_and_says_so(capsys):
    args = ["compare", "--systems", "cs-3:4", "--draft", "llama-3.1-8b", "--acceptance", "0.8"]
    code, out, _ = run(capsys, *args, "--json")
    (row,) = json.loads(out)["deployments"]
    assert code == 0 and row["single_user"]["speculative_used"] is True
    assert row["single_user"]["speculative"]["draft_model"] == "llama-3.1-8b"
    code, out, _ = run(capsys, *args)
    assert code == 0 and "speculative decoding, draft llama-3.1-8b" in out
