"""Operator FLOPs and bytes against closed forms."""

import numpy as np
import pytest

from wafersim.perf import IterationCost, Layout, decode_work, prefill_work
from wafersim.perf.work import StepWork


def _flops(cost, work):
    return float(sum(op.flops for op in cost.iteration_ops(work).values()))


def _bytes(cost, work):
    return float(sum(op.nbytes for op in cost.iteration_ops(work).values()))


@pytest.mark.parametrize("model_id", ["llama-3.1-8b", "llama-3.1-70b", "mixtral-8x7b", "qwen3-235b-a22b"])
def test_decode_flops_are_twice_active_params_per_token(catalog, model_id):
    """At a short context, a decode token's FLOPs are ≈ 2 × active parameters (attention adds a little)."""
    model = catalog.model(model_id)
    cost = IterationCost(model, catalog.system("h100-sxm"), Layout(), "bf16")
    flops = _flops(cost, decode_work(1, 16))
    embedding = model.embedding_params()  # a lookup, not a matmul
    assert flops == pytest.approx(2 * (model.params_active() - embedding), rel=0.02)


def test_decode_bytes_are_weights_at_batch_one(catalog):
    """Batch-1 decode reads every weight once (dense model), plus a small KV and activation traffic."""
    model = catalog.model("llama-3.1-70b")
    cost = IterationCost(model, catalog.system("h100-sxm"), Layout(), "fp8")
    weight_bytes = (model.params_total() - model.embedding_params()) * 1.0
    assert _bytes(cost, decode_work(1, 16)) == pytest.approx(weight_bytes, rel=0.01)


def test_prefill_attention_pairs_are_causal_triangle():
    work = prefill_work(1000)
    assert float(work.pairs_prefill) == 1000 * 1001 / 2
    chunk = prefill_work(500, past_tokens=500)
    first = prefill_work(500)
    assert float(first.pairs_prefill + chunk.pairs_prefill) == 1000 * 1001 / 2


def test_sliding_window_caps_pairs_and_reads():
    work = prefill_work(1000, window=128)
    # Queries 0..127 see j+1 keys, the rest see 128.
    assert float(work.window_pairs_prefill) == 128 * 129 / 2 + (1000 - 128) * 128
    decode = decode_work(4, 5000, window=128)
    assert float(decode.window_kv_reads) == 4 * 128
    assert float(decode.kv_reads) == 4 * 5001


def test_kv_bytes_per_decode_token_scale_with_context(catalog):
    model = catalog.model("llama-3.1-8b")
    cost = IterationCost(model, catalog.system("h100-sxm"), Layout(), "bf16")
    short, long = _bytes(cost, decode_work(1, 1000)), _bytes(cost, decode_work(1, 2000))
    kv_per_token = model.num_layers * model.kv_elements_per_token_per_layer() * 2  # bf16
    assert long - short == pytest.approx(1000 * kv_per_token, rel=0.01)


def test_mla_caches_latent_only(catalog):
    model = catalog.model("deepseek-v3")
    assert model.kv_elements_per_token_per_layer() == 512 + 64


def test_tensor_parallel_splits_weights_and_adds_allreduce(catalog):
    model, system = catalog.model("llama-3.1-70b"), catalog.system("h100-sxm")
    one = IterationCost(model, system, Layout(tp=1), "fp8")
    eight = IterationCost(model, system, Layout(tp=8), "fp8")
    work = decode_work(1, 100)
    assert _bytes(eight, work) == pytest.approx(_bytes(one, work) / 8, rel=0.05)
    assert float(eight.breakdown(work)["tp_allreduce"]) > 0
    assert "tp_allreduce" not in one.breakdown(work) or float(one.breakdown(work)["tp_allreduce"]) == 0


def test_vectorised_pricing_matches_scalar(catalog):
    cost = IterationCost(catalog.model("llama-3.1-8b"), catalog.system("h100-sxm"), Layout(), "bf16")
    batches = np.array([1, 8, 64, 512])
    vector = cost.time_s(decode_work(batches, 1000))
    scalar = [float(cost.time_s(decode_work(int(b), 1000))) for b in batches]
    assert np.allclose(vector, scalar)


def test_moe_reads_fewer_experts_at_small_batch(catalog):
    model = catalog.model("mixtral-8x7b")
    cost = IterationCost(model, catalog.system("h100-sxm"), Layout(), "bf16")
    one, many = _bytes(cost, decode_work(1, 10)), _bytes(cost, decode_work(256, 10))
    experts_total = model.num_moe_layers * model.moe.num_experts * model.expert_params() * 2
    # One token touches top-2 of 8 experts; 256 tokens touch all of them.
    assert one < 0.5 * experts_total
    assert many > experts_total


def test_stepwork_adds_fieldwise():
    a, b = decode_work(2, 10), prefill_work(5)
    total = a + b
    assert isinstance(total, StepWork)
    assert float(total.tokens) == 7
