"""The frontier search: every point within the SLO is on the frontier or beaten by one that is."""

from __future__ import annotations

import json

import pytest

from wafersim.errors import WafersimError
from wafersim.perf.frontier import frontier

KEYS = {"mode", "prefill_system", "decode_system", "prefill", "decode", "output_tokens_per_s_per_user",
        "output_tokens_per_s_per_mw", "ttft_s", "tpot_s", "pareto"}  # fmt: skip


@pytest.fixture(scope="module")
def gpu_frontier(catalog):
    return frontier("llama-3.1-8b", ["h100-sxm", catalog.system("b200")], input_len=1000, output_len=200,
                    slo_ttft_s=1.0, slo_tpot_s=0.05, disagg=True, catalog=catalog)  # fmt: skip


def _beats(a, b) -> bool:
    return (a.output_tokens_per_s_per_user >= b.output_tokens_per_s_per_user
            and a.output_tokens_per_s_per_mw >= b.output_tokens_per_s_per_mw
            and (a.output_tokens_per_s_per_user, a.output_tokens_per_s_per_mw)
            != (b.output_tokens_per_s_per_user, b.output_tokens_per_s_per_mw))  # fmt: skip


def test_the_frontier_is_pareto_optimal(gpu_frontier):
    within = [p for p in gpu_frontier.points if p.meets_slo]
    front = [p for p in within if p.pareto]
    assert front and all(not p.pareto for p in gpu_frontier.points if not p.meets_slo)
    for p in front:
        assert not any(_beats(q, p) for q in within)
    for p in within:
        assert p.pareto or any(_beats(q, p) for q in front)


def test_points_respect_the_slo_flags(gpu_frontier):
    for p in gpu_frontier.points:
        assert p.meets_slo == (p.ttft_s <= 1.0 and p.tpot_s <= 0.05)
    assert any(not p.meets_slo for p in gpu_frontier.points)


def test_disaggregated_pools_pair_every_system(gpu_frontier):
    pairs = {(p.prefill_system, p.decode_system) for p in gpu_frontier.points if p.mode == "disaggregated"}
    assert pairs == {(a, b) for a in ("h100-sxm", "b200") for b in ("h100-sxm", "b200")}
    for p in gpu_frontier.points:
        if p.mode == "disaggregated":
            # A decode step without prefill work is never slower than the aggregated step at that batch.
            assert p.prefill["replicas_per_decode_replica"] > 0 and p.ttft_s > 0
            assert p.output_tokens_per_s_per_user == pytest.approx(1.0 / p.tpot_s)


def test_json_contract(gpu_frontier):
    data = json.loads(json.dumps([p.to_dict() for p in gpu_frontier.points]))
    assert all(set(row) >= KEYS for row in data)
    assert all({"count", "batch"} <= set(row["decode"]) for row in data)


def test_cli_table_json_and_plot(tmp_path, capsys):
    from wafersim.cli.main import main

    args = ["frontier", "--model", "llama-3.1-8b", "--system", "h100-sxm", "--input-len", "500",
            "--output-len", "100", "--slo-tpot", "0.05"]  # fmt: skip
    assert main([*args, "--json", "--plot", str(tmp_path / "f.png")]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and any(r["pareto"] for r in rows) and (tmp_path / "f.png").stat().st_size > 10_000
    assert main(args) == 0
    assert "on the frontier" in capsys.readouterr().out
    assert main([*args, "--plot", str(tmp_path / "f.txt")]) == 2
    assert "name it .png" in capsys.readouterr().err


def test_bad_input_is_named(catalog):
    with pytest.raises(WafersimError, match="slo_tpot_s"):
        frontier("llama-3.1-8b", ["h100-sxm"], input_len=100, output_len=100, slo_tpot_s=-1)
    with pytest.raises(WafersimError, match="at least one system"):
        frontier("llama-3.1-8b", [], input_len=100, output_len=100)
