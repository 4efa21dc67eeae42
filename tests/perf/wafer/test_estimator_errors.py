"""A model whose single layer outgrows a wafer answers why, with the wafer count a layer-splitting mapping
would need as a lower bound."""

from wafersim.catalog import load_catalog
from wafersim.perf import EstimateRequest, estimate


def test_layer_larger_than_a_wafer_is_explained_with_a_count():
    catalog = load_catalog()
    result = estimate(
        EstimateRequest(model=catalog.model("llama-4-maverick"), system=catalog.system("cs-2"), count=1,
                        input_len=1000, output_len=200, batch=1)
    )  # fmt: skip
    assert not result.fits
    assert "left after the code reserve" in result.reason
    assert "would need at least 25" in result.reason


def test_a_deployment_is_ranked_as_a_whole():
    """Four wafers that each hold the model run four copies: the search must rank the deployment's
    throughput, not one engine's (one placement spread over all four delivered a fifth as much)."""
    catalog = load_catalog()

    def on(count):
        return estimate(
            EstimateRequest(model=catalog.model("llama-3.1-8b"), system=catalog.system("cs-3"), count=count,
                            input_len=1000, output_len=1000)
        )  # fmt: skip

    one, four = on(1), on(4)
    assert four.output_tokens_per_s >= 3.96 * one.output_tokens_per_s
