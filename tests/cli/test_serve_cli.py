import csv
import json
from pathlib import Path

import numpy as np
import pytest

from wafersim.catalog import load_catalog
from wafersim.cli.main import main
from wafersim.serving.workload import read_trace, trace_path

BASE = ["--model", "llama-3.1-8b", "--system", "h100-sxm", "--count", "1"]
REQUIRED = ["requests", "completed", "ttft_p50_s", "ttft_p90_s", "ttft_p99_s", "tpot_p50_s", "tpot_p90_s",
            "tpot_p99_s", "e2e_p50_s", "output_tokens_per_s", "sim_wall_s"]  # fmt: skip


def run(capsys, args):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_serve_replays_a_shipped_trace_as_json(capsys, tmp_path: Path):
    out_csv, chrome, series = tmp_path / "requests.csv", tmp_path / "trace.json", tmp_path / "series.csv"
    code, out, err = run(
        capsys,
        ["serve", *BASE, "--trace", "azure-code", "--requests", "300", "--rate-scale", "2", "--json",
         "--requests-out", str(out_csv), "--chrome-trace", str(chrome), "--trace-window", "0:30",
         "--series-out", str(series)],
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    for key in REQUIRED:
        assert summary[key] is not None, key
    assert summary["requests"] == summary["completed"] == 300 and "rejected" not in summary
    assert summary["seed"] == 0
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 300 and {row["status"] for row in rows} == {"completed"}
    points = list(csv.DictReader(series.open()))
    assert {p["series"] for p in points} == {"kv_tokens", "running", "queue_len"}
    times = [float(p["time_s"]) for p in points]
    assert times == sorted(times) and len(points) == summary["series_rows"]
    assert (
        max(int(p["value"]) for p in points if p["series"] == "kv_tokens")
        <= summary["kv_capacity_tokens_per_engine"]
    )
    events = json.loads(chrome.read_text())["traceEvents"]
    assert events and all(event["ts"] <= 30e6 for event in events)


def test_same_seed_same_results(capsys):
    args = ["serve", *BASE, "--rate", "5", "--duration", "30", "--seed", "4", "--json"]
    first = json.loads(run(capsys, args)[1])
    second = json.loads(run(capsys, args)[1])
    third = json.loads(run(capsys, [*args[:-3], "--seed", "5", "--json"])[1])
    for summary in (first, second, third):
        summary.pop("sim_wall_s")
    assert first == second
    assert first != third


def test_malformed_trace_line_names_file_and_line(capsys, tmp_path: Path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6,10,2\n2023-11-16 18:15:47.1,-5,2\n"
    )
    code, out, err = run(capsys, ["serve", *BASE, "--trace", str(path)])
    assert code == 2
    assert err.startswith(f"error: {path}:3: ContextTokens must be ≥ 1") and "Traceback" not in err


def test_requests_longer_than_the_context_are_reported_rejected(capsys, tmp_path: Path):
    path = tmp_path / "w.jsonl"
    path.write_text(
        '{"arrival_s": 0, "prompt_tokens": 500, "output_tokens": 20}\n'
        '{"arrival_s": 1, "prompt_tokens": 200000, "output_tokens": 20}\n'
    )
    code, out, err = run(capsys, ["serve", *BASE, "--trace", str(path), "--json"])
    assert code == 0, err
    summary = json.loads(out)
    assert summary["completed"] == 1
    rejected = summary["rejected"]
    assert rejected["count"] == 1 and rejected["request_ids"] == [1]
    assert (
        "200020 tokens exceeds the model's 131072-token context"
        in rejected["reasons"]["exceeds-context"]["example"]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "llama-3.1-70b", "--system", "cs-3", "--count", "1"], "cs-3 is a wafer-scale system"),
        (["--model", "llama-3.1-405b", "--system", "h100-sxm", "--count", "1"], "cannot hold one request"),
        ([*BASE, "--replicas", "0"], "--replicas must be ≥ 1"),
    ],
)
def test_impossible_deployments_are_clear_errors(capsys, args, message):
    code, out, err = run(capsys, ["serve", *args, "--rate", "1", "--duration", "5"])
    assert code == 2 and message in err and "Traceback" not in err


def test_serve_needs_a_workload(capsys):
    code, out, err = run(capsys, ["serve", *BASE])
    assert code == 2 and "either --trace" in err and "--rate" in err


def test_serve_table_output(capsys):
    code, out, err = run(
        capsys,
        ["serve", *BASE, "--rate", "2", "--duration", "10", "--input-len", "200", "--output-len", "20"],
    )
    assert code == 0, err
    assert "ttft_p90_s" in out and "output_tokens_per_s" in out


def test_capacity_finds_the_edge_of_the_slos(capsys):
    slo_ttft, slo_tpot = 1.0, 0.05
    code, out, err = run(
        capsys,
        ["capacity", *BASE, "--input-len", "1000", "--output-len", "100", "--synthetic-requests", "400",
         "--slo-ttft", str(slo_ttft), "--slo-tpot", str(slo_tpot), "--json"],
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    rate = summary["max_rate_rps"]
    assert rate > 0
    assert summary["ttft_p90_s"] <= slo_ttft and summary["tpot_p90_s"] <= slo_tpot
    failing_above = [p["rate_rps"] for p in summary["probes"] if not p["meets"] and p["rate_rps"] > rate]
    assert failing_above and min(failing_above) <= rate * 1.02 + 1e-9  # bisection closed the bracket
    assert summary["requests_per_s_per_mw"] == pytest.approx(rate / (summary["power_w"] / 1e6))
    for key in ("max_rate_rps", "output_tokens_per_s", "ttft_p90_s", "tpot_p90_s"):
        assert key in summary


def test_disaggregated_serving_across_system_types(capsys):
    args = ["serve", "--model", "llama-3.1-8b", "--system", "h200-sxm", "--count", "1", "--trace", "azure-conv",
            "--requests", "400", "--prefill-system", "h100-sxm", "--prefill-replicas", "2", "--json"]  # fmt: skip
    code, out, err = run(capsys, args)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["completed"] == 400 and summary["engines"] == 3
    assert summary["prefill_system"] == "h100-sxm" and summary["accelerators"] == 3
    assert summary["prefill_power_w"] == pytest.approx(2 * 1275.0)  # two H100s, system power per GPU
    # Llama 3.1 8B KV: 32 layers × 8 KV heads × 128 × (K, V) × 2 bytes per token, one GPU each side;
    # the slower scale-out link of the two at the lower network efficiency, plus the larger latency.
    catalog = load_catalog()
    links = [catalog.system(s) for s in ("h100-sxm", "h200-sxm")]
    bw = min(s.scale_out.bw_bytes_per_s for s in links) * min(s.efficiency.network for s in links)
    latency = max(s.scale_out.latency_s for s in links)
    mean_prompt = float(np.mean(read_trace(trace_path("azure-conv")).head(400).prompt_tokens))
    expected = latency + mean_prompt * 32 * 8 * 128 * 2 * 2 / bw
    assert summary["kv_transfer_s_at_mean_prompt"] == pytest.approx(expected, rel=1e-9)
    code, out, err = run(capsys, [*args[:-1], "--scheduler", "sarathi"])
    assert code == 2 and "disaggregation runs vLLM-style engines" in err


def test_exact_pricing_agrees_with_the_tables_below_saturation(capsys):
    """Multi-prompt prefills priced exactly vs from the table (≤ 0.33 % apart): below saturation the
    percentiles agree to ~1 %. (In overloaded bursts tail TTFT is chaotic: see docs/serving.md.)"""
    args = ["serve", *BASE, "--trace", "azure-conv", "--requests", "2000", "--json"]
    table = json.loads(run(capsys, args)[1])
    exact = json.loads(run(capsys, [*args, "--exact-pricing"])[1])
    for key in ("ttft_p50_s", "ttft_p90_s", "tpot_p50_s", "tpot_p90_s", "output_tokens_per_s"):
        assert table[key] == pytest.approx(exact[key], rel=0.02), key


def test_parquet_output_needs_pyarrow_or_writes_a_table(capsys, tmp_path: Path):
    path = tmp_path / "requests.parquet"
    code, out, err = run(
        capsys, ["serve", *BASE, "--rate", "2", "--duration", "5", "--requests-out", str(path)]
    )
    try:
        import pyarrow.parquet as pq
    except ImportError:
        assert code == 2 and "Parquet output needs pyarrow" in err
        return
    assert code == 0, err
    assert (
        pq.read_table(path).num_rows
        == json.loads(run(capsys, ["serve", *BASE, "--rate", "2", "--duration", "5", "--json"])[1])[
            "requests"
        ]
    )


def test_workload_options(capsys):
    scaled = json.loads(run(capsys, ["serve", *BASE, "--trace", "azure-code", "--requests", "500",
                                     "--trace-rate", "4", "--json"])[1])  # fmt: skip
    assert scaled["offered_rate_rps"] == pytest.approx(4.0)
    bursty = json.loads(run(capsys, ["serve", *BASE, "--rate", "3", "--duration", "60", "--arrival", "gamma",
                                     "--cv", "3", "--input-len", "300", "--output-len", "30", "--json"])[1])  # fmt: skip
    assert bursty["completed"] == bursty["requests"] > 0
    code, out, err = run(capsys, ["serve", *BASE, "--rate", "3", "--duration", "5", "--trace-rate", "2"])
    assert code == 2 and "--trace-rate scales a trace" in err


def test_capacity_says_when_the_slos_never_bind(capsys):
    code, out, err = run(capsys, ["capacity", *BASE, "--synthetic-requests", "100", "--slo-ttft", "10000",
                                  "--slo-tpot", "100", "--json"])  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert all(probe["meets"] for probe in summary["probes"]) and "lower bound" in summary["note"]


def test_capacity_of_a_disaggregated_deployment_counts_both_pools(capsys):
    code, out, err = run(
        capsys,
        ["capacity", *BASE, "--input-len", "1000", "--output-len", "100", "--synthetic-requests", "300",
         "--prefill-replicas", "1", "--slo-ttft", "1", "--slo-tpot", "0.05", "--json"],
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["accelerators"] == 2 and summary["power_w"] == pytest.approx(2 * 1275.0)
    assert summary["max_rate_rps"] > 0 and summary["tpot_p90_s"] <= 0.05
    assert summary["requests_per_s_per_mw"] == pytest.approx(summary["max_rate_rps"] / (2 * 1275.0 / 1e6))
