from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wafersim.errors import WafersimError
from wafersim.perf.work import StepWork
from wafersim.serving import engine as engine_module
from wafersim.serving.engine import SchedulerConfig
from wafersim.serving.metrics import summarize, time_average
from wafersim.serving.simulator import PrefillPool, ServeConfig, simulate
from wafersim.serving.state import COMPLETED, REJECTED
from wafersim.serving.workload import Workload


# A linear replica (iteration time affine in tokens and KV reads): timings can be checked by hand.
@dataclass
class LinearReplica:
    kv_capacity_tokens: int = 100_000
    max_context_tokens: int = 8192
    step_s: float = 0.01  # fixed cost of an iteration
    per_token_s: float = 1e-4  # each new token (prefill or decode)
    per_read_s: float = 1e-7  # each cached token read by attention
    sliding_window: int | None = None
    accelerators: int = 1
    power_w: float = 1000.0
    kv_bytes_per_token: float = 1000.0

    def iteration_time_s(self, work: StepWork) -> np.ndarray:
        tokens = np.asarray(work.tokens, dtype=float)
        reads = np.asarray(work.kv_reads, dtype=float)
        return self.step_s + self.per_token_s * tokens + self.per_read_s * reads


def make_workload(arrivals, prompts, outputs, source: str = "test") -> Workload:
    return Workload(
        np.asarray(arrivals, dtype=float),
        np.asarray(prompts, dtype=np.int64),
        np.asarray(outputs, dtype=np.int64),
        source,
    )


PREFILL_100 = 0.01 + 1e-4 * 100 + 1e-7 * 100  # step + tokens + reads of a 100-token prompt


def decode_s(context_tokens):
    return 0.01 + 1e-4 + 1e-7 * (np.asarray(context_tokens) + 1)


@pytest.mark.parametrize("policy", ["vllm", "sarathi", "static"])
def test_one_request_by_hand(policy):
    result = simulate(
        make_workload([0.0], [100], [5]), LinearReplica(), ServeConfig(SchedulerConfig(policy=policy))
    )
    r = result.requests
    assert r.first_token_s[0] == pytest.approx(PREFILL_100, rel=1e-9)
    # four decode steps read 101..104 cached tokens (prompt + tokens so far)
    assert r.finish_s[0] == pytest.approx(PREFILL_100 + decode_s([100, 101, 102, 103]).sum(), rel=1e-9)


def test_vllm_prefill_waits_for_the_running_step_then_pauses_decodes():
    result = simulate(make_workload([0.0, 0.015], [100, 100], [50, 50]), LinearReplica())
    r = result.requests
    assert r.first_token_s[1] == pytest.approx(2 * PREFILL_100, rel=1e-9)
    assert r.queued_s[1] == pytest.approx(PREFILL_100 - 0.015, rel=1e-9)


def test_an_arrival_cuts_a_decode_stretch_at_the_next_step():
    result = simulate(make_workload([0.0, 0.5], [100, 100], [500, 10]), LinearReplica())
    r = result.requests
    step = decode_s(150)
    assert PREFILL_100 <= r.first_token_s[1] - 0.5 <= PREFILL_100 + step * 1.01
    assert result.events < 12  # the long request's 500 tokens were not stepped one event at a time


def test_preemption_recomputes_and_everything_completes():
    replica = LinearReplica(kv_capacity_tokens=64)
    workload = make_workload([0.0, 0.0], [20, 20], [20, 20])
    result = simulate(workload, replica)
    r = result.requests
    assert np.all(r.status == COMPLETED)
    assert r.preemptions.sum() >= 1
    assert np.all(r.generated == r.output)


def test_oversized_requests_are_rejected_with_reasons():
    replica = LinearReplica(kv_capacity_tokens=500, max_context_tokens=600)  # 31 blocks of 16
    workload = make_workload([0.0, 1.0, 2.0], [100, 700, 550], [10, 10, 40])
    result = simulate(workload, replica)
    r = result.requests
    assert list(r.status) == [COMPLETED, REJECTED, REJECTED]
    assert (
        r.reason[1][0] == "exceeds-context"
        and "710 tokens exceeds the model's 600-token context" in r.reason[1][1]
    )
    assert r.reason[2] == (
        "exceeds-kv-capacity",
        "needs 590 tokens of KV cache but one engine holds 496 (after the admission watermark)",
    )
    summary = summarize(result)
    assert summary["rejected"]["count"] == 2 and set(summary["rejected"]["reasons"]) == {
        "exceeds-context",
        "exceeds-kv-capacity",
    }


def test_a_deployment_that_cannot_hold_any_request_is_an_error():
    with pytest.raises(WafersimError, match="cannot hold one request"):
        simulate(make_workload([0.0], [10], [10]), LinearReplica(kv_capacity_tokens=8))
    with pytest.raises(WafersimError, match="every request is rejected, e.g. request 0: needs 120 tokens"):
        simulate(make_workload([0.0], [100], [20]), LinearReplica(kv_capacity_tokens=64))


def _checked_kv(monkeypatch):
    """Fail the test if any engine ever holds more KV blocks than it has, or a negative count."""
    original = engine_module.Engine.complete
    peaks = []

    def complete(self, now_s):
        original(self, now_s)
        assert 0 <= self.blocks_used <= self.capacity_blocks, (self.blocks_used, self.capacity_blocks)
        # the running count is kept incrementally; it must equal what the sequences hold
        held = int((-(-self.run_len // self.block)).sum()) + self.reserved_blocks
        assert self.blocks_used == held, (self.blocks_used, held)
        peaks.append(self.blocks_used / self.capacity_blocks)

    monkeypatch.setattr(engine_module.Engine, "complete", complete)
    return peaks


requests_strategy = st.lists(
    st.tuples(st.floats(0, 5), st.integers(1, 400), st.integers(1, 120)), min_size=1, max_size=40
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    requests=requests_strategy,
    policy=st.sampled_from(["vllm", "sarathi", "static"]),
    capacity=st.integers(48, 4000),
    context=st.sampled_from([8192, 300]),
    max_batch=st.integers(1, 8),
    chunk=st.integers(1, 600),
    engines=st.integers(1, 3),
    router=st.sampled_from(["round-robin", "least-outstanding", "least-kv"]),
    prefill_engines=st.sampled_from([0, 0, 1, 2]),
    prefill_capacity=st.integers(48, 4000),
)
def test_invariants(
    monkeypatch,
    requests,
    policy,
    capacity,
    context,
    max_batch,
    chunk,
    engines,
    router,
    prefill_engines,
    prefill_capacity,
):
    _checked_kv(monkeypatch)
    arrivals, prompts, outputs = zip(*sorted(requests), strict=True)
    workload = make_workload(np.asarray(arrivals) - arrivals[0], prompts, outputs)
    replica = LinearReplica(kv_capacity_tokens=capacity, max_context_tokens=context)
    config = ServeConfig(
        SchedulerConfig(policy=policy, max_batch=max_batch, chunk_tokens=chunk),
        engines=engines,
        router=router,
    )
    try:
        result = simulate(workload, replica, config)
    except WafersimError as error:  # only when nothing at all can be served, and said so
        assert "cannot hold one request" in str(error) or "every request is rejected" in str(error)
        return
    r = result.requests
    done, rejected = r.status == COMPLETED, r.status == REJECTED
    assert done.sum() + rejected.sum() == r.n  # conservation: nothing dropped
    assert set(np.flatnonzero(rejected)) == set(r.reason)
    assert np.all(r.first_token_s[done] >= r.arrival_s[done])  # nothing finishes before it arrives
    assert np.all(r.finish_s[done] >= r.first_token_s[done])
    assert np.all(r.generated[done] == r.output[done])
    assert np.all(r.queued_s[done] <= r.finish_s[done] - r.arrival_s[done] + 1e-9)  # re-queues included
    # Little's law on the simulated queue: time-average queue length = arrival rate × mean time queued,
    # i.e. the area under the recorded queue-length curve equals the total time requests spent queued.
    end = float(np.nanmax(r.finish_s)) if done.any() else 0.0
    series = result.series
    area = 0.0
    for e in range(result.engines):
        mask = np.frombuffer(series.queue_engine, dtype=np.int64) == e
        times = np.frombuffer(series.queue_t)[mask]
        lengths = np.frombuffer(series.queue_len, dtype=np.int64)[mask]
        if len(times):
            area += time_average(times, lengths, end) * (end - times[0])
    assert area == pytest.approx(r.queued_s.sum(), rel=1e-9, abs=1e-9)


def test_same_inputs_same_results():
    rng = np.random.default_rng(3)
    n = 300
    workload = make_workload(
        np.sort(rng.uniform(0, 20, n)), rng.integers(1, 2000, n), rng.integers(1, 300, n)
    )
    config = ServeConfig(SchedulerConfig(policy="sarathi", max_batch=16), engines=2)
    a = simulate(workload, LinearReplica(kv_capacity_tokens=20000), config).requests
    b = simulate(workload, LinearReplica(kv_capacity_tokens=20000), config).requests
    for name in ("first_token_s", "finish_s", "queued_s", "preemptions", "engine"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True)


def test_littles_law_against_arrival_rate_under_load():
    """L = λ W on a loaded queue, with λ and W measured independently of the queue-length series."""
    rng = np.random.default_rng(11)
    n = 3000
    arrivals = np.cumsum(rng.exponential(1 / 40.0, n))
    workload = make_workload(arrivals - arrivals[0], rng.integers(50, 400, n), rng.integers(10, 60, n))
    result = simulate(
        workload, LinearReplica(kv_capacity_tokens=20000), ServeConfig(SchedulerConfig(max_batch=8))
    )
    r = result.requests
    end = float(np.nanmax(r.finish_s))
    q_t = np.frombuffer(result.series.queue_t)
    q_len = np.frombuffer(result.series.queue_len, dtype=np.int64)
    mean_length = time_average(q_t, q_len, end)
    rate = n / end
    assert mean_length > 1.0  # a real queue formed
    assert mean_length == pytest.approx(rate * r.queued_s.mean(), rel=1e-6)


def test_disaggregated_request_by_hand():
    """Prefill on one engine, KV moved in 50 ms, decode on another: TTFT is the prefill; the decode steps start
    when the KV lands, without a second prefill."""
    prefill = PrefillPool(LinearReplica(), lambda tokens: 0.05 + 0.0 * tokens)
    result = simulate(
        make_workload([0.0], [100], [5]), LinearReplica(), ServeConfig(prefill_engines=1), prefill=prefill
    )
    r = result.requests
    assert r.first_token_s[0] == pytest.approx(PREFILL_100, rel=1e-9)
    assert r.finish_s[0] == pytest.approx(PREFILL_100 + 0.05 + decode_s([100, 101, 102, 103]).sum(), rel=1e-9)
    assert r.engine[0] == 0  # decoded on the decode engine (index 0); the prefill engine is index 1


def test_disaggregation_rejects_what_the_prefill_pool_cannot_hold():
    prefill = PrefillPool(LinearReplica(kv_capacity_tokens=160), lambda tokens: 0.01 + 0.0 * tokens)
    workload = make_workload([0.0, 1.0], [100, 300], [10, 10])
    result = simulate(workload, LinearReplica(), ServeConfig(prefill_engines=1), prefill=prefill)
    assert list(result.requests.status) == [COMPLETED, REJECTED]
    assert "a prefill engine holds 160" in result.requests.reason[1][1]


@pytest.mark.parametrize(
    ("router", "expected"),
    [
        ("round-robin", [0, 1, 2, 0, 1, 2]),  # in turn, whatever the load
        (
            "least-outstanding",
            [0, 1, 2, 0, 1, 2],
        ),  # ties go to the lowest index; each engine is busy once used
        ("least-kv", [0, 1, 2, 0, 1, 2]),
    ],
)
def test_routers_spread_a_burst(router, expected):
    workload = make_workload(np.zeros(6), [100] * 6, [50] * 6)
    result = simulate(workload, LinearReplica(), ServeConfig(engines=3, router=router))
    assert list(result.requests.engine) == expected


def test_least_outstanding_avoids_the_busy_engine_and_round_robin_does_not():
    # A long request occupies engine 0; later short ones arrive one by one after the previous finished.
    arrivals = [0.0, 1.0, 2.0, 3.0]
    workload = make_workload(arrivals, [100, 10, 10, 10], [5000, 2, 2, 2])
    least = simulate(workload, LinearReplica(), ServeConfig(engines=2, router="least-outstanding")).requests
    turns = simulate(workload, LinearReplica(), ServeConfig(engines=2, router="round-robin")).requests
    assert list(least.engine) == [0, 1, 1, 1]
    assert list(turns.engine) == [0, 1, 0, 1]
    assert least.first_token_s[2] - 2.0 < turns.first_token_s[2] - 2.0  # not queued behind the long decode
