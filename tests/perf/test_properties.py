"""Invariants of the performance model, checked over many inputs with hypothesis."""

from hypothesis import given, settings
from hypothesis import strategies as st

from wafersim.catalog import load_catalog
from wafersim.perf import EstimateRequest, IterationCost, Layout, decode_work, estimate, prefill_work

CATALOG = load_catalog()
MODELS = ["llama-3.1-8b", "llama-3.1-70b", "mixtral-8x7b", "gpt-oss-20b", "deepseek-v3", "llama-4-scout"]


@settings(max_examples=40, deadline=None)
@given(
    model_id=st.sampled_from(MODELS),
    batch=st.integers(1, 512),
    context=st.integers(1, 8000),
    factor=st.floats(1.01, 4.0),
)
def test_more_memory_bandwidth_is_never_slower(model_id, batch, context, factor):
    model, system = CATALOG.model(model_id), CATALOG.system("h100-sxm")
    faster = system.model_copy(
        update={
            "memory": system.memory.model_copy(
                update={"bw_bytes_per_s": system.memory.bw_bytes_per_s * factor}
            )
        }
    )
    work = decode_work(batch, context, model.sliding_window) + prefill_work(context, 0, model.sliding_window)
    slow = float(IterationCost(model, system, Layout(tp=8), "fp8").time_s(work))
    fast = float(IterationCost(model, faster, Layout(tp=8), "fp8").time_s(work))
    assert fast <= slow


@settings(max_examples=25, deadline=None)
@given(
    model_id=st.sampled_from(["llama-3.1-8b", "llama-3.1-70b", "mixtral-8x7b"]),
    system_id=st.sampled_from(["h100-sxm", "b200", "mi300x"]),
    batches=st.lists(st.integers(1, 4096), min_size=2, max_size=2, unique=True),
)
def test_throughput_does_not_fall_as_batch_grows_while_it_fits(model_id, system_id, batches):
    small, large = sorted(batches)
    base = dict(
        model=CATALOG.model(model_id),
        system=CATALOG.system(system_id),
        count=8,
        tp=8,
        pp=1,
        ep=1,
        attention_dp=False,
        input_len=512,
        output_len=256,
        precision="fp8",
    )
    a = estimate(EstimateRequest(batch=small, **base))
    b = estimate(EstimateRequest(batch=large, **base))
    if a.fits and b.fits:
        assert b.output_tokens_per_s >= a.output_tokens_per_s * (1 - 1e-9)
        assert b.tpot_s >= a.tpot_s * (1 - 1e-9)  # and each user waits at least as long


@settings(max_examples=25, deadline=None)
@given(model_id=st.sampled_from(MODELS), input_len=st.integers(1, 4000), output_len=st.integers(1, 2000))
def test_estimates_are_deterministic_and_positive(model_id, input_len, output_len):
    request = EstimateRequest(
        model=CATALOG.model(model_id),
        system=CATALOG.system("b200"),
        count=8,
        input_len=input_len,
        output_len=output_len,
    )
    first, second = estimate(request), estimate(request)
    assert first == second
    if first.fits:
        assert first.ttft_s > 0 and first.tpot_s > 0 and first.output_tokens_per_s > 0
        assert first.memory_bytes_per_accelerator <= first.memory["usable_bytes"]
