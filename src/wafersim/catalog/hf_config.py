"""The Hugging Face `config.json` parser: `from_hf_config` normalises a published config into a `ModelSpec`.

The catalog stores each model as the published config (a `[hf_config]` table) plus id, name and source, so the
catalog and a user's own `config.json` go through one parser: `from_hf_config`. Supported architectures: Llama
(1-3), Mistral/Mixtral, Qwen2/Qwen3 (dense and MoE), DeepSeek-V3 (MLA + shared experts), gpt-oss (alternating
sliding windows), Llama 4 (interleaved MoE with a shared expert, chunked attention), and the DeepSeek-V3-style
MoE configs of GLM-4.5/4.6 and Kimi-K2. Any other architecture is refused with the fields it could not map.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from wafersim.bounds import MAX_LAYERS, MAX_TOKENS, NoBool
from wafersim.catalog.models import MLASpec, ModelSpec, MoESpec, Width, Width0
from wafersim.catalog.precision import Precision


class HFConfigFields(BaseModel):
    """The config.json fields the parser reads, typed and bounded (see wafersim.bounds for the limits), checked
    before any arithmetic: a string, a float, zero heads or 10^12 layers is named here, not met as a
    ZeroDivisionError or a hang later. Fields the parser does not read pass through untouched."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    num_hidden_layers: Annotated[int, NoBool, Field(ge=1, le=MAX_LAYERS)] | None = None
    hidden_size: Width | None = None
    num_attention_heads: Width | None = None
    num_key_value_heads: Width | None = None
    head_dim: Width | None = None
    vocab_size: Width | None = None
    intermediate_size: Width0 | None = None
    intermediate_size_mlp: Width0 | None = None
    moe_intermediate_size: Width | None = None
    shared_expert_intermediate_size: Width0 | None = None
    num_local_experts: Width | None = None
    n_routed_experts: Width | None = None
    num_experts: Width | None = None
    num_experts_per_tok: Width | None = None
    experts_per_token: Width | None = None
    n_shared_experts: Width0 | None = None
    first_k_dense_replace: Annotated[int, NoBool, Field(ge=0, le=MAX_LAYERS)] | None = None
    moe_layer_freq: Annotated[int, NoBool, Field(ge=1, le=MAX_LAYERS)] | None = None
    interleave_moe_layer_step: Annotated[int, NoBool, Field(ge=1, le=MAX_LAYERS)] | None = None
    decoder_sparse_step: Annotated[int, NoBool, Field(ge=0, le=MAX_LAYERS)] | None = None
    moe_layers: list[Annotated[int, NoBool, Field(ge=0, le=MAX_LAYERS)]] | None = None
    mlp_only_layers: list[Annotated[int, NoBool, Field(ge=0, le=MAX_LAYERS)]] | None = None
    kv_lora_rank: Width0 | None = None
    q_lora_rank: Width0 | None = None
    qk_nope_head_dim: Width | None = None
    qk_rope_head_dim: Width0 | None = None
    v_head_dim: Width | None = None
    sliding_window: Annotated[int, NoBool, Field(ge=0, le=MAX_TOKENS)] | None = None
    attention_chunk_size: Annotated[int, NoBool, Field(ge=0, le=MAX_TOKENS)] | None = None
    layer_types: list[str] | None = None
    no_rope_layers: list[Annotated[int, NoBool, Field(ge=0, le=1)]] | None = None
    max_position_embeddings: Annotated[int, NoBool, Field(ge=1, le=MAX_TOKENS)] | None = None
    tie_word_embeddings: bool | None = None
    architectures: list[str] | None = None
    model_type: str | None = None
    quantization_config: dict[str, Any] | None = None


# Families whose layers are not attention blocks (state-space, recurrent, hybrid): their cost is not the
# transformer cost this parser models, so they are refused rather than estimated as a Llama.
UNSUPPORTED_FAMILIES = ("mamba", "jamba", "zamba", "rwkv", "retnet", "hyena", "xlstm", "falcon_h1", "falconh1",
                        "recurrentgemma", "griffin", "bamba", "nemotron_h", "nemotronh", "lfm2", "samba")  # fmt: skip
# Config keys only state-space or recurrent models carry.
SSM_KEYS = ("state_size", "ssm_cfg", "d_state", "mamba_d_state", "ssm_state_size", "attn_layer_period",
            "time_step_rank", "conv_kernel", "mamba_expand")  # fmt: skip
EXPERT_KEYS = ("num_local_experts", "n_routed_experts", "num_experts")


def _check_supported(c: dict[str, Any]) -> None:
    names = [str(name) for name in (c.get("architectures") or [])] + [str(c.get("model_type") or "")]
    for name in names:
        family = name.lower().replace("-", "_")
        hit = next((f for f in UNSUPPORTED_FAMILIES if f in family), None)
        if hit:
            unmapped = sorted(k for k in c if k not in _READ_FIELDS and k not in _METADATA_FIELDS)
            raise ValueError(
                f"field 'architectures': '{name}' is a {hit} (non-attention) model; wafersim models attention "
                "transformers only (Llama, Mistral/Mixtral, Qwen2/3, DeepSeek-V3, gpt-oss, Llama 4, GLM-4.x, "
                f"Kimi-K2); fields it could not map: {', '.join(unmapped[:12]) or 'none'}"
            )
    ssm = [key for key in SSM_KEYS if key in c]
    if ssm:
        raise ValueError(
            f"field '{ssm[0]}' marks a state-space/recurrent model; wafersim models attention transformers only"
        )
    for key in EXPERT_KEYS:
        if key in c and c[key] == 0 and not isinstance(c[key], bool):
            raise ValueError(
                f"field '{key}' is 0: a mixture-of-experts model needs ≥ 1 experts (leave the field out for "
                "a dense model)"
            )


def _first(config: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        if config.get(key) is not None:
            return config[key]
    return default


def _require(config: dict[str, Any], key: str) -> Any:
    if key not in config or config[key] is None:
        raise ValueError(f"missing required field '{key}'")
    return config[key]


# The architectures the parser reads, by the class name a config gives (`architectures[0]`) or, for configs
# without one, its `model_type`; each maps to the family whose fields it publishes. GLM-4.5/4.6 MoE and Kimi-K2
# publish DeepSeek-V3's MoE fields (n_routed_experts, n_shared_experts, first_k_dense_replace,
# moe_intermediate_size); MLA is recognised by its own fields (kv_lora_rank), not by the family.
ARCHITECTURES: dict[str, str] = {
    "LlamaForCausalLM": "dense",
    "MistralForCausalLM": "dense",
    "Qwen2ForCausalLM": "dense",
    "Qwen3ForCausalLM": "dense",
    "MixtralForCausalLM": "mixtral",
    "GptOssForCausalLM": "mixtral",
    "Qwen2MoeForCausalLM": "qwen-moe",
    "Qwen3MoeForCausalLM": "qwen-moe",
    "DeepseekV2ForCausalLM": "deepseek",
    "DeepseekV3ForCausalLM": "deepseek",
    "KimiK2ForCausalLM": "deepseek",
    "Glm4MoeForCausalLM": "deepseek",
    "Llama4ForCausalLM": "llama4",
    "Llama4ForConditionalGeneration": "llama4",
}
MODEL_TYPES: dict[str, str] = {
    "llama": "dense",
    "mistral": "dense",
    "qwen2": "dense",
    "qwen3": "dense",
    "mixtral": "mixtral",
    "gpt_oss": "mixtral",
    "qwen2_moe": "qwen-moe",
    "qwen3_moe": "qwen-moe",
    "deepseek_v2": "deepseek",
    "deepseek_v3": "deepseek",
    "kimi_k2": "deepseek",
    "glm4_moe": "deepseek",
    "llama4": "llama4",
    "llama4_text": "llama4",
}
# Every field some family reads, and fields that never change the shape (for the unknown-architecture error).
_READ_FIELDS = frozenset(
    [
        "num_hidden_layers",
        "hidden_size",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "vocab_size",
        "tie_word_embeddings",
        "intermediate_size",
        "intermediate_size_mlp",
        "num_local_experts",
        "n_routed_experts",
        "num_experts",
        "num_experts_per_tok",
        "experts_per_token",
        "first_k_dense_replace",
        "moe_layer_freq",
        "n_shared_experts",
        "moe_intermediate_size",
        "interleave_moe_layer_step",
        "moe_layers",
        "decoder_sparse_step",
        "mlp_only_layers",
        "shared_expert_intermediate_size",
        "kv_lora_rank",
        "q_lora_rank",
        "qk_nope_head_dim",
        "qk_rope_head_dim",
        "v_head_dim",
        "layer_types",
        "sliding_window",
        "use_sliding_window",
        "attention_chunk_size",
        "no_rope_layers",
        "max_position_embeddings",
        "quantization_config",
        "text_config",
        "architectures",
        "model_type",
    ]
)
_METADATA_FIELDS = frozenset(
    [
        "_name_or_path",
        "auto_map",
        "bos_token_id",
        "eos_token_id",
        "pad_token_id",
        "torch_dtype",
        "dtype",
        "transformers_version",
        "use_cache",
        "initializer_range",
        "rms_norm_eps",
        "layer_norm_epsilon",
        "hidden_act",
        "rope_theta",
        "rope_scaling",
        "attention_dropout",
        "attention_bias",
        "tie_embeddings",
    ]
)


def architecture_family(c: dict[str, Any]) -> tuple[str, str]:
    """(architecture name, family) of a config; ValueError naming `architectures` and the fields that could not
    be mapped when the parser does not read this architecture (never a fall-back to another family)."""
    architectures = c.get("architectures") or []
    if not isinstance(architectures, list):
        raise ValueError(f"field 'architectures': expected a list of class names, got {architectures!r}")
    arch = str(architectures[0]) if architectures else None
    model_type = c.get("model_type")
    if arch in ARCHITECTURES:
        return arch, ARCHITECTURES[arch]
    if isinstance(model_type, str) and model_type in MODEL_TYPES:
        return arch or model_type, MODEL_TYPES[model_type]
    unmapped = sorted(k for k in c if k not in _READ_FIELDS and k not in _METADATA_FIELDS)
    shown = ", ".join(unmapped[:12]) + (f" (+{len(unmapped) - 12} more)" if len(unmapped) > 12 else "")
    named = f"{arch!r}" if arch else "missing"
    raise ValueError(
        f"field 'architectures': {named} (model_type {model_type!r}) is not an architecture wafersim reads "
        f"(it reads {', '.join(sorted(ARCHITECTURES))}); fields it could not map: {shown or 'none'}"
    )


def _moe_from_config(
    c: dict[str, Any], family: str, num_layers: int
) -> tuple[MoESpec | None, tuple[bool, ...]]:
    num_experts = _first(c, "num_local_experts", "n_routed_experts", "num_experts")
    if family == "dense" or not num_experts:
        return None, ()
    top_k = (
        _require(c, "num_experts_per_tok") if "num_experts_per_tok" in c else _require(c, "experts_per_token")
    )
    if family == "deepseek":
        first_dense = c.get("first_k_dense_replace", 0)
        freq = c.get("moe_layer_freq", 1)
        flags = tuple(i >= first_dense and i % freq == 0 for i in range(num_layers))
        shared = c.get("n_shared_experts", 0) or 0
        moe = MoESpec(
            num_experts=num_experts,
            top_k=top_k,
            expert_ffn=_require(c, "moe_intermediate_size"),
            num_shared_experts=shared,
            shared_ffn=c["moe_intermediate_size"] if shared else 0,
        )
    elif family == "llama4":
        step = c.get("interleave_moe_layer_step", 1)
        explicit = c.get("moe_layers")
        if explicit is not None:
            flags = tuple(i in set(explicit) for i in range(num_layers))
        else:
            flags = tuple((i + 1) % step == 0 for i in range(num_layers))
        moe = MoESpec(
            num_experts=num_experts,
            top_k=top_k,
            expert_ffn=_require(c, "intermediate_size"),
            num_shared_experts=1,  # every Llama 4 MoE layer has one always-on shared expert
            shared_ffn=c["intermediate_size"],
        )
    elif family == "qwen-moe":
        step = c.get("decoder_sparse_step", 1) or 1
        dense_only = set(c.get("mlp_only_layers") or [])
        flags = tuple(i not in dense_only and (i + 1) % step == 0 for i in range(num_layers))
        shared_ffn = c.get("shared_expert_intermediate_size") or 0
        moe = MoESpec(
            num_experts=num_experts,
            top_k=top_k,
            expert_ffn=_require(c, "moe_intermediate_size"),
            num_shared_experts=1 if shared_ffn else 0,
            shared_ffn=shared_ffn,
        )
    else:  # Mixtral and gpt-oss: every layer is MoE and intermediate_size is the expert's
        flags = (True,) * num_layers
        moe = MoESpec(num_experts=num_experts, top_k=top_k, expert_ffn=_require(c, "intermediate_size"))
    return moe, flags


def _sliding_from_config(c: dict[str, Any], num_layers: int) -> tuple[int | None, tuple[bool, ...]]:
    layer_types = c.get("layer_types")
    window = c.get("sliding_window")
    if layer_types is not None and window:
        if len(layer_types) != num_layers:
            raise ValueError(f"layer_types has {len(layer_types)} entries for {num_layers} layers")
        return window, tuple(kind == "sliding_attention" for kind in layer_types)
    chunk = c.get("attention_chunk_size")
    if chunk and c.get("no_rope_layers") is not None:
        # Llama 4: RoPE layers attend within chunks of attention_chunk_size; NoPE layers attend globally.
        # A chunk bounds the keys a query sees, so it is modelled as a window of that size (an upper bound).
        flags = tuple(bool(rope) for rope in c["no_rope_layers"])
        if len(flags) != num_layers:
            raise ValueError(f"no_rope_layers has {len(flags)} entries for {num_layers} layers")
        return chunk, flags
    if window and c.get("use_sliding_window", True):
        return window, (True,) * num_layers
    return None, ()


def _default_precision(c: dict[str, Any]) -> Precision:
    quant = c.get("quantization_config") or {}
    method = str(quant.get("quant_method", "")).lower()
    if method == "fp8":
        return "fp8"
    if method in {"mxfp4", "nvfp4"}:
        return "fp4"
    return "bf16"


def from_hf_config(config: dict[str, Any], *, id: str, name: str | None = None, source: str) -> ModelSpec:
    """Build a ModelSpec from a Hugging Face config.json dict. Raises ValueError/ValidationError on bad input."""
    c = dict(config)
    if isinstance(c.get("text_config"), dict):  # multimodal wrappers (Llama 4) keep the LM in text_config
        c = {**c, **c["text_config"]}
    _check_supported(c)
    c = HFConfigFields.model_validate(c).model_dump(exclude_unset=True)
    if not c.get("architectures") and not c.get("model_type"):  # a truncated config: name its first gap
        for key in ("num_hidden_layers", "hidden_size", "num_attention_heads", "vocab_size"):
            _require(c, key)
    arch, family = architecture_family(c)
    num_layers = _require(c, "num_hidden_layers")
    hidden = _require(c, "hidden_size")
    heads = _require(c, "num_attention_heads")
    kv_heads = _first(c, "num_key_value_heads", default=heads)
    head_dim = _first(c, "head_dim", default=hidden // heads)

    mla = None
    if c.get("kv_lora_rank"):
        mla = MLASpec(
            q_lora_rank=c.get("q_lora_rank"),
            kv_lora_rank=c["kv_lora_rank"],
            qk_nope_head_dim=_require(c, "qk_nope_head_dim"),
            qk_rope_head_dim=_require(c, "qk_rope_head_dim"),
            v_head_dim=_require(c, "v_head_dim"),
        )
        kv_heads = heads  # MLA has no grouped KV heads; the latent is shared by all heads
        head_dim = mla.qk_nope_head_dim + mla.qk_rope_head_dim

    moe, moe_flags = _moe_from_config(c, family, num_layers)
    if moe is None:
        dense_ffn = _require(c, "intermediate_size")
    elif family == "llama4":
        dense_ffn = _first(c, "intermediate_size_mlp", default=0)
    elif all(moe_flags):
        dense_ffn = 0
    else:
        dense_ffn = _require(c, "intermediate_size")
    window, sliding_flags = _sliding_from_config(c, num_layers)

    return ModelSpec(
        id=id,
        name=name or id,
        architecture=arch,
        source=source,
        num_layers=num_layers,
        hidden_size=hidden,
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        vocab_size=_require(c, "vocab_size"),
        tie_embeddings=bool(c.get("tie_word_embeddings", False)),
        dense_ffn=dense_ffn,
        moe=moe,
        moe_layers=moe_flags,
        mla=mla,
        sliding_window=window,
        sliding_layers=sliding_flags,
        max_context=_first(c, "max_position_embeddings", default=4096),
        default_precision=_default_precision(c),
    )
