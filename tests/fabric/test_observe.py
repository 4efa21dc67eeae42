import json

import pytest

from wafersim.errors import WafersimError
from wafersim.fabric.kernels.registry import run_kernel
from wafersim.fabric.observe import busy_fraction, trace_json
from wafersim.report.fabric_files import write_heatmaps, write_trace


@pytest.mark.parametrize("engine", ["cycle", "fast"])
def test_trace_is_chrome_json_with_one_thread_per_pe(wse2, tmp_path, engine):
    result = run_kernel("meshgemv", wse2, 3, 3, engine=engine, trace=True)
    path = write_trace(result, tmp_path / "t.json")
    data = json.loads(path.read_text())
    events = [e for e in data["traceEvents"] if e["ph"] == "X"]
    assert {e["tid"] for e in events} == set(range(9))
    assert max(e["ts"] + e["dur"] for e in events) <= result.cycles


def test_heatmap_png(wse2, tmp_path):
    result = run_kernel("gemv", wse2, 4, 4)
    path = write_heatmaps(result, tmp_path / "h.png", 49152)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fraction = busy_fraction(result)
    assert fraction.max() <= 1
    # Every PE does its local GEMV (16 columns x ceil(16 / 4) fp16 FMAs on wse-2) plus fabric work.
    assert (result.busy_cycles > 16 * 4).all()


def test_trace_refuses_big_grids(wse2):
    result = run_kernel("broadcast", wse2, 65, 65, n=2)
    with pytest.raises(WafersimError, match="trace export"):
        trace_json(result)


def test_link_utilisation_is_a_fraction(wse2):
    result = run_kernel("allreduce-ring", wse2, 4, 4)
    assert 0 < result.stats.link_utilisation < 1
    assert 0 < result.stats.link_utilisation_per_pe().max() <= 1


def test_link_counts_follow_the_routes(wse2):
    """A row broadcast from column 0 sends every wavelet east over each link of every row, and nothing else."""
    result = run_kernel("broadcast", wse2, 1, 5, n=10)
    east = result.stats.link_wavelets[0, :, 1]
    assert east.tolist() == [10, 10, 10, 10, 0]
    assert result.stats.link_wavelets.sum() == 40
