"""The service path (what a client of a hosted wafer service sees) and speculative-decoding inputs."""

import math
from dataclasses import replace

import pytest

from wafersim.catalog import load_catalog
from wafersim.errors import WafersimError
from wafersim.perf import EstimateRequest
from wafersim.perf.wafer.estimator import WaferOptions, estimate_wafer, solve
from wafersim.perf.wafer.service import per_user, queue_wait_s
from wafersim.perf.wafer.speculative import Speculative

CATALOG = load_catalog()
CS3 = CATALOG.system("cs-3")
M8 = CATALOG.model("llama-3.1-8b")


def _request(**kw):
    return EstimateRequest(M8, kw.pop("system", CS3), 1, 1000, 1000, **kw)


def test_client_view_adds_the_service_path_to_the_wafers_own_time():
    answer = estimate_wafer(_request(batch=1), WaferOptions(per_user_views=True)).to_dict()
    service = CS3.service
    assert answer["wafer_ttft_s"] == answer["ttft_s"] and answer["wafer_tpot_s"] == answer["tpot_s"]
    # Batch 1: one micro-batch, its path plus the host round trip per token.
    assert answer["client_tpot_s"] == pytest.approx(answer["tpot_s"] + service.host_round_trip_s, rel=1e-9)
    queue = answer["service"]["queue_s"]
    assert answer["client_ttft_s"] == pytest.approx(
        service.request_latency_s + queue + answer["ttft_s"] + service.host_round_trip_s, rel=1e-9
    )
    assert answer["speculative_used"] is False
    views = answer["per_user"]
    assert views["batch_1"]["batch"] == 1 and views["serving"]["batch"] > 1
    assert views["serving"]["client_tpot_s"] >= views["batch_1"]["client_tpot_s"]


def test_without_a_service_section_only_the_wafers_time_is_reported():
    solved = solve(_request(batch=1), WaferOptions())
    view = per_user(None, solved.best, 1000)
    assert view.client_tpot_s is None and view.client_ttft_s is None
    assert view.wafer_tpot_s == solved.best.tpot_s(1000)


def test_round_trip_hides_behind_a_full_pipeline():
    """Micro-batches in flight cover a round trip shorter than the pipeline's busy time: the client's step is
    then the wafer's, and a longer round trip shows again."""
    solved = solve(_request(), WaferOptions())
    # More micro-batches in flight than the placement has stages make the pipeline throughput-bound.
    decode = replace(solved.best.decode, micro_batches=4 * solved.best.decode.micro_batches)
    best = replace(solved.best, decode=decode)
    slack = decode.micro_batches * decode.busiest_s - decode.path_s
    assert slack > 0
    hidden = CS3.service.model_copy(update={"host_round_trip_s": 0.5 * slack})
    shown = CS3.service.model_copy(update={"host_round_trip_s": 2.0 * slack})
    view = per_user(hidden, best, 1000)
    assert view.client_tpot_s == pytest.approx(view.wafer_tpot_s, rel=1e-12)
    assert per_user(shown, best, 1000).client_tpot_s > view.wafer_tpot_s


def test_queue_wait_grows_with_load():
    waits = [queue_wait_s(CS3.service.model_copy(update={"load": x}), 1.0) for x in (0.0, 0.5, 0.9)]
    assert waits == pytest.approx([0.0, 0.5, 4.5])


def test_speculative_use_is_reported_per_view():
    m70 = CATALOG.model("llama-3.1-70b")
    request = EstimateRequest(m70, CS3, 4, 1000, 1000, precision="fp8", batch=1)
    spec = Speculative(M8, 0.8, 4)
    answer = estimate_wafer(request, WaferOptions(speculative=spec, per_user_views=False)).to_dict()
    assert answer["speculative_used"] is True and answer["speculative"]["draft_model"] == "llama-3.1-8b"
    # One round trip per round of accepted tokens, not per token.
    rounds = answer["speculative"]["tokens_per_round"]
    assert answer["client_tpot_s"] == pytest.approx(
        answer["tpot_s"] + CS3.service.host_round_trip_s / rounds, rel=1e-9
    )


@pytest.mark.parametrize("acceptance", [-0.1, 1.5, math.nan, math.inf])
def test_acceptance_outside_zero_one_is_refused_naming_the_value(acceptance):
    with pytest.raises(WafersimError, match=r"acceptance .*\[0, 1\], got " + str(acceptance)):
        Speculative(M8, acceptance, 4)


@pytest.mark.parametrize("tokens", [0, -3, 65])
def test_draft_tokens_out_of_range_are_refused(tokens):
    with pytest.raises(WafersimError, match=f"draft_tokens .* got {tokens}"):
        Speculative(M8, 0.5, tokens)


def test_a_draft_no_smaller_than_the_target_is_refused():
    request = _request(batch=1)
    spec = Speculative(CATALOG.model("llama-3.1-70b"), 0.5, 4)
    with pytest.raises(WafersimError, match="not smaller than the target"):
        estimate_wafer(request, WaferOptions(speculative=spec))
