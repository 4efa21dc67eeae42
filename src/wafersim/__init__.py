"""wafersim: where should a large language model run?

Layers, each using only the ones before it: catalog → fabric → perf → serving → fleet → cli/report (faces).
The names in `__all__` are the stable Python API (see docs/api.md); they take catalog ids or spec objects with
keyword arguments and return frozen results whose `to_dict()` is the matching CLI command's `--json`.

>>> import wafersim
>>> answer = wafersim.estimate(model="llama-3.1-8b", system="h100-sxm", count=1, input_len=1000,
...                            output_len=200, batch=1)
>>> answer.fits
True
"""

from wafersim._exports import lazy
from wafersim.errors import WafersimError

__version__ = "0.1.0"

# The public API, one entry per name: name -> the module that defines it (imported on first use).
_API: dict[str, str] = {
    # catalog: systems and models with sources
    "load_catalog": "wafersim.catalog",
    "Catalog": "wafersim.catalog",
    "ModelSpec": "wafersim.catalog",
    "SystemSpec": "wafersim.catalog",
    # perf: one deployment, or one model on several systems
    "estimate": "wafersim.perf.api",
    "compare": "wafersim.perf.api",
    "validate": "wafersim.perf.api",
    "EstimateRequest": "wafersim.perf.types",
    "Estimate": "wafersim.perf.types",
    "Comparison": "wafersim.perf.api",
    "CostAssumptions": "wafersim.perf.economics",
    # serving: replay a workload, or find the highest rate within SLOs
    "serve": "wafersim.serving.api",
    "capacity": "wafersim.serving.api",
    "ServeResult": "wafersim.serving.api",
    "ServeCapacity": "wafersim.serving.api",
    # fleet: from users and megawatts to systems and dollars
    "plan": "wafersim.fleet.plan",
    "Plan": "wafersim.fleet.result",
    "load_scenario": "wafersim.fleet.scenario",
    # the fabric simulator (wafersim.fabric.run)
    "fabric": "wafersim.fabric",
}

__all__ = [*_API, "WafersimError", "__version__"]
__getattr__, __dir__ = lazy(__name__, _API)
