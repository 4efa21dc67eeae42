"""Fuzzing the command line's flags and the Python API's arguments.

Property: exit status 0 (an answer) or 2 (one line on stderr starting "error:"), never 1 (an internal error)
or a traceback; the API answers or raises a WafersimError; nothing runs past a time bound."""

from __future__ import annotations

import json
import math
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wafersim.cli.main import main
from wafersim.errors import WafersimError
from wafersim.perf import EstimateRequest, estimate

from .test_issue13_regressions import time_limit

# WAFERSIM_FUZZ_EXAMPLES=500 explores further (locally); the suite's default keeps it to seconds.
FUZZ = settings(
    max_examples=int(os.environ.get("WAFERSIM_FUZZ_EXAMPLES", 20)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
BOUND_S = 30

# What people type where a number belongs.
NUMBER_TEXT = st.one_of(
    st.sampled_from(
        [
            "0",
            "-1",
            "1",
            "2",
            "8",
            "3",
            "nan",
            "inf",
            "-inf",
            "1e18",
            "1.5",
            "abc",
            "",
            "1_000",
            str(10**18),
            "0x10",
            " 4",
            "1e-300",
        ]
    ),  # fmt: skip
    st.integers(min_value=-10, max_value=10**7).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)

ESTIMATE_FLAGS = ["--count", "--tp", "--pp", "--ep", "--batch", "--max-tpot", "--input-len", "--output-len",
                  "--life-years", "--usd-per-kwh", "--pue"]  # fmt: skip
BASE = {"--model": "llama-3.1-8b", "--system": "h100-sxm", "--count": "1", "--input-len": "100",
        "--output-len": "10"}  # fmt: skip


def _run(capsys, args: list[str]) -> tuple[int, str]:
    with time_limit(BOUND_S):
        code = main(args)
    captured = capsys.readouterr()
    return code, captured.err


def _check(code: int, err: str) -> None:
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2 and err.startswith("{"):  # --json: one JSON object
        assert set(json.loads(err)) == {"error", "field"}, err
    elif code == 2:
        assert err.startswith(("error:", "Usage:")), err


@FUZZ
@given(
    flags=st.dictionaries(st.sampled_from(ESTIMATE_FLAGS), NUMBER_TEXT, max_size=3),
    system=st.sampled_from(["h100-sxm", "b200", "groq-lpu", "tpu-v6e", "cs-3"]),
    model=st.sampled_from(["llama-3.1-8b", "mixtral-8x7b", "gpt-oss-20b"]),
)
def test_estimate_flags(capsys, flags, system, model):
    if system == "cs-3":  # the wafer placement search is the slow path: hold the count small
        flags.pop("--count", None)
    args = {**BASE, "--system": system, "--model": model, **flags}
    code, err = _run(capsys, ["estimate", *[item for pair in args.items() for item in pair]])
    _check(code, err)


@FUZZ
@given(
    systems=st.lists(
        st.tuples(st.sampled_from(["h100-sxm", "b200", "mi300x", "groq-lpu", "nope", ""]), NUMBER_TEXT),
        max_size=3,
    ),
    lengths=st.tuples(NUMBER_TEXT, NUMBER_TEXT),
)
def test_compare_flags(capsys, systems, lengths):
    spec = ",".join(f"{s}:{c}" for s, c in systems) or "h100-sxm:8"
    args = ["compare", "--model", "llama-3.1-8b", "--systems", spec, "--input-len", lengths[0],
            "--output-len", lengths[1], "--json"]  # fmt: skip
    code, err = _run(capsys, args)
    _check(code, err)


SERVE_FLAGS = ["--rate", "--duration", "--input-len", "--output-len", "--cv", "--slo-ttft", "--slo-tpot",
               "--max-batch", "--chunk-tokens", "--requests", "--replicas", "--prefill-count", "--rate-scale"]  # fmt: skip
# Small numbers for the flags that size the work, so that a valid draw simulates a few hundred requests.
SMALL_TEXT = st.one_of(NUMBER_TEXT, st.sampled_from(["1", "5", "20", "0.5"]))


@FUZZ
@given(flags=st.dictionaries(st.sampled_from(SERVE_FLAGS), SMALL_TEXT, max_size=3))
def test_serve_flags(capsys, flags):
    args = {"--model": "llama-3.1-8b", "--system": "h100-sxm", "--count": "1", "--rate": "5", "--duration": "20",
            "--input-len": "64", "--output-len": "8", **flags}  # fmt: skip
    try:  # keep valid draws small: more than ~2,000 requests is not the point here (the size guard is tested)
        rate, duration = float(args["--rate"]), float(args["--duration"])
        if 0 < rate < 1e7 and rate * duration > 2000:
            args["--duration"] = repr(2000 / rate)
    except ValueError:
        pass
    code, err = _run(capsys, ["serve", *[item for pair in args.items() for item in pair], "--json"])
    _check(code, err)


ANY = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 2, 8, 100, 1.0, 1000.5, "8", "fp7", "bf16", True, None, math.nan, 10**18]),
    st.text(max_size=5),
)


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(["count", "input_len", "output_len", "tp", "pp", "ep", "batch",
                                                "max_batch", "max_tpot_s", "precision", "kv_precision",
                                                "attention_dp"]), ANY, max_size=3))  # fmt: skip
def test_api_arguments(catalog, changes):
    args = {"model": catalog.model("llama-3.1-8b"), "system": catalog.system("h100-sxm"), "count": 8,
            "input_len": 100, "output_len": 10, **changes}  # fmt: skip
    with time_limit(BOUND_S):
        try:
            answer = estimate(EstimateRequest(**args))
        except WafersimError as error:
            assert str(error)
            return
    assert answer.fits in (True, False)
    if answer.fits:
        assert answer.tpot_s is not None and math.isfinite(answer.tpot_s) and answer.tpot_s > 0


@FUZZ
@given(tokens=ANY, context=ANY, layer=ANY)
def test_wafer_sweep_arguments(catalog, tokens, context, layer):
    from wafersim.catalog.fabric_arch import load_arch
    from wafersim.perf.wafer.sweep import layer_sweep

    with time_limit(BOUND_S):
        try:
            points = layer_sweep(catalog.model("llama-3.1-8b"), load_arch("wse-3"), tokens=tokens, context=context,
                                 layer=layer)  # fmt: skip
        except WafersimError as error:
            assert error.field in ("tokens", "context", "layer"), str(error)
            return
    assert points and all(p.cycles > 0 for p in points)
