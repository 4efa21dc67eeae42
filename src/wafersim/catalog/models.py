"""Transformer model shapes: `ModelSpec` with its MoE and MLA parts, normalised from Hugging Face `config.json`
fields by the parser in `catalog/hf_config.py` (`from_hf_config`, exported as `wafersim.catalog.from_hf_config`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from wafersim.bounds import MAX_LAYERS, MAX_TOKENS, MAX_WIDTH, NoBool
from wafersim.catalog.precision import Precision

Width = Annotated[int, NoBool, Field(ge=1, le=MAX_WIDTH)]
Width0 = Annotated[int, NoBool, Field(ge=0, le=MAX_WIDTH)]


class _Spec(BaseModel):
    # inf and nan parse from TOML (and JSON) but no bandwidth, size or rate may be either.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class MoESpec(_Spec):
    num_experts: Width
    top_k: Width
    expert_ffn: Width = Field(description="intermediate size of one routed expert")
    num_shared_experts: Width0 = 0
    shared_ffn: Width0 = Field(default=0, description="intermediate size of one shared expert")

    @model_validator(mode="after")
    def _top_k_within_experts(self) -> MoESpec:
        if self.top_k > self.num_experts:
            raise ValueError(f"top_k {self.top_k} exceeds num_experts {self.num_experts}")
        return self


class MLASpec(_Spec):
    """Multi-head latent attention (DeepSeek-V2/V3): KV cached as one compressed latent per token."""

    q_lora_rank: Width | None = None
    kv_lora_rank: Width
    qk_nope_head_dim: Width
    qk_rope_head_dim: Width0
    v_head_dim: Width


class ModelSpec(_Spec):
    id: str = Field(min_length=1)
    name: str
    architecture: str
    source: str = Field(min_length=1)
    num_layers: Annotated[int, NoBool, Field(ge=1, le=MAX_LAYERS)]
    hidden_size: Width
    num_heads: Width
    num_kv_heads: Width
    head_dim: Width
    vocab_size: Width
    tie_embeddings: bool = False
    dense_ffn: Width0 = Field(description="intermediate size of the dense (gated) MLP layers")
    moe: MoESpec | None = None
    moe_layers: tuple[bool, ...] = ()
    mla: MLASpec | None = None
    sliding_window: Annotated[int, NoBool, Field(ge=1, le=MAX_TOKENS)] | None = None
    sliding_layers: tuple[bool, ...] = ()
    max_context: Annotated[int, NoBool, Field(ge=1, le=MAX_TOKENS)]
    default_precision: Precision = "bf16"

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_heads {self.num_heads} is not a multiple of num_kv_heads {self.num_kv_heads}"
            )
        for name in ("moe_layers", "sliding_layers"):
            flags = getattr(self, name)
            if flags and len(flags) != self.num_layers:
                raise ValueError(f"{name} has {len(flags)} entries for {self.num_layers} layers")
        if any(self.moe_layers) and self.moe is None:
            raise ValueError("moe_layers marks MoE layers but the model has no moe section")
        if any(self.sliding_layers) and self.sliding_window is None:
            raise ValueError("sliding_layers marks layers but sliding_window is not set")
        return self

    # --- shape helpers shared by the performance layer (one source for parameter counts) ---

    def is_moe_layer(self, layer: int) -> bool:
        return bool(self.moe_layers) and self.moe_layers[layer]

    def is_sliding_layer(self, layer: int) -> bool:
        return bool(self.sliding_layers) and self.sliding_layers[layer]

    @property
    def num_moe_layers(self) -> int:
        return sum(self.moe_layers)

    @property
    def q_dim(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim

    def attention_params(self) -> int:
        """Weights of one layer's attention projections (Q, K, V, O), norms excluded."""
        h = self.hidden_size
        if self.mla is not None:
            m = self.mla
            qk_head = m.qk_nope_head_dim + m.qk_rope_head_dim
            if m.q_lora_rank:
                q = h * m.q_lora_rank + m.q_lora_rank * self.num_heads * qk_head
            else:
                q = h * self.num_heads * qk_head
            kv_down = h * (m.kv_lora_rank + m.qk_rope_head_dim)
            kv_up = m.kv_lora_rank * self.num_heads * (m.qk_nope_head_dim + m.v_head_dim)
            out = self.num_heads * m.v_head_dim * h
            return q + kv_down + kv_up + out
        return h * (self.q_dim + 2 * self.kv_dim) + self.q_dim * h

    def dense_ffn_params(self) -> int:
        return 3 * self.hidden_size * self.dense_ffn  # gated MLP: gate, up, down

    def expert_params(self) -> int:
        """One routed expert (gated MLP)."""
        assert self.moe is not None
        return 3 * self.hidden_size * self.moe.expert_ffn

    def shared_expert_params(self) -> int:
        assert self.moe is not None
        return 3 * self.hidden_size * self.moe.shared_ffn * self.moe.num_shared_experts

    def router_params(self) -> int:
        assert self.moe is not None
        return self.hidden_size * self.moe.num_experts

    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size

    def lm_head_params(self) -> int:
        return 0 if self.tie_embeddings else self.vocab_size * self.hidden_size

    def layer_params(self, layer: int, *, active_only: bool = False) -> int:
        norms = 2 * self.hidden_size
        if not self.is_moe_layer(layer):
            return self.attention_params() + self.dense_ffn_params() + norms
        assert self.moe is not None
        experts = self.moe.top_k if active_only else self.moe.num_experts
        return (
            self.attention_params()
            + experts * self.expert_params()
            + self.shared_expert_params()
            + self.router_params()
            + norms
        )

    def params_total(self) -> int:
        layers = sum(self.layer_params(i) for i in range(self.num_layers))
        return layers + self.embedding_params() + self.lm_head_params() + self.hidden_size

    def params_active(self) -> int:
        """Parameters one token touches (embedding counted, as in the models' published figures)."""
        layers = sum(self.layer_params(i, active_only=True) for i in range(self.num_layers))
        return layers + self.embedding_params() + self.lm_head_params() + self.hidden_size

    def kv_elements_per_token_per_layer(self) -> int:
        """Elements cached per token per layer: K and V for every KV head, or MLA's latent plus rope key."""
        if self.mla is not None:
            return self.mla.kv_lora_rank + self.mla.qk_rope_head_dim
        return 2 * self.kv_dim
