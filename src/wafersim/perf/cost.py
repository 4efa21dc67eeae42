"""Time of one forward pass on one replica, operator by operator (roofline per operator + alpha-beta links).

Each operator's time on one accelerator is max(FLOPs / achievable FLOP/s, bytes / achievable bandwidth):
it is bound by whichever it runs out of first. Collectives are added, not overlapped (inference kernels wait
for the all-reduce before the next matrix multiply). Pipeline stages hold contiguous layers; with m
micro-batches in flight, one iteration of the whole batch takes max(the loop of one micro-batch through all
stages, m × the slowest stage).

Two ways to use a tensor-parallel group of n accelerators:
- tensor parallel (Megatron-LM): every matrix split n ways, two all-reduces per layer, KV heads split;
- attention data parallel (`layout.attention_dp`, MoE models; DeepSeek-V3 report §3.4, TensorRT-LLM's
  `enable_attention_dp`): each accelerator runs attention and dense layers for its own 1/n of the sequences
  with whole weights, experts are spread n ways (ep = n), and tokens travel to their experts and back by
  all-to-all.

Everything is NumPy-vectorised over the fields of `StepWork`, so a serving simulator can price many
iterations in one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from wafersim.catalog import BYTES_PER_ELEMENT, ModelSpec, Precision, SystemSpec
from wafersim.perf.collectives import allreduce_s, send_s
from wafersim.perf.layout import Layout
from wafersim.perf.moe import DEFAULT_EXPERT_LOAD_CV, device_imbalance, expected_active_experts
from wafersim.perf.work import StepWork

ACTIVATION_BYTES = 2.0  # activations and collectives stay in 16-bit in TensorRT-LLM and vLLM
LOGIT_BYTES = 4.0  # logits are produced in fp32 for sampling


def default_kv_precision(precision: Precision) -> Precision:
    """8-bit and 4-bit deployments keep the KV cache in fp8 (as MLPerf's FP8/NVFP4 submissions do)."""
    return "bf16" if precision == "bf16" else "fp8"


@dataclass(frozen=True)
class OpCost:
    """What one operator asks of one accelerator: FLOPs at a given achievable rate, bytes from memory, and a
    fixed time (links: collectives are priced by the alpha-beta model, not the roofline)."""

    flops: np.ndarray | float
    nbytes: np.ndarray | float
    flops_per_s: float
    link_s: np.ndarray | float = 0.0

    def time_s(self, bytes_per_s: float) -> np.ndarray:
        roofline = np.maximum(
            np.asarray(self.flops, dtype=float) / self.flops_per_s,
            np.asarray(self.nbytes, dtype=float) / bytes_per_s,
        )
        return roofline + self.link_s

    def __mul__(self, factor: float) -> OpCost:
        return OpCost(self.flops * factor, self.nbytes * factor, self.flops_per_s, self.link_s * factor)

    __rmul__ = __mul__


@dataclass(frozen=True)
class OpTotal:
    """One operator summed over layers: each part keeps its own roofline (layers of different classes may be
    bound by different resources), so times add but are never merged before the max."""

    parts: tuple[OpCost, ...]

    @property
    def flops(self) -> np.ndarray:
        return sum(np.asarray(part.flops, dtype=float) for part in self.parts)

    @property
    def nbytes(self) -> np.ndarray:
        return sum(np.asarray(part.nbytes, dtype=float) for part in self.parts)

    def time_s(self, bytes_per_s: float) -> np.ndarray:
        return sum(part.time_s(bytes_per_s) for part in self.parts)


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
        expert_load_cv: float | None = None,
    ) -> None:
        self.model, self.system, self.layout = model, system, layout
        self.expert_load_cv = DEFAULT_EXPERT_LOAD_CV if expert_load_cv is None else expert_load_cv
        self.precision = precision
        self.kv_precision = kv_precision or default_kv_precision(precision)
        eff = system.efficiency
        self.matmul_flops_per_s = system.compute.peak_flops_per_s(precision) * eff.compute
        # Grouped expert GEMMs run at the matmul rate; what makes them slow is priced as mechanism (perf/moe.py):
        # weights of every active expert read once per step, and the busiest device's share of the tokens. A
        # user's catalog may still give them their own fraction (`moe_compute`); the shipped one does not.
        self.expert_flops_per_s = system.compute.peak_flops_per_s(precision) * (
            eff.moe_compute or eff.compute
        )
        attention_format: Precision = "fp8" if self.kv_precision == "fp8" else "bf16"
        self.attention_flops_per_s = system.compute.peak_flops_per_s(attention_format) * eff.compute
        self.vector_flops_per_s = system.compute.bf16_flops_per_s * eff.compute
        self.bytes_per_s = system.memory.bw_bytes_per_s * eff.memory_bw
        self.weight_bytes = BYTES_PER_ELEMENT[precision]
        self.kv_bytes = BYTES_PER_ELEMENT[self.kv_precision]
        tp = layout.tp
        self.group_link = system.scale_up if tp <= system.scale_up.domain_size else system.scale_out
        self.pp_link = (
            system.scale_up if layout.replica_size <= system.scale_up.domain_size else system.scale_out
        )
        # Attention data parallelism: sequences are spread over the group, weights outside experts are whole.
        self.ranks = tp if layout.attention_dp else 1
        self.dense_split = 1 if layout.attention_dp else tp
        # Share of a sequence's KV cache one accelerator holds: heads split over tp, replicated once tp exceeds
        # them. MLA's latent is shared by all heads, and with attention-DP a sequence lives on one accelerator.
        if model.mla is not None or layout.attention_dp:
            self.kv_share = 1.0
        else:
            self.kv_share = max(model.num_kv_heads / tp, 1.0) / model.num_kv_heads
        self.stage_classes = self._stage_classes()
        if system.memory_tiers:  # dataflow chips: weights spilled to DDR are read at its bandwidth
            from wafersim.perf.sram_chips import weight_bytes_per_s

            self.bytes_per_s = weight_bytes_per_s(system, max(stage_weight_bytes(self)), self.bytes_per_s)

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

    def _op(self, flops, nbytes, flops_per_s) -> OpCost:
        return OpCost(np.asarray(flops, dtype=float), np.asarray(nbytes, dtype=float), flops_per_s)

    def _link(self, seconds) -> OpCost:
        return OpCost(0.0, 0.0, 1.0, seconds)

    def _matmul(self, params_per_accelerator: float, tokens, in_dim: float, out_dim: float):
        flops = 2.0 * params_per_accelerator * tokens
        nbytes = params_per_accelerator * self.weight_bytes + tokens * (in_dim + out_dim) * ACTIVATION_BYTES
        return self._op(flops, nbytes, self.matmul_flops_per_s)

    def _norm(self, tokens):
        h = self.model.hidden_size
        return self._op(5.0 * tokens * h, 2.0 * tokens * h * ACTIVATION_BYTES, self.vector_flops_per_s)

    def _attention(self, work: StepWork, sliding: bool):
        m = self.model
        heads = m.num_heads / self.dense_split
        if sliding:
            pairs_prefill, pairs_decode = work.window_pairs_prefill, work.window_pairs_decode
            reads = work.window_kv_reads
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

    def _tp_allreduce(self, tokens) -> OpCost:
        message = tokens * self.model.hidden_size * ACTIVATION_BYTES
        return self._link(
            allreduce_s(message, self.layout.tp, self.group_link, self.system.efficiency.network)
        )

    def _all_to_all(self, tokens, imbalance):
        """Dispatch and combine: each token's hidden state goes to its top-k experts and comes back; the
        (n-1)/n of it bound for other accelerators crosses the link each way, and the busiest device receives
        `imbalance` × the mean. The link is the scale-up domain while the group fits it, else scale-out."""
        moe, n = self.model.moe, self.layout.tp
        assert moe is not None
        message = tokens * moe.top_k * self.model.hidden_size * ACTIVATION_BYTES * (n - 1) / n * imbalance
        return self._link(2 * send_s(message, self.group_link, self.system.efficiency.network))

    def _moe(self, local_tokens, group_tokens):
        """Routed experts (split over the group either way), router and shared experts.

        `local_tokens` reach this accelerator's router; `group_tokens` are routed over the whole group. Each of
        the ep expert shards holds E / ep experts, each split tp / ep ways, so an accelerator does 1/tp of the
        group's expert work on average and the busiest one `imbalance` × that (perf/moe.py). Every active
        expert's weights are read once per step, so small groups of tokens per expert are memory-bound.
        """
        m, n = self.model, self.layout.tp
        moe = m.moe
        assert moe is not None
        group_tokens = np.asarray(group_tokens, dtype=float)
        imbalance = device_imbalance(
            moe.num_experts, moe.top_k, self.layout.ep, group_tokens, self.expert_load_cv
        )
        active = expected_active_experts(moe.num_experts, moe.top_k, group_tokens)
        expert = m.expert_params()
        flops = 2.0 * group_tokens * moe.top_k * expert / n * imbalance
        routed_io = (
            group_tokens * moe.top_k * (m.hidden_size + moe.expert_ffn) * 2 * ACTIVATION_BYTES / n * imbalance
        )
        experts = self._op(
            flops, active * expert * self.weight_bytes / n + routed_io, self.expert_flops_per_s
        )
        router = self._matmul(m.router_params(), local_tokens, m.hidden_size, moe.num_experts)
        shared = self._op(0.0, 0.0, self.matmul_flops_per_s)
        if moe.num_shared_experts:
            split = self.dense_split
            shared = self._matmul(
                m.shared_expert_params() / split, local_tokens, m.hidden_size, moe.shared_ffn / split
            )
        return experts, router, shared, imbalance

    def layer_ops(self, work: StepWork, cls: _LayerClass, group_tokens=None) -> dict[str, OpCost]:
        """Operators of one layer of this class, for the work one accelerator sees."""
        m, split = self.model, self.dense_split
        t = work.tokens
        attention_params = m.attention_params()
        out_proj = (m.mla.v_head_dim if m.mla else m.head_dim) * m.num_heads * m.hidden_size
        ops = {
            "norm": 2 * self._norm(t),
            "qkv_proj": self._matmul(
                (attention_params - out_proj) / split, t, m.hidden_size, m.q_dim / split
            ),
            "attention": self._attention(work, cls.sliding),
            "o_proj": self._matmul(out_proj / split, t, m.q_dim / split, m.hidden_size),
        }
        if not self.layout.attention_dp:
            ops["tp_allreduce"] = 2 * self._tp_allreduce(t)
        if cls.moe:
            group = t * self.ranks if group_tokens is None else group_tokens
            experts, router, shared, imbalance = self._moe(t, group)
            ops.update({"moe_experts": experts, "moe_router": router, "moe_shared": shared})
            if self.layout.attention_dp and self.layout.tp > 1:
                ops["moe_all_to_all"] = self._all_to_all(t, imbalance)
        else:
            ops["ffn"] = self._matmul(m.dense_ffn_params() / split, t, m.hidden_size, 2 * m.dense_ffn / split)
        return ops

    def edge_ops(self, work: StepWork) -> dict[str, OpCost]:
        """Operators outside the layers: embedding lookup, final norm, LM head (vocabulary split over tp)."""
        m, split = self.model, self.dense_split
        embed_bytes = work.tokens * m.hidden_size * (self.weight_bytes + ACTIVATION_BYTES)
        head_params = (m.lm_head_params() or m.embedding_params()) / split
        return {
            "embedding": self._op(0.0, embed_bytes, self.vector_flops_per_s),
            "final_norm": self._norm(work.logits),
            "lm_head": self._matmul(
                head_params, work.logits, m.hidden_size, m.vocab_size / split * LOGIT_BYTES / ACTIVATION_BYTES
            ),
        }

    # --- iteration -------------------------------------------------------------------------------------

    def local_work(
        self, work: StepWork, one_micro_batch: bool = False
    ) -> tuple[StepWork, np.ndarray, np.ndarray]:
        """The busiest accelerator's share of one micro-batch of a replica's iteration, the number of
        attention-DP ranks it was spread over, and the number of micro-batches in flight.

        Attention-DP spreads sequences over `ranks` accelerators, and pipeline parallelism cuts each share into
        up to pp micro-batches; a single sequence is never split. With `one_micro_batch`, `work` already is the
        micro-batch that sets the pipeline's pace (analytical.py builds it), so it is not cut again.
        """
        sequences = np.maximum(np.asarray(work.logits, dtype=float), 1.0)
        ranks = np.minimum(sequences, self.ranks)
        if one_micro_batch:
            return work.scaled(1.0 / ranks), ranks, np.ones_like(ranks)
        micro_batches = np.clip(sequences / ranks, 1.0, self.layout.pp)
        return work.scaled(1.0 / (ranks * micro_batches)), ranks, micro_batches

    def iteration_ops(
        self, work: StepWork, one_micro_batch: bool = False, rank_work: StepWork | None = None
    ) -> dict[str, OpTotal]:
        """Operators of one iteration of `work` (the whole replica's batch) on the critical path of the busiest
        accelerator: every layer's operators for one micro-batch, plus what the pipeline adds.

        With pp stages and m micro-batches in flight, a micro-batch's next token needs its previous one, so each
        loops through all stages once per iteration: the period is max(Σ stage times + hand-offs, m × the
        slowest stage). Stages are uneven — layers do not divide evenly, the embedding sits on the first and
        the LM head on the last — and the slowest one sets the pace: the difference is `pipeline_wait`. With
        fewer micro-batches than stages (small batches), the loop itself is the period: the pipeline bubble.

        With `rank_work`, that is the busiest attention-DP rank's own share (its sequences and the prompts it
        prefills, which no other rank can take): its attention and dense layers run on it, while the experts
        still see the whole group's tokens (limits.py builds it).
        """
        pp = self.layout.pp
        local, ranks, micro_batches = self.local_work(work, one_micro_batch)
        group_tokens = local.tokens * ranks
        if rank_work is not None:
            local, group_tokens = rank_work, np.asarray(work.tokens, dtype=float)
        class_ops = {}
        for per_class in self.stage_classes:
            for cls in per_class:
                if cls not in class_ops:
                    class_ops[cls] = self.layer_ops(local, cls, group_tokens)
        edges = self.edge_ops(local)
        parts: dict[str, list[OpCost]] = {}
        totals: dict[_LayerClass, int] = {}
        for per_class in self.stage_classes:
            for cls, count in per_class.items():
                totals[cls] = totals.get(cls, 0) + count
        for cls, count in totals.items():
            for name, op in class_ops[cls].items():
                parts.setdefault(name, []).append(op * count)
        for name, op in edges.items():
            parts[name] = [op]
        if pp > 1:
            edge_stage = {"embedding": 0, "final_norm": pp - 1, "lm_head": pp - 1}
            stage_times = []
            for index, per_class in enumerate(self.stage_classes):
                layers = sum(
                    count * sum(op.time_s(self.bytes_per_s) for op in class_ops[cls].values())
                    for cls, count in per_class.items()
                )
                own = [op.time_s(self.bytes_per_s) for name, op in edges.items() if edge_stage[name] == index]
                stage_times.append(np.asarray(layers + sum(own), dtype=float))
            message = local.tokens * self.model.hidden_size * ACTIVATION_BYTES
            hand_off = send_s(message, self.pp_link, self.system.efficiency.network)
            loop = sum(stage_times) + pp * hand_off
            busy = micro_batches * (np.maximum.reduce(stage_times) + hand_off)
            parts["pp_transfer"] = [self._link(pp * hand_off)]
            parts["pipeline_wait"] = [self._link(np.maximum(busy - loop, 0.0))]
        overhead = self.system.efficiency.step_overhead_s + 0.0 * np.asarray(work.tokens, dtype=float)
        parts["step_overhead"] = [self._link(overhead)]
        return {name: OpTotal(tuple(ops)) for name, ops in parts.items()}

    def breakdown(
        self, work: StepWork, one_micro_batch: bool = False, rank_work: StepWork | None = None
    ) -> dict[str, np.ndarray]:
        """Seconds per operator for one iteration of `work` (the whole replica's batch, or with
        `one_micro_batch` the micro-batch that sets a pipeline's pace; `rank_work`: iteration_ops)."""
        ops = self.iteration_ops(work, one_micro_batch, rank_work)
        return {name: op.time_s(self.bytes_per_s) for name, op in ops.items()}

    def time_s(
        self, work: StepWork, one_micro_batch: bool = False, rank_work: StepWork | None = None
    ) -> np.ndarray:
        return sum(self.breakdown(work, one_micro_batch, rank_work).values())


# Weights per accelerator and stage live here (not in memory.py) because the cost of dataflow chips depends on
# them: weights spilled past HBM are read at DDR bandwidth.
def _layer_params_per_accelerator(cost: IterationCost, layer: int) -> float:
    m, tp = cost.model, cost.layout.tp
    if not cost.layout.attention_dp:
        return m.layer_params(layer) / tp
    # Attention-DP: whole attention and dense weights on every accelerator, routed experts spread tp ways.
    params = m.attention_params() + 2 * m.hidden_size
    if m.is_moe_layer(layer):
        assert m.moe is not None
        params += m.moe.num_experts * m.expert_params() / tp + m.shared_expert_params() + m.router_params()
    else:
        params += m.dense_ffn_params()
    return params


@lru_cache(maxsize=256)
def stage_weight_bytes(cost: IterationCost) -> tuple[float, ...]:
    """Weights held by one accelerator of each pipeline stage (embedding on the first, LM head on the last)."""
    m, split = cost.model, cost.dense_split
    stages = cost.stage_layers()
    per_stage = []
    for index, layers in enumerate(stages):
        params = sum(_layer_params_per_accelerator(cost, i) for i in layers)
        if index == 0:
            params += m.embedding_params() / split
        if index == len(stages) - 1:
            params += (m.lm_head_params() + m.hidden_size) / split
        per_stage.append(params * cost.weight_bytes)
    return tuple(per_stage)
