"""Output that reads well: the main job's table fits an 80-column terminal without cutting a cell."""

from __future__ import annotations

from wafersim.cli.main import main


def test_compare_fits_80_columns(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["compare", "--model", "llama-3.1-70b"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in out  # rich's mark for a truncated cell
    assert "8 × h100-sxm" in out and "× cs-3" in out  # every deployment is there, counts included
    assert "tp=0" not in out and "_s " not in out  # words, not field names
    assert out.rstrip().endswith(".") and "In short, fastest for one user:" in out  # the one-sentence verdict


def test_wafer_layout_in_words_not_tp0():
    from wafersim.cli.estimate import layout_words, part_words
    from wafersim.perf import Estimate

    placement = {"layer_regions": 27, "region_rows": 586, "region_cols": 108, "layers_per_region": 3}
    wafer = Estimate(model="m", system="cs-3", count=2, precision="fp8", kv_precision="bf16", input_len=1,
                     output_len=1, fits=True, extra={"placement": placement, "wafers_per_replica": 2})  # fmt: skip
    assert layout_words(wafer) == "27 regions of 586×108 PEs (3 layer(s) each) on 2 wafer(s)"
    gpu = Estimate(model="m", system="h100-sxm", count=8, precision="fp8", kv_precision="fp8", input_len=1,
                   output_len=1, fits=True, tp=4, pp=1, ep=1, dp=2)  # fmt: skip
    assert layout_words(gpu) == "tp 4 × pp 1, 2 replica(s)"
    assert [part_words(k) for k in ("fabric_s", "io_s", "qkv_proj")] == ["fabric", "I/O", "QKV projection"]
