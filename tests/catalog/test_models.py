"""Parameter counts from shapes against the models' published totals (facts.md §3)."""

import json

import pytest

from wafersim.catalog import from_hf_config, model_from_file
from wafersim.errors import WafersimError

REQUIRED_MODELS = [
    "llama-3.1-8b",
    "llama-3.1-70b",
    "llama-3.3-70b",
    "llama-3.1-405b",
    "llama-2-13b",
    "llama-2-70b",
    "codellama-34b",
    "qwen2-72b",
    "mixtral-8x7b",
    "deepseek-v3",
    "qwen3-235b-a22b",
    "gpt-oss-120b",
    "gpt-oss-20b",
    "llama-4-scout",
    "llama-4-maverick",
]

# Published totals (and active counts for MoE), facts.md §3. Llama 4's totals include a ~1B vision encoder
# that the text model leaves out, hence its wider tolerance.
PUBLISHED = {
    "llama-3.1-8b": (8.03e9, None, 0.01),
    "llama-3.1-70b": (70.6e9, None, 0.01),
    "llama-3.1-405b": (405e9, None, 0.01),
    "llama-2-70b": (69e9, None, 0.01),
    "llama-2-13b": (13e9, None, 0.01),
    "codellama-34b": (34e9, None, 0.02),
    "qwen2-72b": (72.7e9, None, 0.01),
    "mixtral-8x7b": (46.7e9, 12.9e9, 0.01),
    "deepseek-v3": (671e9, 37e9, 0.02),
    "qwen3-235b-a22b": (235e9, 22e9, 0.02),
    "gpt-oss-120b": (116.8e9, None, 0.01),
    "gpt-oss-20b": (20.9e9, None, 0.01),
    "llama-4-scout": (109e9, 17e9, 0.02),
    "llama-4-maverick": (400e9, 17e9, 0.02),
}


def test_required_models_exist(catalog):
    assert set(REQUIRED_MODELS) <= set(catalog.models)


@pytest.mark.parametrize("model_id", sorted(PUBLISHED))
def test_parameter_counts_match_published(catalog, model_id):
    total, active, tolerance = PUBLISHED[model_id]
    model = catalog.model(model_id)
    assert model.params_total() == pytest.approx(total, rel=tolerance)
    if active is not None:
        assert model.params_active() == pytest.approx(active, rel=tolerance * 2)


def test_kv_cache_per_token_matches_facts(catalog):
    # facts.md §3: bf16 KV per token = 2 × layers × KV heads × head dim × 2 bytes: 128 KiB (8B), 320 KiB (70B)
    for model_id, kib in (("llama-3.1-8b", 128), ("llama-3.1-70b", 320)):
        m = catalog.model(model_id)
        assert m.num_layers * m.kv_elements_per_token_per_layer() * 2 == kib * 1024


def test_architecture_features(catalog):
    assert catalog.model("deepseek-v3").mla is not None
    assert catalog.model("deepseek-v3").num_moe_layers == 58  # first 3 of 61 layers dense
    assert sum(catalog.model("gpt-oss-120b").sliding_layers) == 18  # every other layer, window 128
    assert catalog.model("gpt-oss-120b").default_precision == "fp4"
    assert catalog.model("llama-4-maverick").num_moe_layers == 24  # MoE every other layer
    assert catalog.model("llama-4-scout").num_moe_layers == 48
    assert catalog.model("qwen3-235b-a22b").num_kv_heads == 4


def test_hf_config_json_by_path(tmp_path):
    config = {
        "architectures": ["MixtralForCausalLM"],
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "num_hidden_layers": 32,
        "vocab_size": 32000,
        "num_local_experts": 8,
        "num_experts_per_tok": 2,
        "max_position_embeddings": 32768,
    }
    folder = tmp_path / "my-mixtral"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    model = model_from_file(folder)
    assert model.id == "my-mixtral"
    assert model.params_total() == pytest.approx(46.7e9, rel=0.01)


def test_malformed_config_names_file_and_field(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "hidden_size": 4096}))
    with pytest.raises(WafersimError, match=r"config\.json.*num_hidden_layers"):
        model_from_file(path)
    path.write_text("{not json")
    with pytest.raises(WafersimError, match="not valid JSON"):
        model_from_file(path)


def test_invalid_shape_is_rejected():
    with pytest.raises(ValueError, match="num_kv_heads"):
        from_hf_config(
            {
                "architectures": ["LlamaForCausalLM"],
                "hidden_size": 64,
                "num_attention_heads": 6,
                "num_key_value_heads": 4,
                "num_hidden_layers": 2,
                "vocab_size": 10,
                "intermediate_size": 128,
            },
            id="bad",
            source="test",
        )


@pytest.mark.parametrize("model_id", REQUIRED_MODELS)
def test_every_catalog_config_loads_as_a_config_json(catalog, tmp_path, model_id):
    """Each catalog entry is a published config.json; written out as one, it loads to the same shapes."""
    import tomllib

    from wafersim.catalog.toml_io import DATA_DIR

    data = tomllib.loads((DATA_DIR / "models" / f"{model_id}.toml").read_text())
    folder = tmp_path / model_id
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(data["hf_config"]))
    loaded = model_from_file(folder)
    expected = catalog.model(model_id)
    assert loaded.params_total() == expected.params_total()
    assert (loaded.moe, loaded.mla, loaded.sliding_layers) == (
        expected.moe,
        expected.mla,
        expected.sliding_layers,
    )
