import json

import pytest

from wafersim.cli.main import main

KEYS = {
    "kernel",
    "arch",
    "grid",
    "engine",
    "cycles",
    "time_s",
    "max_rel_err",
    "sram_peak_bytes_per_pe",
    "sim_wall_s",
}


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_list(capsys):
    assert main(["fabric", "list"]) == 0
    out = capsys.readouterr().out
    for name in (
        "gemv",
        "meshgemv",
        "gemm-summa",
        "gemm-cannon",
        "meshgemm",
        "allreduce-ring",
        "allreduce-ktree",
        "broadcast",
    ):
        assert name in out


@pytest.mark.parametrize("engine", ["cycle", "fast"])
def test_run_json(capsys, engine):
    data = _json(
        capsys,
        [
            "fabric",
            "run",
            "meshgemm",
            "--arch",
            "wse-2",
            "--grid",
            "3x3",
            "--m",
            "12",
            "--k",
            "9",
            "--n",
            "6",
            "--dtype",
            "fp32",
            "--engine",
            engine,
            "--seed",
            "5",
            "--json",
        ],
    )
    assert set(data) >= KEYS
    assert data["grid"] == "3x3" and data["engine"] == engine and data["seed"] == 5
    assert data["time_s"] == pytest.approx(data["cycles"] / 1.1e9)
    assert data["max_rel_err"] < 1e-5


def test_run_json_names_the_routing(capsys):
    argv = ["fabric", "run", "gemm-summa", "--arch", "wse-2", "--grid", "8x8", "--m", "8", "--k", "8"]
    data = _json(capsys, [*argv, "--n", "8", "--json"])
    routing = data["routing"]
    assert routing["route_positions_per_color"] == 4 and routing["relay_operations"] == 0
    assert 1 < routing["route_positions_max"] <= 4 and routing["control_wavelets"] > 0
    assert main(["fabric", "arch", "wse-2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["router"]["route_positions_per_color"] == 4


def test_arch(capsys):
    data = _json(capsys, ["fabric", "arch", "wse-2", "--json"])
    assert data["fabric"]["program_width_pes"] == 750 and data["simd"]["fp16_fma"] == 4
    assert main(["fabric", "arch", "wse-3"]) == 0
    out = capsys.readouterr().out
    assert "762" in out and "SDK" in out


def test_run_full_grid(capsys):
    data = _json(
        capsys,
        ["fabric", "run", "allreduce-ktree", "--arch", "wse-2", "--grid", "full", "--n", "2", "--json"],
    )
    assert data["grid"] == "994x750"


def test_run_table_and_outputs(capsys, tmp_path):
    heat, trace = tmp_path / "h.png", tmp_path / "t.json"
    assert (
        main(
            [
                "fabric",
                "run",
                "gemv",
                "--grid",
                "2x2",
                "--heatmap",
                str(heat),
                "--trace",
                str(trace),
                "--clock-hz",
                "850e6",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "cycles" in out and "8.5e+08" in out
    assert heat.exists() and trace.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fabric", "run", "gemv", "--grid", "2y2"], "grid '2y2'"),
        (["fabric", "run", "warp", "--grid", "2x2"], "unknown kernel 'warp'"),
        (["fabric", "run", "gemm-cannon", "--grid", "2x3"], "square grid"),
        (["fabric", "run", "broadcast", "--grid", "full", "--engine", "cycle"], "engine fast is needed"),
        (["fabric", "run", "broadcast", "--grid", "2x2", "--k", "3"], "does not take k"),
        (["fabric", "run", "gemv", "--arch", "wse-7"], "unknown fabric architecture"),
        (["fabric", "run", "gemv", "--seed", "-1"], "seed must be a non-negative integer"),
        (["fabric", "run", "broadcast", "--grid", "full", "--trace", "t.json"], "trace export is for grids"),
        (
            ["fabric", "run", "allreduce-ring", "--grid", "64x64", "--n", "8192", "--engine", "cycle"],
            "beyond the cycle engine's",
        ),
        (["fabric", "run", "gemv", "--trace", "/nonexistent/dir/t.json"], "cannot write trace"),
        (["fabric", "run", "gemv", "--heatmap", "/nonexistent/dir/h.png"], "cannot write heatmap"),
        (["fabric", "run", "gemv", "--clock-hz", "2e9"], "not selectable"),
        (["fabric", "run", "gemv", "--grid", "2000x2000"], "does not fit the wse-3 program rectangle"),
        (["fabric", "run", "gemv", "--grid", "2x2", "--m", "4000", "--n", "4000"], "SRAM"),
    ],
)
def test_bad_input_is_an_error_not_a_traceback(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
