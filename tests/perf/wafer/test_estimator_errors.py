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
