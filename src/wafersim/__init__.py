"""wafersim: where should a large language model run?

Layers, each using only the ones before it: catalog → fabric → perf → serving → fleet → cli (faces).
The names below are the stable Python API; everything else is reachable through the layer packages.

>>> import wafersim
>>> catalog = wafersim.load_catalog()
>>> answer = wafersim.estimate(wafersim.EstimateRequest(
...     model=catalog.model("llama-3.1-8b"), system=catalog.system("h100-sxm"), count=1,
...     input_len=1000, output_len=200, batch=1))
>>> answer.fits
True
"""

from wafersim.catalog import ModelSpec, SystemSpec, load_catalog
from wafersim.errors import WafersimError
from wafersim.perf import Estimate, EstimateRequest, estimate

__version__ = "0.1.0"
__all__ = [
    "Estimate",
    "EstimateRequest",
    "ModelSpec",
    "SystemSpec",
    "WafersimError",
    "__version__",
    "estimate",
    "load_catalog",
]
