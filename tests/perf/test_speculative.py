"""Speculative decoding on GPUs, LPUs and RDUs (draft model or MTP heads), and the `estimate` options."""

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from wafersim.cli.main import cli, main
from wafersim.errors import WafersimError
from wafersim.perf import EstimateRequest, estimate
from wafersim.perf.speculative import MTPHeads, tokens_per_round, verify_work
from wafersim.perf.wafer.speculative import Speculative


def _request(catalog, model="llama-3.1-70b", system="h100-sxm", count=8, spec=None, **more):
    return EstimateRequest(
        model=catalog.model(model), system=catalog.system(system), count=count, input_len=1000,
        output_len=200, batch=more.pop("batch", 1), precision=more.pop("precision", "fp8"), speculative=spec,
        **more,
    )  # fmt: skip


def test_tokens_per_round_bounds():
    assert tokens_per_round(0.0, 4) == 1.0
    assert tokens_per_round(1.0, 4) == 5.0
    assert tokens_per_round(0.8, 4) == pytest.approx((1 - 0.8**5) / 0.2)


def test_verify_step_carries_width_tokens_with_logits():
    work = verify_work(batch=3, context=100, width=5, window=None)
    assert float(work.tokens) == 15 and float(work.logits) == 15
    assert float(work.kv_reads) == 3 * 105  # each sequence's cache (plus its new tokens) read once


def test_draft_model_speeds_up_a_memory_bound_gpu(catalog):
    plain = estimate(_request(catalog))
    spec = estimate(_request(catalog, spec=Speculative(catalog.model("llama-3.1-8b"), 0.8, 4)))
    useless = estimate(_request(catalog, spec=Speculative(catalog.model("llama-3.1-8b"), 0.0, 4)))
    assert spec.output_tokens_per_s_per_user > 1.5 * plain.output_tokens_per_s_per_user
    assert useless.output_tokens_per_s_per_user < plain.output_tokens_per_s_per_user  # drafting costs
    summary = spec.to_dict()["speculative"]
    assert summary["draft_model"] == "llama-3.1-8b" and summary["verify_width"] == 5
    assert spec.ttft_s > plain.ttft_s  # the draft prefills the prompt too


@settings(max_examples=8, deadline=None)
@given(low=st.floats(0.0, 0.95), step=st.floats(0.01, 0.05))
def test_mtp_speed_grows_with_acceptance(catalog, low, step):
    def speed(acceptance):
        result = estimate(
            _request(catalog, "deepseek-v3", "b200", precision=None, spec=MTPHeads(1, acceptance))
        )
        return result.output_tokens_per_s_per_user

    assert speed(min(low + step, 1.0)) >= speed(low)


def test_draft_needs_the_targets_vocabulary(catalog):
    with pytest.raises(WafersimError, match="shared tokenizer"):
        estimate(_request(catalog, spec=Speculative(catalog.model("llama-2-13b"), 0.8, 4)))


def test_draft_memory_is_charged_on_sram_chips(catalog):
    """On 384 LPUs the 70B target fills the SRAM: the draft's weights do not fit, and the answer says why."""
    result = estimate(
        _request(
            catalog, system="groq-lpu", count=384, spec=Speculative(catalog.model("llama-3.1-8b"), 0.8, 4)
        )
    )
    assert not result.fits and "drafter needs" in result.reason


def test_estimate_cli_options(capsys):
    runner = CliRunner()
    base = ["estimate", "--model", "deepseek-v3", "--system", "b200", "--count", "8", "--input-len", "1000",
            "--output-len", "200", "--batch", "1"]  # fmt: skip
    out = runner.invoke(cli, [*base, "--mtp-heads", "1", "--acceptance", "0.85", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["speculative"]["mtp_heads"] == 1
    for extra, message in (
        (["--acceptance", "0.8"], "needs --draft MODEL or --mtp-heads"),
        (["--mtp-heads", "1"], "needs --acceptance"),
        (["--mtp-heads", "1", "--acceptance", "1.5"], "within [0, 1]"),
        (["--mtp-heads", "1", "--draft", "llama-3.1-8b", "--acceptance", "0.8"], "not both"),
    ):
        code = main([*base, *extra])
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err


def test_wafer_takes_the_same_draft_option():
    out = CliRunner().invoke(cli, [
        "estimate", "--model", "llama-3.1-70b", "--system", "cs-3", "--count", "6", "--input-len", "1000",
        "--output-len", "200", "--batch", "1", "--draft", "llama-3.1-8b", "--acceptance", "0.8", "--json",
    ])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["speculative"]["draft_model"] == "llama-3.1-8b"
