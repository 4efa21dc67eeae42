"""Architecture mapping of Hugging Face configs: GLM-4.x MoE, Kimi-K2 and other DeepSeek-V3-style configs are
read as such; anything else is refused with one clear error, never estimated as another family."""

import json

import pytest

from wafersim.catalog import from_hf_config, model_from_file
from wafersim.errors import WafersimError

# Published totals and active counts (model cards; GLM-4.5 report arXiv 2508.06471, Kimi K2 report arXiv
# 2507.20534). GLM's 32B active leaves the input embedding out (ours counts it: 33.6B), hence 6% on active.
PUBLISHED = {
    "glm-4.6": (355e9, 32e9, 0.01, 0.06),
    "kimi-k2": (1.04e12, 32e9, 0.02, 0.04),
}


@pytest.mark.parametrize("model_id", sorted(PUBLISHED))
def test_published_totals(catalog, model_id):
    total, active, total_tol, active_tol = PUBLISHED[model_id]
    model = catalog.model(model_id)
    assert model.params_total() == pytest.approx(total, rel=total_tol)
    assert model.params_active() == pytest.approx(active, rel=active_tol)


def test_glm_moe_is_read_as_deepseek_style(catalog):
    glm = catalog.model("glm-4.6")
    assert glm.moe.expert_ffn == 1536 and glm.moe.num_shared_experts == 1 and glm.moe.shared_ffn == 1536
    assert glm.moe_layers[:3] == (False, False, False) and all(glm.moe_layers[3:])
    assert glm.dense_ffn == 12288 and glm.mla is None and glm.num_kv_heads == 8
    # One MoE layer: attention + 160 experts of 3 × 5120 × 1536 + a shared one + router, ≈ 3.9 GB in bf16
    # (the Mixtral reading gave every expert the 12,288 dense width: ≈ 30 B parameters per layer).
    assert glm.layer_params(3) == pytest.approx(3.94e9, rel=0.01)


def test_kimi_k2_is_read_with_its_own_sizes(catalog):
    kimi = catalog.model("kimi-k2")
    assert kimi.moe.num_experts == 384 and kimi.num_heads == 64 and kimi.mla is not None
    assert kimi.moe_layers[0] is False and all(kimi.moe_layers[1:])


def test_kimi_by_model_type_or_class_name(catalog, tmp_path):
    import tomllib

    from wafersim.catalog.toml_io import DATA_DIR

    config = tomllib.loads((DATA_DIR / "models" / "kimi-k2.toml").read_text())["hf_config"]
    expected = catalog.model("kimi-k2").params_total()
    for variant in ({"architectures": ["KimiK2ForCausalLM"]}, {"architectures": None}):
        spec = from_hf_config({**config, **variant}, id="k", source="test")
        assert spec.params_total() == expected


def test_mamba_config_gets_one_clear_error(tmp_path):
    mamba = {
        "architectures": ["MambaForCausalLM"],
        "model_type": "mamba",
        "hidden_size": 2560,
        "num_hidden_layers": 64,
        "vocab_size": 50280,
        "state_size": 16,
        "conv_kernel": 4,
        "expand": 2,
        "time_step_rank": 160,
        "torch_dtype": "float32",
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(mamba))
    with pytest.raises(WafersimError) as error:
        model_from_file(path)
    message = str(error.value)
    assert "config.json" in message and "'architectures'" in message and "MambaForCausalLM" in message
    assert "conv_kernel, expand, state_size, time_step_rank" in message
    assert "torch_dtype" not in message.split("could not map")[1]  # metadata is not blamed
    assert "\n" not in message


def test_config_without_any_architecture_is_refused():
    with pytest.raises(ValueError, match="'architectures': missing"):
        from_hf_config(
            {"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "vocab_size": 10,
             "intermediate_size": 128},
            id="x", source="test",
        )  # fmt: skip
