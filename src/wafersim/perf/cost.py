"""Time of one forward pass on one replica, operator by operator (roofline per operator + alpha-beta links).

Each operator's time on one accelerator is max(FLOPs / achievable FLOP/s, bytes / achievable bandwidth):
it is bound by whichever it runs out of first. Collectives are added, not overlapped (inference kernels wait
for the all-reduce before the next matrix multiply). Pipeline stages hold contiguous layers; with `pp`
micro-batches in flight, one iteration of the whole batch takes pp × the slowest stage.

Everything is NumPy-vectorised over the fields of `StepWork`, so a serving simulator can price many
iterations in one call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wafersim.catalog import BYTES_PER_ELEMENT, ModelSpec, Precision, SystemSpec
from wafersim.perf.collectives import allreduce_s, send_s
from wafersim.perf.layout import Layout
from wafersim.perf.work import StepWork

ACTIVATION_BYTES = 2.0  # activations and collectives stay in 16-bit in TensorRT-LLM and vLLM
LOGIT_BYTES = 4.0  # logits are produced in fp32 for sampling


def default_kv_precision(precision: Precision) -> Precision:
    """8-bit and 4-bit deployments keep the KV cache in fp8 (as MLPerf's FP8/NVFP4 submissions do)."""
    return "bf16" if precision == "bf16" else "fp8"


@dataclass(frozen=True)
class _LayerClass:
    moe: bool
    sliding: bool


class IterationCost:
    """Prices iterations of `model` on one replica of `layout` on `system` in `precision`."""

    def __init__(
        self,
        model: ModelSpec,
        system: SystemSpec,
        layout: Layout,
        precision: Precision,
        kv_precision: Precision | None = None,
    ) -> None:
        self.model, self.system, self.layout = model, system, layout
        self.precision = precision
        self.kv_precision = kv_precision or default_kv_precision(precision)
        eff = system.efficiency
        self.matmul_flops_per_s = system.compute.peak_flops_per_s(precision) * eff.compute
        attention_format: Precision = "fp8" if self.kv_precision == "fp8" else "bf16"
        self.attention_flops_per_s = system.compute.peak_flops_per_s(attention_format) * eff.compute
        self.vector_flops_per_s = system.compute.bf16_flops_per_s * eff.compute
        self.bytes_per_s = system.memory.bw_bytes_per_s * eff.memory_bw
        self.weight_bytes = BYTES_PER_ELEMENT[precision]
        self.kv_bytes = BYTES_PER_ELEMENT[self.kv_precision]
        tp = layout.tp
        self.tp_link = system.scale_up if tp <= system.scale_up.domain_size else system.scale_out
        self.pp_link = (
            system.scale_up if layout.replica_size <= system.scale_up.domain_size else system.scale_out
        )
        # Share of the KV cache one accelerator holds: heads split over tp, replicated once tp exceeds them;
        # MLA's latent is shared by all heads, so every tensor-parallel rank keeps all of it.
        if model.mla is not None:
            self.kv_share = 1.0
        else:
            self.kv_share = max(model.num_kv_heads / tp, 1.0) / model.num_kv_heads
        self.stage_classes = self._stage_classes()

    # --- model structure -------------------------------------------------------------------------------

    def stage_layers(self) -> list[range]:
        """Contiguous, as even as possible: the first (L mod pp) stages get one layer more."""
        n, pp = self.model.num_layers, self.layout.pp
        base, extra = divmod(n, pp)
        stages, start = [], 0
        for stage in range(pp):
            size = base + (1 if stage < extra else 0)
            stages.append(range(start, start + size))
            start += size
        return stages

    def _stage_classes(self) -> list[dict[_LayerClass, int]]:
        counts = []
        for layers in self.stage_layers():
            per_class: dict[_LayerClass, int] = {}
            for i in layers:
                key = _LayerClass(self.model.is_moe_layer(i), self.model.is_sliding_layer(i))
                per_class[key] = per_class.get(key, 0) + 1
            counts.append(per_class)
        return counts

    # --- operators -------------------------------------------------------------------------------------

    def _op(self, flops, nbytes, flops_per_s):
        return np.maximum(
            np.asarray(flops, dtype=float) / flops_per_s, np.asarray(nbytes, dtype=float) / self.bytes_per_s
        )

    def _matmul(self, params_per_accelerator: float, tokens, in_dim: float, out_dim: float):
        flops = 2.0 * params_per_accelerator * tokens
        nbytes = params_per_accelerator * self.weight_bytes + tokens * (in_dim + out_dim) * ACTIVATION_BYTES
        return self._op(flops, nbytes, self.matmul_flops_per_s)

    def _norm(self, tokens):
        h = self.model.hidden_size
        return self._op(5.0 * tokens * h, 2.0 * tokens * h * ACTIVATION_BYTES, self.vector_flops_per_s)

    def _attention(self, work: StepWork, sliding: bool):
        m, tp = self.model, self.layout.tp
        heads = m.num_heads / tp
        if sliding:
            pairs_prefill, pairs_decode, reads = (
                work.window_pairs_prefill,
                work.window_pairs_decode,
                work.window_kv_reads,
            )
        else:
            pairs_prefill, pairs_decode, reads = work.pairs_prefill, work.pairs_decode, work.kv_reads
        if m.mla is not None:
            # Decode absorbs the up-projections into the query (DeepSeek-V2 §2.1.2): scores and values work on
            # the 512-wide latent plus the 64-wide rope key. Prefill expands K and V per head instead.
            latent = m.mla.kv_lora_rank
            decode_flops_per_pair = 2.0 * heads * (2 * latent + m.mla.qk_rope_head_dim)
            prefill_flops_per_pair = 2.0 * heads * (m.head_dim + m.mla.v_head_dim)
        else:
            decode_flops_per_pair = prefill_flops_per_pair = 4.0 * heads * m.head_dim  # QK^T and PV
        flops = prefill_flops_per_pair * pairs_prefill + decode_flops_per_pair * pairs_decode
        kv_bytes = reads * m.kv_elements_per_token_per_layer() * self.kv_share * self.kv_bytes
        q_and_out_bytes = 2.0 * work.tokens * heads * m.head_dim * ACTIVATION_BYTES
        return self._op(flops, kv_bytes + q_and_out_bytes, self.attention_flops_per_s)

    def _tp_allreduce(self, tokens):
        message = tokens * self.model.hidden_size * ACTIVATION_BYTES
        return allreduce_s(message, self.layout.tp, self.tp_link, self.system.efficiency.network)

    def _moe(self, tokens):
        m, tp = self.model, self.layout.tp
        moe = m.moe
        assert moe is not None
        # Expected distinct experts hit when `tokens` tokens each pick top_k of E (uniform routing).
        distinct = moe.num_experts * (
            1.0 - (1.0 - moe.top_k / moe.num_experts) ** np.asarray(tokens, dtype=float)
        )
        expert = m.expert_params()
        flops = 2.0 * tokens * moe.top_k * expert / tp
        nbytes = (
            distinct * expert * self.weight_bytes / tp
            + tokens * moe.top_k * (m.hidden_size + moe.expert_ffn / tp) * 2 * ACTIVATION_BYTES
        )
        experts = self._op(flops, nbytes, self.matmul_flops_per_s)
        router = self._matmul(m.router_params(), tokens, m.hidden_size, moe.num_experts)
        shared = 0.0
        if moe.num_shared_experts:
            shared = self._matmul(m.shared_expert_params() / tp, tokens, m.hidden_size, moe.shared_ffn / tp)
        return experts, router, shared

    def layer_breakdown(self, work: StepWork, cls: _LayerClass) -> dict[str, np.ndarray]:
        """Seconds per operator of one layer of this class."""
        m, tp = self.model, self.layout.tp
        t = work.tokens
        attention_params = m.attention_params()
        out_proj = (m.mla.v_head_dim if m.mla else m.head_dim) * m.num_heads * m.hidden_size
        ops = {
            "norm": 2 * self._norm(t),
            "qkv_proj": self._matmul((attention_params - out_proj) / tp, t, m.hidden_size, m.q_dim / tp),
            "attention": self._attention(work, cls.sliding),
            "o_proj": self._matmul(out_proj / tp, t, m.q_dim / tp, m.hidden_size),
            "tp_allreduce": 2 * self._tp_allreduce(t),
        }
        if cls.moe:
            experts, router, shared = self._moe(t)
            ops.update({"moe_experts": experts, "moe_router": router, "moe_shared": shared})
        else:
            ops["ffn"] = self._matmul(m.dense_ffn_params() / tp, t, m.hidden_size, 2 * m.dense_ffn / tp)
        return ops

    def edge_breakdown(self, work: StepWork) -> dict[str, np.ndarray]:
        """Operators outside the layers: embedding lookup, final norm, LM head (vocabulary split over tp)."""
        m, tp = self.model, self.layout.tp
        embed_bytes = work.tokens * m.hidden_size * (self.weight_bytes + ACTIVATION_BYTES)
        return {
            "embedding": self._op(0.0, embed_bytes, self.vector_flops_per_s),
            "final_norm": self._norm(work.logits),
            "lm_head": self._matmul(
                m.lm_head_params() / tp or m.embedding_params() / tp,
                work.logits,
                m.hidden_size,
                m.vocab_size / tp * LOGIT_BYTES / ACTIVATION_BYTES,
            ),
        }

    # --- iteration -------------------------------------------------------------------------------------

    def micro_batch_work(self, work: StepWork) -> StepWork:
        """With pp stages the batch is cut into up to pp micro-batches, one sequence at the least."""
        pp = self.layout.pp
        if pp == 1:
            return work
        micro_batches = np.clip(np.asarray(work.logits, dtype=float), 1.0, pp)
        return work.scaled(1.0 / micro_batches)

    def breakdown(self, work: StepWork) -> dict[str, np.ndarray]:
        """Seconds per operator for one iteration of `work` (the whole batch), summed over layers."""
        pp = self.layout.pp
        micro = self.micro_batch_work(work)
        # Stage-to-stage imbalance: the slowest stage sets the pace for every micro-batch.
        class_time = {}
        for per_class in self.stage_classes:
            for cls in per_class:
                if cls not in class_time:
                    class_time[cls] = self.layer_breakdown(micro, cls)
        stage_totals = [
            sum(count * sum(class_time[cls].values()) for cls, count in per_class.items())
            for per_class in self.stage_classes
        ]
        slowest = int(np.argmax([np.max(np.asarray(total)) for total in stage_totals]))
        totals: dict[str, np.ndarray] = {}
        for cls, count in self.stage_classes[slowest].items():
            for name, seconds in class_time[cls].items():
                totals[name] = totals.get(name, 0.0) + pp * count * seconds
        for name, seconds in self.edge_breakdown(micro).items():
            totals[name] = seconds  # first and last stage; not multiplied: off the slowest stage's path
        if pp > 1:
            message = micro.tokens * self.model.hidden_size * ACTIVATION_BYTES
            totals["pp_transfer"] = pp * send_s(message, self.pp_link, self.system.efficiency.network)
        totals["step_overhead"] = self.system.efficiency.step_overhead_s + 0.0 * np.asarray(
            work.tokens, dtype=float
        )
        return totals

    def time_s(self, work: StepWork) -> np.ndarray:
        return sum(self.breakdown(work).values())
